"""ASHA: promotions as results arrive (in any order), and the early-stopping variant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from metaml.core.records import Observation, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers.asha import ASHA
from metaml.space import Fidelity, Float, Space

LOSS = (Objective("loss"),)
SPACE = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})  # ladder 1, 3, 9


def stop(opt: ASHA, trial: TrialRecord, curve: Sequence[Observation], history: Sequence[TrialRecord],
         others: Sequence[Observation] = ()) -> str | None:
    """ASHA's answer for ``trial`` with ``curve`` and the other trials' points ``others`` in the view."""
    return opt.should_stop(StudyView.of(history, [*curve, *others]), trial)


def done(t: TrialRecord, loss: float | None, status: TrialStatus = TrialStatus.COMPLETED) -> TrialRecord:
    return replace(t, status=status, metrics=None if loss is None else {"loss": loss})


def start(opt: ASHA, history: list[TrialRecord], make_record) -> TrialRecord:
    proposal = opt.propose(StudyView.of(history))
    history.append(make_record(len(history), proposal, TrialStatus.RUNNING))
    return history[-1]


def test_asha_promotes_as_soon_as_a_trial_is_in_the_top_third_of_its_finished_rung(make_record) -> None:
    opt = ASHA(SPACE, LOSS)
    history: list[TrialRecord] = []
    for _ in range(3):
        assert start(opt, history, make_record).fidelity == 1
    history[1], history[2] = done(history[1], 0.5), done(history[2], 0.2)
    # Two finished, one running: no one is in the top 1/3 of a rung of 2 yet; ASHA never waits.
    fresh = start(opt, history, make_record)
    assert fresh.fidelity == 1 and fresh.continue_from is None
    history[0] = done(history[0], 0.9)  # finishes last, out of order
    promoted = start(opt, history, make_record)
    assert (promoted.continue_from, promoted.fidelity) == (2, 3)
    assert promoted.config == history[2].config and promoted.info["config_id"] == 2
    assert "top 1/3 of 3 (rank 1)" in opt.propose(StudyView.of(history[:-1])).reason
    # Trial 2 is taken; with three finished the top third holds nobody else.
    assert start(opt, history, make_record).continue_from is None
    # A late, better result makes the top third of the five finished and is promoted next.
    history[3] = done(history[3], 0.1)
    history[5] = done(history[5], 0.7)
    nxt = start(opt, history, make_record)
    assert (nxt.continue_from, nxt.fidelity) == (3, 3)


def test_asha_never_promotes_a_failed_trial(make_record) -> None:
    opt = ASHA(SPACE, LOSS)
    history: list[TrialRecord] = []
    for _ in range(3):
        start(opt, history, make_record)
    history[0] = done(history[0], None, TrialStatus.FAILED)
    history[1] = done(history[1], None, TrialStatus.LOST)
    history[2] = done(history[2], 0.4, TrialStatus.PRUNED)
    proposal = opt.propose(StudyView.of(history))
    assert proposal.continue_from is None and proposal.fidelity == 1


def test_asha_promotes_from_the_highest_rung_first(make_record) -> None:
    opt = ASHA(SPACE, LOSS)
    history: list[TrialRecord] = []
    for _ in range(9):
        start(opt, history, make_record)
    history[:9] = [done(t, float(t.number)) for t in history[:9]]
    for _ in range(3):  # trials 0, 1, 2 promoted to 3 epochs
        start(opt, history, make_record)
    assert [t.continue_from for t in history[9:]] == [0, 1, 2]
    history[9:] = [done(t, 1.0 - t.number / 100) for t in history[9:]]
    top = opt.propose(StudyView.of(history))
    assert (top.continue_from, top.fidelity) == (11, 9)


# ----------------------------------------------------------------- stopping
def curve(number: int, *points: tuple[float, float]) -> list[Observation]:
    return [Observation(number, step, {"loss": loss}, 0.0) for step, loss in points]


@pytest.fixture
def stopping(make_record) -> tuple[ASHA, list[TrialRecord]]:
    opt = ASHA(SPACE, LOSS, stopping=True)
    history: list[TrialRecord] = []
    for _ in range(5):
        t = start(opt, history, make_record)
        assert t.fidelity == 9 and t.continue_from is None and t.info["stopping"] is True
    return opt, history


def test_the_stopping_variant_stops_a_trial_behind_its_peers_at_a_rung(stopping) -> None:
    opt, history = stopping
    peers = curve(0, (1, 0.1), (2, 0.1)) + curve(1, (1, 0.2)) + curve(2, (1, 0.3))
    late = history[3]
    reason = stop(opt, late, curve(3, (1, 0.9)), history, others=peers)
    assert reason == "stopped at rung 1 epochs: rank 4 of 4 trials that reached it, only the top 1/3 (1) go on"
    assert stop(opt, late, curve(3, (1, 0.05)), history, others=peers) is None
    # The whole study's observations may come in ``curve`` alone: the trial's own are picked by number.
    assert stop(opt, late, peers + curve(3, (1, 0.9)), history) == reason


def test_the_stopping_variant_judges_only_when_a_rung_is_crossed(stopping) -> None:
    opt, history = stopping
    peers = curve(0, (1, 0.1), (3, 0.1)) + curve(1, (1, 0.2), (3, 0.2)) + curve(2, (1, 0.3), (3, 0.3))
    late = history[3]
    assert stop(opt, late, curve(3, (1, 0.05), (2, 0.9)), history, others=peers) is None  # between rungs
    reason = stop(opt, late, curve(3, (1, 0.05), (2, 0.9), (3, 0.9)), history, others=peers)
    assert reason is not None and "rung 3 epochs" in reason
    # A report that skips past a rung is judged there, with the value it first reported beyond it.
    assert stop(opt, late, curve(3, (2, 0.05), (4, 0.9)), history, others=peers).startswith("stopped at rung 3")


def test_the_stopping_variant_lets_trials_go_on_with_too_few_peers(stopping) -> None:
    opt, history = stopping
    assert stop(opt, history[1], curve(1, (1, 0.9)), history, others=curve(0, (1, 0.1))) is None


def test_without_peer_curves_only_trials_that_ended_at_the_rung_are_known(stopping) -> None:
    opt, history = stopping
    history[0] = replace(done(history[0], 0.1, TrialStatus.PRUNED), end_step=1.0)
    history[1] = replace(done(history[1], 0.2, TrialStatus.PRUNED), end_step=1.0)
    history[2] = replace(done(history[2], 0.05), end_step=9.0)  # went on: its value at 1 epoch is unknown
    assert stop(opt, history[3], curve(3, (1, 0.9)), history).startswith("stopped at rung 1")
    assert stop(opt, history[3], curve(3, (1, 0.05)), history) is None


def test_stopping_must_be_a_boolean() -> None:
    with pytest.raises(OptimizerError, match="stopping must be true or false"):
        ASHA(SPACE, LOSS, stopping="yes")  # type: ignore[arg-type]


def test_promotion_asha_never_stops_trials(make_record) -> None:
    opt = ASHA(SPACE, LOSS)
    history: list[TrialRecord] = []
    t = start(opt, history, make_record)
    assert stop(opt, t, curve(0, (1, 99.0)), history, others=curve(5, (1, 0.0))) is None
