"""one_epoch (Egele et al. 2023): many configurations for one epoch, the best few continued to the end."""

from __future__ import annotations

from dataclasses import replace

import pytest

from metaml.core.records import Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.space import Fidelity, Float, Space

SPACE = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 20)})
LOSS = (Objective("loss"),)


def ran(number: int, proposal: Proposal, loss: float | None, status: TrialStatus = TrialStatus.COMPLETED) -> TrialRecord:
    return TrialRecord(study_id=1, number=number, config=dict(proposal.config), fidelity=proposal.fidelity,
                       continue_from=proposal.continue_from, status=status,
                       metrics=None if loss is None else {"loss": loss}, info=dict(proposal.info))


def test_after_each_round_the_best_first_epochs_continue_to_the_full_fidelity() -> None:
    opt = make_optimizer({"name": "one_epoch", "per_round": 4, "top_k": 2}, SPACE, LOSS, 0)
    history: list[TrialRecord] = []
    losses = [0.5, 0.2, 0.9, 0.1]
    for loss in losses:
        p = opt.propose(StudyView.of(history))
        assert p is not None and p.fidelity == 1 and p.continue_from is None
        history.append(ran(len(history), p, loss))
    first, second = opt.propose(StudyView.of(history)), None
    assert first is not None and first.continue_from == 3 and first.fidelity == 20  # the best first epoch: 0.1
    history.append(ran(len(history), first, 0.05))
    second = opt.propose(StudyView.of(history))
    assert second is not None and second.continue_from == 1 and second.config == history[1].config
    history.append(ran(len(history), second, 0.15))
    third = opt.propose(StudyView.of(history))
    assert third is not None and third.continue_from is None and third.fidelity == 1  # the next round starts


def test_a_failed_first_epoch_is_never_continued() -> None:
    opt = make_optimizer({"name": "one_epoch", "per_round": 2, "top_k": 1}, SPACE, LOSS, 0)
    p0 = opt.propose(StudyView())
    assert p0 is not None
    history = [ran(0, p0, None, TrialStatus.FAILED)]
    p1 = opt.propose(StudyView.of(history))
    assert p1 is not None
    history.append(ran(1, p1, float("nan")))
    history[1] = replace(history[1], metrics={"loss": float("nan")})
    nxt = opt.propose(StudyView.of(history))
    assert nxt is not None and nxt.continue_from is None  # nothing promotable: a new configuration


def test_one_epoch_refuses_a_space_without_fidelity_and_bad_settings() -> None:
    with pytest.raises(OptimizerError, match="Fidelity"):
        make_optimizer("one_epoch", Space({"x": Float(0.0, 1.0)}), LOSS, 0)
    with pytest.raises(OptimizerError, match="top_k"):
        make_optimizer({"name": "one_epoch", "per_round": 2, "top_k": 3}, SPACE, LOSS, 0)
    with pytest.raises(OptimizerError, match="per_round"):
        make_optimizer({"name": "one_epoch", "per_round": 0}, SPACE, LOSS, 0)


def _screened(opt_spec: dict, curves: list[list[float]]) -> tuple[object, StudyView]:
    """One round of screens at 4 of 20 epochs whose curves (epochs 1..4) are ``curves``; the next proposal."""
    from metaml.core.records import Observation

    opt = make_optimizer({"name": "one_epoch", "per_round": len(curves), "min_fidelity": 4, **opt_spec}, SPACE, LOSS, 0)
    history: list[TrialRecord] = []
    points: list[Observation] = []
    for curve in curves:
        p = opt.propose(StudyView.of(history, points))
        assert p is not None and p.fidelity == 4
        number = len(history)
        history.append(ran(number, p, curve[-1]))
        points += [Observation(number, float(step), {"loss": v}, 0.0) for step, v in enumerate(curve, start=1)]
    view = StudyView.of(history, points)
    return opt.propose(view), view


#: A flat curve, best at the screen, and one that is worse there but still falls fast.
FLAT, FALLING = [0.32, 0.31, 0.30, 0.30], [0.9, 0.6, 0.45, 0.35]


def test_rank_by_trend_continues_the_curve_heading_lowest_not_the_lowest_now() -> None:
    by_value, _ = _screened({}, [FLAT, FALLING])
    assert by_value.continue_from == 0 and "by its value" in by_value.reason
    by_trend, _ = _screened({"rank_by": "trend"}, [FLAT, FALLING])
    assert by_trend.continue_from == 1 and by_trend.fidelity == 20 and "by its trend" in by_trend.reason
    assert by_trend.info["trend"]["loss"] < 0.30 < 0.35  # its estimate at 20 beats the flat curve's value


def test_rank_by_trend_ranks_a_trial_without_a_curve_by_its_value() -> None:
    from metaml.core.records import Observation

    opt = make_optimizer({"name": "one_epoch", "per_round": 2, "min_fidelity": 4, "rank_by": "trend"}, SPACE, LOSS, 0)
    p0 = opt.propose(StudyView())
    history = [ran(0, p0, 0.30)]  # reported no curve
    p1 = opt.propose(StudyView.of(history))
    history.append(ran(1, p1, 0.35))
    points = [Observation(1, float(s), {"loss": v}, 0.0) for s, v in enumerate([0.36, 0.355, 0.352, 0.35], 1)]
    nxt = opt.propose(StudyView.of(history, points))
    assert nxt is not None and nxt.continue_from == 0  # 0.30 as it stands beats the slowly falling 0.35


def test_rank_by_must_be_known() -> None:
    with pytest.raises(OptimizerError, match="rank_by must be one of value, trend"):
        make_optimizer({"name": "one_epoch", "rank_by": "slope"}, SPACE, LOSS, 0)


def test_rank_by_trend_with_two_objectives_ranks_the_trends_by_pareto_rank() -> None:
    from metaml.core.records import Observation

    objectives = (Objective("loss"), Objective("size"))
    opt = make_optimizer({"name": "one_epoch", "per_round": 2, "min_fidelity": 4, "rank_by": "trend"}, SPACE,
                         objectives, 0)
    history: list[TrialRecord] = []
    points: list[Observation] = []
    for curve in (FLAT, FALLING):
        p = opt.propose(StudyView.of(history, points))
        number = len(history)
        history.append(replace(ran(number, p, curve[-1]), metrics={"loss": curve[-1], "size": 1.0}))
        points += [Observation(number, float(s), {"loss": v}, 0.0) for s, v in enumerate(curve, start=1)]
    nxt = opt.propose(StudyView.of(history, points))
    # the same size: the falling curve dominates by its trend (the size, with no curve, is taken as it is)
    assert nxt is not None and nxt.continue_from == 1 and set(nxt.info["trend"]) == {"loss"}


def test_the_model_sampler_models_the_screens_inside_one_epoch() -> None:
    opt = make_optimizer({"name": "one_epoch", "per_round": 50, "min_fidelity": 4,
                          "sampler": {"name": "model", "random_fraction": 0.0}}, SPACE, LOSS, 0)
    history: list[TrialRecord] = []
    reasons = []
    for _ in range(5):
        p = opt.propose(StudyView.of(history))
        assert p is not None and p.fidelity == 4
        reasons.append(p.reason)
        history.append(ran(len(history), p, (p.config["x"] - 0.3) ** 2))
    assert "model waits for a rung with 3 results" in reasons[0]
    assert "GP on the 3 results at 4" in reasons[3] and "GP on the 4 results at 4" in reasons[4]


def test_the_priorband_sampler_works_inside_one_epoch() -> None:
    # it raised "needs a multi-fidelity scheduler" before one_epoch passed its two stages as the context
    space = Space({"x": Float(0.0, 1.0, prior=0.25, confidence="high"), "epochs": Fidelity(1, 20)})
    opt = make_optimizer({"name": "one_epoch", "sampler": "priorband"}, space, LOSS, 0)
    first = opt.propose(StudyView())
    assert first is not None and first.config == {"x": 0.25} and "prior's own configuration" in first.reason
