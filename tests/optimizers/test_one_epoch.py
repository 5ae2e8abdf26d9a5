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
