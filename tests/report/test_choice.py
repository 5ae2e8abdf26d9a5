"""The front for the one who chooses: objectives in words, each model against the default, and the choice on record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from metaml import Float, MetamlError, Objective, Study
from metaml.report import export_trial
from metaml.report.choice import choice_sheet, compare, words


def _study(tmp_path: Path) -> Study:
    study = Study.create("c", {"lr": Float(1e-3, 1e-1, log=True)}, ["val_error", "latency_ms"],
                         store=tmp_path / "s.db", seed=0, artifacts=tmp_path / "a")

    def train(config: dict[str, Any]) -> dict[str, float]:
        return {"val_error": config["lr"], "latency_ms": 1.0 / config["lr"]}

    study.enqueue(study.space.default())  # the default configuration, run first: the baseline
    study.optimize(train, 8)
    return study


def test_objectives_are_said_in_words_with_their_unit_and_what_the_limit_leaves_out() -> None:
    error = words(Objective("val_error"))
    assert "misclassified" in error.meaning and error.unit == "fraction, 0 to 1" and error.better == "lower is better"
    latency = words(Objective("latency_ms", limit=5))
    assert latency.unit == "milliseconds" and latency.limit.startswith("at most 5 (milliseconds)")
    own = words(Objective("auc", goal="max", limit=0.8))
    assert own.unit is None and "training function" in own.meaning and own.limit.startswith("at least 0.8")
    assert compare(Objective("val_error"), 0.09, 0.1) == "10% better than the default (0.1)"
    assert compare(Objective("auc", "max"), 0.6, 0.8) == "25% worse than the default (0.8)"
    assert compare(Objective("auc", "max"), 0.7, None) is None


def test_the_sheet_compares_every_front_model_with_the_default_and_a_choice_is_recorded(tmp_path: Path) -> None:
    study = _study(tmp_path)
    sheet = choice_sheet(study)
    assert sheet.default_trial == 0 and sheet.default_metrics is not None
    assert [m.trial for m in sheet.front] == sorted(t.number for t in study.pareto_front())
    assert all(m.versus_default["val_error"] for m in sheet.front)
    pick = sheet.front[-1].trial
    with pytest.raises(MetamlError, match="not on the Pareto front"):
        study.choose(99)
    made = study.choose(pick, author="minister", reason="latency matters more than error here")
    assert (made.action, made.trial, made.author) == ("choose", pick, "minister")
    again = choice_sheet(study)
    assert [m.trial for m in again.front if m.chosen] == [pick] and again.choices[0]["author"] == "minister"
    export_trial(study, pick, tmp_path / "out")
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert "**Chosen** as the trade-off to use by minister" in card and "## Interventions during the search" in card
