"""Studies for report tests, built through the API with synthetic metrics: no training, seconds at most."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer

from metaml import Study

#: The quickstart's space: nesting, conditions, log scales, a fidelity.
SPACE: dict[str, Any] = {
    "width": {"type": "int", "lower": 16, "upper": 256, "log": True},
    "depth": {"type": "int", "lower": 1, "upper": 3},
    "activation": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]},
    "optimizer": {
        "type": "categorical",
        "choices": {
            "sgd": {"momentum": {"type": "float", "lower": 0.0, "upper": 0.99},
                    "nesterov": {"type": "categorical", "choices": [True, False]}},
            "adam": {"beta1": {"type": "float", "lower": 0.8, "upper": 0.99}},
        },
    },
    "lr": {"type": "float", "lower": 1e-4, "upper": 0.3, "log": True},
    "dropout": {"type": "float", "lower": 0.0, "upper": 0.5},
    "epochs": {"type": "fidelity", "lower": 1, "upper": 9},
}

YAML = """\
name: {name}
description: synthetic study for the report tests
function: synthetic:train
seed: 0
budget: {{trials: {trials}}}
"""


def synthetic(config: Mapping[str, Any], step: float, full: float) -> dict[str, float]:
    """Error falls with training and depends mostly on the learning rate; size grows with width and depth."""
    lr_term = (math.log10(config["lr"]) + 2.0) ** 2  # best near lr = 0.01
    opt_term = 0.0 if config["optimizer"] == "adam" else 0.15
    error = 0.05 + 0.08 * lr_term + opt_term + 0.05 * config["dropout"] + 0.3 * (1.0 - step / full) ** 2
    size = float(config["width"] * config["depth"] * 64 + 10)
    return {"val_error": error, "n_params": size, "latency_ms": 0.01 * size + config["depth"]}


def build_study(
    tmp_path: Path,
    n_trials: int,
    *,
    name: str = "synthetic",
    objectives: Any = ("val_error", "n_params"),
    optimizer: Any = "hyperband",
    fail_every: int = 0,
    space: Mapping[str, Any] = SPACE,
    metrics: Callable[[Mapping[str, Any], float, float], dict[str, float]] = synthetic,
    curves: bool = True,
    info: Mapping[str, Any] | None = None,
    default: Mapping[str, Any] | None = None,
) -> Study:
    """A study of ``n_trials`` finished trials: ask, report a curve, tell (some fail on purpose).

    With ``default``, trial 0 runs that configuration at full fidelity and the study's info
    records it as a pipeline's default, as ``metaml run`` does for a built-in pipeline.
    """
    study = Study.create(
        name, space, list(objectives), store=tmp_path / f"{name}.db", optimizer=optimizer, seed=0,
        info={"study_yaml": YAML.format(name=name, trials=n_trials), **dict(info or {})},
    )
    if default is not None:
        queued = study.enqueue(default, reason="the pipeline's default")
        study.store.update_study_info(study.id, {"default_trial": {
            "number": queued.number, "config": dict(queued.config), "pipeline": "synthetic"}})
    full = study.space.fidelity.upper if study.space.fidelity else 1.0
    rng = np.random.default_rng(0)
    for _ in range(n_trials):
        trial = study.ask("test:1")
        assert trial is not None
        if trial.continue_from is not None:
            # A promotion continues its parent: it trains (and pays for) the missing steps only.
            trial.start_step = float(study.store.trial(study.id, trial.continue_from).fidelity or 0.0)
        if fail_every and trial.number % fail_every == fail_every - 1:
            study.tell(trial, error=RuntimeError(f"CUDA out of memory at step {trial.number} (0x{trial.number:x})"))
            continue
        end = trial.fidelity or full
        if curves:
            for step in range(int(trial.start_step) + 1, int(end) + 1):
                trial.report(step, **{k: v + 0.01 * rng.random() for k, v in metrics(trial.config, step, full).items()})
        study.tell(trial, metrics(trial.config, end, full))
    return study


@pytest.fixture
def make_study(tmp_path: Path) -> Callable[..., Study]:
    def make(n_trials: int = 20, **kwargs: Any) -> Study:
        return build_study(tmp_path, n_trials, **kwargs)

    return make


@pytest.fixture
def cli() -> typer.Typer:
    """A Typer app with the report commands, as the main CLI registers them."""
    from metaml.cli import report_cmds

    app = typer.Typer()
    app.command()(report_cmds.report)
    app.command()(report_cmds.export)
    return app
