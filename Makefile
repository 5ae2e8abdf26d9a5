# Set-up and the two everyday commands: `make demo` (the quickstart, tuned with Hyperband) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch is installed first and explicitly, so that no multi-GB CUDA build is pulled in.
TORCH_SPEC ?= torch==2.13.0
# What the tests need beyond the core: `make demo` installs only the core (`pip install metaml`).
EXTRAS ?= dev,postgres,bench,ray,peers,integrations,dashboard,text,rl,data

.PHONY: demo test lint typecheck unit slow venv venv-core clean bench-lcbench bench-compare bench-scaling bench-pipelines

venv: $(VENV)/.installed
venv-core: $(VENV)/.installed-core

# The core alone: torch, then metaml without extras (what the demo and the built-in pipelines need), as
# `pip install metaml` installs it (not editable: setuptools prints a banner for every editable mode).
$(VENV)/.installed-core: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q .
	touch $@

# Everything the tests and benchmarks use, on top of the core, installed editable (the working tree).
$(VENV)/.installed: pyproject.toml $(VENV)/.installed-core
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

## The main job: run (or resume) the quickstart with multi-objective Hyperband, which promotes the best
## runs by continuing their checkpoints, and print its Pareto front.
demo: venv-core
	$(BIN)/metaml run examples/quickstart_hyperband.yaml

## Everything CI checks: lint, types, and the default (not slow) tests.
test: lint typecheck unit

lint: venv
	$(BIN)/ruff check metaml tests benchmarks examples

typecheck: venv
	$(BIN)/mypy

# In one process per core (at most 4; TEST_WORKERS=0 runs them in this one), so that the default run stays
# under 10 minutes: 451 s and 517 s on two clean clones on the 2-core workplace machine, 533 s on CI (2026-12-07);
# 605 s and 611 s on a later clean clone; 554 s once the chaos test of SQLite (18 s) moved to `make slow`.
TEST_WORKERS ?= auto
unit: venv
	$(BIN)/python -m pytest -m "not slow" -q -n $(TEST_WORKERS) --maxprocesses 4

slow: venv
	$(BIN)/python -m pytest -m slow -q

## Benchmarks (long; not part of the tests). Figures and commands: docs/benchmarks.md.
bench-lcbench: venv
	$(BIN)/python -m benchmarks run --problem lcbench --optimizers random,hyperband,asha,priorband --seeds 10 --budget-fte 30

bench-compare: venv
	$(BIN)/python -m benchmarks compare --suite lcbench-dev --seeds 10

bench-scaling: venv
	$(BIN)/python -m benchmarks.scaling

bench-pipelines: venv
	$(BIN)/python -m benchmarks.pipelines

clean:
	rm -rf runs examples/runs .pytest_cache .mypy_cache .ruff_cache
