"""The final evaluation: each Pareto-front model restored from its checkpoint and scored once on the test split."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from metaml import Study
from metaml.final_evaluation import EVENT, FAILED_EVENT, evaluate_front, score_trials, stored_evaluation
from metaml.pipelines import scoring
from metaml.pipelines.baseline import builtin_pipeline, default_config, enqueue_default
from metaml.pipelines.evaluation import CheckpointTrial
from metaml.pipelines.training import Hooks, fit, pick_device
from metaml.store import Proposal, TrialStatus
from tests.pipelines.conftest import PipelineCase, run_trials

OBJECTIVES = ("val_error", "n_parameters")
FUNCTION = "metaml.pipelines.tabular:train"


def _study(case: PipelineCase, tmp_path: Path, overrides: list[dict[str, Any]]) -> tuple[Study, list[Any]]:
    space = case.space(epochs=2)
    proposals = [Proposal(case.config(o, space), 2) for o in overrides]
    return run_trials(case, space, proposals, tmp_path, objectives=OBJECTIVES)


# Two front members of different sizes; the first keeps an SWA average and a snapshot ensemble,
# so that restoring must rebuild the model whose predictions counted, not the raw weights.
RICH = {"swa": "enabled", "swa.enabled.start": 0.5, "snapshots": "enabled", "snapshots.enabled.cycles": 2}
SMALL = {"backbone.mlp.depth": 1, "backbone.mlp.width": 16}


def test_trials_return_validation_metrics_only(tabular_case: PipelineCase, tmp_path: Path) -> None:
    _, records = _study(tabular_case, tmp_path, [{}])
    assert records[0].status is TrialStatus.COMPLETED, records[0].error
    assert not [k for k in records[0].metrics or {} if k.startswith("test_")]  # the search never sees the test rows


def test_front_is_scored_once_and_stored(tabular_case: PipelineCase, tmp_path: Path) -> None:
    study, records = _study(tabular_case, tmp_path, [RICH, SMALL])
    front = sorted(t.number for t in study.pareto_front())
    final = evaluate_front(study, FUNCTION)
    assert final.status == "evaluated" and list(final.front) == front and list(final.computed) == front
    for number in front:
        metrics = final.results[number]
        assert {"test_error", "test_ece", "test_demographic_parity_difference"} <= set(metrics)
        assert "test_n_parameters" not in metrics and 0.0 <= metrics["test_error"] <= 1.0
    assert len(study.store.events(study.id, [EVENT])) == len(front)
    # again: nothing is computed, nothing is added; the store answers alone
    again = evaluate_front(study, FUNCTION)
    assert again.computed == () and again.results == final.results
    assert len(study.store.events(study.id, [EVENT])) == len(front)
    assert stored_evaluation(Study.load(study.name, study.store.url)).results == final.results


def test_the_restored_model_is_the_one_that_was_validated(tabular_case: PipelineCase, tmp_path: Path) -> None:
    from metaml.pipelines import tabular

    study, (record,) = _study(tabular_case, tmp_path, [RICH])
    cfg = tabular.resolve(record.config)
    data = tabular.prepare(cfg)
    device = pick_device("cpu")
    stand_in = CheckpointTrial(record.number, study.trial_directory(record.number), record.fidelity, 2)
    model = tabular._model(cfg, data, int(cfg["seed"]), device)
    outcome = fit(cfg, stand_in, model, data.train, data.val, Hooks(), int(cfg["seed"]), device)  # type: ignore[arg-type]
    # scored on the validation rows, the restored model gives the trial's own val_error exactly
    assert scoring.score_test(["val_error"], outcome.model, data.val)["test_error"] == record.metrics["val_error"]  # type: ignore[index]


def test_a_missing_checkpoint_names_the_trial_and_does_not_crash(tabular_case: PipelineCase, tmp_path: Path) -> None:
    study, _ = _study(tabular_case, tmp_path, [RICH, SMALL])
    front = sorted(t.number for t in study.pareto_front())
    shutil.rmtree(study.trial_directory(front[0]))
    final = evaluate_front(study, FUNCTION)
    assert final.status == "partial" and front[0] not in final.results
    assert f"trial {front[0]}" in final.errors[front[0]] and "missing" in final.errors[front[0]]
    evaluate_front(study, FUNCTION)  # the same reason is not logged twice
    assert len(study.store.events(study.id, [FAILED_EVENT])) == 1
    assert stored_evaluation(study).errors == final.errors


def test_a_damaged_checkpoint_fails_that_trial_and_the_rest_are_scored(tabular_case: PipelineCase,
                                                                       tmp_path: Path) -> None:
    study, _ = _study(tabular_case, tmp_path, [RICH, SMALL])
    front = sorted(t.number for t in study.pareto_front())
    for path in study.trial_directory(front[0]).rglob("*"):
        if path.is_file():
            path.write_bytes(b"truncated")  # not a MetamlError inside torch.load
    final = evaluate_front(study, FUNCTION)
    assert final.status == "partial" and set(final.results) == set(front[1:])
    assert front[0] in final.errors and final.errors[front[0]]
    assert [e.trial_number for e in study.store.events(study.id, [FAILED_EVENT])] == [front[0]]


def test_a_trial_is_not_scored_on_data_other_than_it_trained_on(tabular_case: PipelineCase, tmp_path: Path) -> None:
    import json

    study, _ = _study(tabular_case, tmp_path, [RICH, SMALL])
    front = sorted(t.number for t in study.pareto_front())
    record = study.trial_directory(front[0]) / "pipeline.json"
    saved = json.loads(record.read_text())
    saved["data"]["content_hash"] = "0" * 16  # as if the file changed after the search
    record.write_text(json.dumps(saved))
    final = evaluate_front(study, FUNCTION)
    assert front[0] not in final.results and set(final.results) == set(front[1:])
    assert "the data changed since it trained" in final.errors[front[0]]


def test_only_new_front_members_are_scored(tabular_case: PipelineCase, tmp_path: Path) -> None:
    study, (first,) = _study(tabular_case, tmp_path, [{}])
    evaluate_front(study, FUNCTION)
    study.store.enqueue(study.id, Proposal(tabular_case.config(SMALL, study.space), 2))
    study.optimize(tabular_case.module.train, budget=2)
    front = {t.number for t in study.pareto_front()}
    assert front - {first.number}, "the small model joins the front (fewer parameters)"
    final = evaluate_front(study, FUNCTION)
    assert set(final.computed) == front - {first.number}


def test_a_user_function_has_no_test_evaluation(tmp_path: Path) -> None:
    study = Study.create("own", {"x": {"type": "float", "lower": 0, "upper": 1}}, ["loss"], store=tmp_path / "s.db")
    final = evaluate_front(study, "quickstart:train")
    assert final.status == "not_builtin" and "quickstart:train" in final.message and "\n" not in final.message
    assert stored_evaluation(study).status == "not_builtin"
    assert score_trials(study, [], "quickstart:train") == {}


def test_the_default_is_enqueued_first_for_built_in_pipelines_only(tabular_case: PipelineCase, tmp_path: Path) -> None:
    space = tabular_case.space(epochs=3)
    study = Study.create("d", space, list(OBJECTIVES), store=tmp_path / "d.db")
    record = enqueue_default(study, FUNCTION)
    assert record is not None and record.number == 0 and record.fidelity == 3
    from metaml.pipelines import tabular

    assert {k: v for k, v in record.config.items() if k in tabular.DEFAULT_CONFIG} == {
        k: v for k, v in tabular.DEFAULT_CONFIG.items() if k in record.config}  # fmt: skip
    assert study.metadata.default_trial is not None and study.metadata.default_trial["number"] == 0
    assert enqueue_default(study, FUNCTION) is None  # a study with trials is never given another
    assert builtin_pipeline("quickstart:train") is None and builtin_pipeline(tabular.train) is tabular.SPEC


def test_a_default_that_does_not_fit_the_fte_budget_is_not_enqueued(tabular_case: PipelineCase, tmp_path: Path) -> None:
    from metaml.budget import Budget

    study = Study.create("small", tabular_case.space(epochs=3), list(OBJECTIVES), store=tmp_path / "d.db")
    assert enqueue_default(study, FUNCTION, Budget(fte=0.5)) is None and study.trials() == []
    (event,) = study.events(["default_skipped"])
    assert "costs 1 FTE, more than the budget of 0.5 FTE" in event.message
    record = enqueue_default(study, FUNCTION, Budget(fte=1, trials=5))  # one full run fits exactly
    assert record is not None and record.fidelity == 3


def test_a_default_outside_a_narrowed_space_is_not_enqueued() -> None:
    from metaml.pipelines import tabular
    from metaml.space import Float, Space

    config, why = default_config(tabular.SPEC, Space({"lr": Float(0.01, 0.1, log=True)}))
    assert config is None and "'lr'" in why


def test_a_checkpoint_at_another_epoch_is_refused(tabular_case: PipelineCase, tmp_path: Path) -> None:
    study, (record,) = _study(tabular_case, tmp_path, [{}])
    from metaml.pipelines import PipelineError, tabular

    stand_in = CheckpointTrial(record.number, study.trial_directory(record.number), 3, 3)  # it finished at epoch 2
    with pytest.raises(PipelineError, match="holds epoch 2"):
        tabular.evaluate(record.config, stand_in)


def test_the_vision_pipeline_is_scored_on_its_test_images(vision_case: PipelineCase, tmp_path: Path) -> None:
    space = vision_case.space(epochs=1)
    study, _ = run_trials(vision_case, space, [Proposal(vision_case.config({}, space), 1)], tmp_path)
    final = evaluate_front(study, "metaml.pipelines.vision:train")
    assert final.status == "evaluated" and {"test_error", "test_ece"} <= set(final.results[0])


def test_a_built_in_pipeline_without_a_test_split_is_not_called_a_user_function(tmp_path: Path) -> None:
    study = Study.create("rl", {"x": {"type": "float", "lower": 0, "upper": 1}}, ["loss"], store=tmp_path / "s.db")
    final = evaluate_front(study, "metaml.pipelines.rl:train")
    assert final.status == "not_builtin" and "the rl pipeline has no held-out test split" in final.message
    assert "user function" not in final.message
