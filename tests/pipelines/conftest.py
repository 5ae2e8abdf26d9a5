"""Fixtures for the built-in pipelines: a tiny table, tiny image slices, and a way to run trials.

Every test trains on a slice small enough for an epoch to take a fraction of a second: a
generated 160-row table (numeric and categorical columns with missing values, a sensitive
group, one column in the hundred-thousands that only scaling tames), 64 of the digits, and
64 generated sentences on an untrained 32-wide stand-in of the text encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metaml import Study
from metaml.space import Space
from metaml.store import Proposal, TrialRecord


def write_tiny_table(path: Path, rows: int = 160, seed: int = 0) -> Path:
    """A binary classification CSV with every kind of column the tabular pipeline handles."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, rows)
    hours = rng.normal(38, 8, rows)
    income = rng.lognormal(11, 0.5, rows)  # ~60,000: diverges without scaling at a high learning rate
    colour = rng.choice(["red", "green", "blue"], rows)
    job = rng.choice(["a", "b", "c", "d"], rows)
    group = rng.choice(["x", "y"], rows)
    score = 0.08 * (age - 40) + 0.05 * (hours - 38) + (colour == "red") - 0.5 * (group == "y")
    label = (score + rng.normal(0, 0.7, rows) > 0).astype(int)
    frame = pd.DataFrame(
        {"age": age, "hours": hours, "income": income, "colour": colour, "job": job, "group": group, "label": label}
    )
    frame.loc[rng.random(rows) < 0.1, "age"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "colour"] = np.nan
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_table(tmp_path_factory.mktemp("table") / "tiny.csv")


@dataclass(frozen=True)
class PipelineCase:
    """One pipeline with the settings that make it train on a tiny slice."""

    name: str
    module: Any
    settings: dict[str, Any]

    def space(self, epochs: int = 4, **extra: Any) -> Space:
        build: Callable[..., Any] = getattr(self.module, f"{self.name}_space")
        return Space(build(**{**self.settings, **extra}, epochs=epochs))

    def config(self, overrides: Mapping[str, Any], space: Space) -> dict[str, Any]:
        """The default config with ``overrides``, completed by the pipeline and checked against ``space``."""
        full = self.module.resolve({**self.settings, **overrides})
        return space.validate({k: v for k, v in full.items() if k in space.parameters})


TABULAR_METRICS = ["ece", "n_parameters", "demographic_parity_difference"]


@pytest.fixture(scope="session")
def tabular_case(tiny_table: Path) -> PipelineCase:
    from metaml.pipelines import tabular

    settings = {"dataset": str(tiny_table), "target": "label", "sensitive": "group", "threads": 1,
                "metrics": TABULAR_METRICS}  # fmt: skip
    return PipelineCase("tabular", tabular, settings)


@pytest.fixture(scope="session")
def vision_case() -> PipelineCase:
    from metaml.pipelines import vision

    return PipelineCase("vision", vision, {"dataset": "digits", "train_rows": 64, "threads": 1,
                                           "metrics": ["ece", "n_parameters"]})  # fmt: skip


@pytest.fixture(scope="session")
def text_case() -> PipelineCase:
    """The text pipeline on the untrained stand-in encoder (no wheel needed) and 64 generated sentences."""
    pytest.importorskip("transformers", reason="the text pipeline needs transformers: pip install 'metaml[text]'")
    pytest.importorskip("peft", reason="the text pipeline's LoRA needs peft: pip install 'metaml[text]'")
    from metaml.pipelines import text

    return PipelineCase("text", text, {"dataset": "toy_sentiment", "encoder": "tiny", "train_rows": 64,
                                       "threads": 1, "metrics": ["ece", "n_parameters"]})  # fmt: skip


@pytest.fixture(params=["tabular", "vision", "text"])
def case(request: pytest.FixtureRequest) -> PipelineCase:
    return request.getfixturevalue(f"{request.param}_case")  # type: ignore[no-any-return]


def run_trials(
    case: PipelineCase,
    space: Space,
    proposals: Sequence[Proposal],
    tmp_path: Path,
    objectives: Sequence[str] = ("val_error",),
) -> tuple[Study, list[TrialRecord]]:
    """Queue ``proposals`` in a fresh study and run exactly those trials, in order."""
    study = Study.create(f"{case.name}-test", space, list(objectives), store=tmp_path / "study.db", seed=0)
    for proposal in proposals:
        study.store.enqueue(study.id, proposal)
    records = study.optimize(case.module.train, budget=len(proposals))
    return study, sorted(records, key=lambda r: r.number)
