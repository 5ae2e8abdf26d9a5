"""benchmarks.pbt on the vision pipeline: the space every method searches and the table of results."""

from __future__ import annotations

from pathlib import Path

from benchmarks.pbt import VISION_FULL, VISION_METHODS, vision_run, vision_space, vision_table


def test_every_method_searches_the_same_schedulable_space() -> None:
    space = vision_space(3)
    config = space.default()
    assert config["seed"] == 3 and config["dataset"] == "digits" and config["backbone"] == "cnn"
    assert space.parameters["lr"].schedulable
    assert space.parameters["weight_decay.enabled.strength"].schedulable
    assert space.fidelity is not None and space.fidelity.upper == VISION_FULL
    assert set(VISION_METHODS) == {"pbt", "bohb", "random (fixed values)"}


def test_the_table_gives_the_mean_and_spread_of_each_method() -> None:
    rows = [{"method": "pbt", "seed": s, "val_error": v, "test_error": t, "fte": 8.0, "trials": 72, "seconds": 100.0}
            for s, (v, t) in enumerate([(0.02, 0.03), (0.04, 0.05)])]  # fmt: skip
    rows.append({"method": "bohb", "seed": 0, "val_error": None, "test_error": None, "fte": 8.0, "trials": 40,
                 "seconds": 90.0})  # fmt: skip
    table = vision_table(rows, ["pbt", "bohb"])
    assert "| pbt | 0.0300 ± 0.0141 | 0.0400 ± 0.0141 | 8.00 | 72 | 100 |" in table
    assert "| bohb | none | none |" in table


def test_a_vision_study_runs_and_scores_its_best_model_on_test(tmp_path: Path) -> None:
    row = vision_run("random (fixed values)", 0, 1.0, tmp_path)
    assert row["fte"] == 1.0 and row["trials"] == 1
    assert row["val_error"] is not None and 0.0 <= row["test_error"] <= 1.0
    assert row["config"]["backbone.cnn.width"] == 16
