"""A known metric named as an objective is computed without being listed in the ``metrics`` setting too."""

from __future__ import annotations

from pathlib import Path

from metaml.final_evaluation import evaluate_front
from metaml.store import Proposal, TrialStatus
from tests.pipelines.conftest import PipelineCase, run_trials


def test_an_objective_metric_is_computed_although_the_setting_does_not_list_it(
    vision_case: PipelineCase, tmp_path: Path
) -> None:
    space = vision_case.space(epochs=2, metrics=["ece"])
    config = vision_case.config({"metrics": ["ece"]}, space)
    _, (record,) = run_trials(vision_case, space, [Proposal(config, 1)], tmp_path, objectives=("val_error", "n_parameters"))
    assert record.status is TrialStatus.COMPLETED, record.error
    metrics = record.metrics or {}
    assert metrics["n_parameters"] > 0 and "ece" in metrics
    assert "latency_ms" not in metrics  # only what is listed or named as an objective


def test_the_front_is_scored_on_the_test_split_for_the_objective_metric_too(
    tabular_case: PipelineCase, tmp_path: Path
) -> None:
    space = tabular_case.space(epochs=2, metrics=[])
    config = tabular_case.config({"metrics": []}, space)
    study, (record,) = run_trials(tabular_case, space, [Proposal(config, 2)], tmp_path,
                                  objectives=("val_error", "demographic_parity_difference"))  # fmt: skip
    assert record.status is TrialStatus.COMPLETED, record.error
    gap = (record.metrics or {})["demographic_parity_difference"]
    assert 0.0 <= gap <= 1.0
    final = evaluate_front(study, "metaml.pipelines.tabular:train")
    assert final.status == "evaluated", final.message
    test = final.results[record.number]
    assert {"test_error", "test_demographic_parity_difference"} <= set(test)
    assert 0.0 <= test["test_demographic_parity_difference"] <= 1.0


def test_an_objective_metric_that_needs_groups_without_a_sensitive_column_fails_before_training(
    vision_case: PipelineCase, tmp_path: Path
) -> None:
    space = vision_case.space(epochs=2)
    config = vision_case.config({}, space)
    study, (record,) = run_trials(vision_case, space, [Proposal(config, 1)], tmp_path,
                                  objectives=("val_error", "demographic_parity_difference"))  # fmt: skip
    assert record.status is TrialStatus.FAILED and "sensitive" in (record.error or "")
    assert not (study.trial_directory(record.number) / "checkpoint.pt").exists()
