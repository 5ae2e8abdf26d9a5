# Set-up and the two everyday commands: `make demo` (the quickstart study) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch is installed first and explicitly, so that no multi-GB CUDA build is pulled in.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,postgres,bench,ray,peers

.PHONY: demo test lint typecheck unit slow venv clean bench-lcbench bench-compare bench-scaling bench-pipelines

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

## The main job: run (or resume) the quickstart study and print its Pareto front.
demo: venv
	$(BIN)/metaml run examples/quickstart.yaml
	$(BIN)/metaml pareto examples/quickstart.yaml

## Everything CI checks: lint, types, and the default (not slow) tests.
test: lint typecheck unit

lint: venv
	$(BIN)/ruff check metaml tests benchmarks examples

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest -m "not slow" -q

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
