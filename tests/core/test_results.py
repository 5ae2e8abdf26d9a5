"""The study's answers (front, best, cost, hypervolume) come from one set of pure functions, and the
study's one full fidelity is the optimizer's ladder top everywhere (schedules, cost, front)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from metaml import Fidelity, Float, Study
from metaml.core.metadata import StudyMetadata
from metaml.core.records import TrialRecord, TrialStatus
from metaml.objectives import Objective
from metaml.results import StudyResults, is_final
from metaml.space import Space

LOSS_SIZE = (Objective("loss"), Objective("size", limit=10.0))


def _trial(number: int, loss: float, size: float, fidelity: float = 9, status: TrialStatus = TrialStatus.COMPLETED,
           cost: float = 1.0, ended: float | None = None) -> TrialRecord:
    return TrialRecord(study_id=1, number=number, config={"x": loss}, fidelity=fidelity, continue_from=None,
                       status=status, metrics={"loss": loss, "size": size}, cost_fte=cost,
                       ended_at=float(number) if ended is None else ended)


def test_the_front_holds_full_runs_within_the_limits_that_nothing_dominates() -> None:
    trials = (
        _trial(0, 0.5, 5.0),
        _trial(1, 0.4, 8.0),
        _trial(2, 0.6, 6.0),  # dominated by 0
        _trial(3, 0.1, 20.0),  # over the size limit
        _trial(4, 0.05, 1.0, fidelity=3),  # not a full run
        _trial(5, 0.01, 1.0, status=TrialStatus.FAILED),
    )
    results = StudyResults(trials, LOSS_SIZE, 9.0)
    assert [t.number for t in results.final] == [0, 1, 2, 3]
    assert [t.number for t in results.front] == [0, 1]
    assert results.best().number == 1 and results.best("size").number == 0  # type: ignore[union-attr]
    assert results.cost_fte == pytest.approx(6.0)
    assert results.hypervolume > 0 and results.front_note() is None


def test_an_empty_front_says_why() -> None:
    assert StudyResults((), LOSS_SIZE, 9.0).front_note() == "no trial has completed at full fidelity yet"
    over = StudyResults((_trial(0, 0.1, 20.0),), LOSS_SIZE, 9.0)
    assert over.front == [] and over.best() is None and over.hypervolume == 0.0
    assert over.front_note() == "none of the 1 full-fidelity trials respects every limit yet"


def test_a_run_to_the_ladder_top_is_a_full_run_even_below_the_space_bound() -> None:
    t = _trial(0, 0.5, 5.0, fidelity=9)
    assert is_final(t, LOSS_SIZE, 9.0) and not is_final(t, LOSS_SIZE, 27.0)


def _seen_fidelities(config: dict[str, Any], trial: Any) -> dict[str, float]:
    seen = trial.max_fidelity
    for step in range(int(trial.restore() or 0) + 1, int(trial.fidelity) + 1):
        trial.report(step, loss=config["x"] / step)
    return {"loss": config["x"] / trial.fidelity, "max_fidelity": float(seen)}


def test_the_study_has_one_full_fidelity_the_ladder_top(tmp_path: Path) -> None:
    """Fidelity(1, 27) with hyperband max_fidelity 9: every trial's schedule, the cost and the front use 9."""
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 27)})
    study = Study.create("one-full", space, "loss", store=tmp_path / "s.db", seed=0,
                         optimizer={"name": "hyperband", "max_fidelity": 9})
    assert study.full_fidelity == 9
    study.optimize(_seen_fidelities, budget={"fte": 3})
    done = study.trials([TrialStatus.COMPLETED])
    assert done and {t.metrics["max_fidelity"] for t in done if t.metrics} == {9.0}
    assert max(t.fidelity or 0 for t in done) == 9
    full = [t for t in done if t.fidelity == 9 and t.continue_from is None]
    assert all(t.cost_fte == pytest.approx(1.0) for t in full)
    assert study.pareto_front() and all(t.fidelity == 9 for t in study.pareto_front())
    assert study.enqueue({"x": 0.5}).fidelity == 9


def test_metadata_is_typed_keeps_unknown_keys_and_refuses_misspelt_fields(tmp_path: Path) -> None:
    study = Study.create("meta", Space({"x": Float(0.0, 1.0)}), "loss", store=tmp_path / "s.db",
                         info={"description": "digits", "team": "vision"})
    meta = study.metadata
    assert meta.description == "digits" and meta.uid == study.uid and meta.extra == {"team": "vision"}
    study.update_metadata(reference_point=(1.0, 2.0))
    assert study.metadata.reference_point == (1.0, 2.0)
    assert study.store.get_study("meta").info["reference_point"] == [1.0, 2.0]  # kept as JSON
    with pytest.raises(TypeError, match="refrence_point"):
        study.update_metadata(refrence_point=(1.0,))
    info = StudyMetadata.from_info({"uid": "u", "written_by_a_later_version": 3}).to_info()
    assert info == {"uid": "u", "written_by_a_later_version": 3}


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "3", True])
def test_a_bad_seed_is_refused_at_creation_with_what_is_allowed(tmp_path: Path, seed: Any) -> None:
    from metaml.errors import MetamlError

    with pytest.raises(MetamlError, match="seed must be a whole number from 0"):
        Study.create("s", Space({"x": Float(0.0, 1.0)}), "loss", store=tmp_path / "s.db", seed=seed)
