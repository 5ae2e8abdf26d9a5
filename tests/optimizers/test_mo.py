"""Multi-objective successive halving: Pareto ranking with a hypervolume tie-break, moasha and mohb."""

from __future__ import annotations

import pytest

from metaml.core.records import TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.multiobjective import MOASHA, rank_pareto
from metaml.optimizers.rungs import rank_by_first_objective
from metaml.space import Fidelity, Float, Space

TWO = (Objective("a"), Objective("b"))
SPACE = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 9)})  # ladder 1, 3, 9


def trial(number: int, a: float | None, b: float | None = None, status: TrialStatus = TrialStatus.COMPLETED,
          rung: int = 0) -> TrialRecord:
    metrics = None if a is None else {"a": a, "b": b}
    return TrialRecord(study_id=1, number=number, config={"x": number / 100}, fidelity=[1, 3, 9][rung],
                       continue_from=None, status=status, metrics=metrics,
                       info={"bracket": 0, "rung": rung, "config_id": number})


def test_rank_puts_the_front_first_ordered_by_hypervolume_contribution() -> None:
    # Worst seen (6, 6), range 5 on both: reference point (6.5, 6.5).
    # Front {(1,5), (2,2), (4.5,1)}: exclusive boxes 1 x 1.5 = 1.5, 2.5 x 3 = 7.5, 2 x 1 = 2.
    records = [trial(0, 1, 5), trial(1, 2, 2), trial(2, 4.5, 1), trial(3, 3, 3), trial(4, 6, 6),
               trial(5, None, status=TrialStatus.FAILED), trial(6, 3, 3)]
    ranked = [t.number for t in rank_pareto(records, TWO)]
    # front by contribution; then (3,3) twice (a tie: the older first); then (6,6); the failure last
    assert ranked == [1, 2, 0, 3, 6, 4, 5]


def test_trials_that_break_a_limit_rank_after_every_feasible_one() -> None:
    limited = (Objective("a"), Objective("b", limit=4.0))
    records = [trial(0, 0.5, 4.2), trial(1, 9, 3.9), trial(2, 0.1, 8.0), trial(3, 5, 1),
               trial(4, None, status=TrialStatus.FAILED)]
    ranked = [t.number for t in rank_pareto(records, limited)]
    # feasible front {(9,3.9), (5,1)}: (5,1) dominates (9,3.9); then breakers by how far (0.2/4 < 4/4)
    assert ranked == [3, 1, 0, 2, 4]


def test_with_one_objective_the_ranking_is_the_single_objective_one() -> None:
    one = (Objective("a"),)
    records = [trial(0, 3, 0), trial(1, 1, 0), trial(2, None, status=TrialStatus.FAILED), trial(3, 1, 0)]
    assert rank_pareto(records, one) == rank_by_first_objective(records, one)


def test_moasha_promotes_the_non_dominated_trials(make_record) -> None:
    opt = MOASHA(SPACE, TWO)
    # nine finished at the bottom rung; the front is {0, 4, 8}
    points = [(1, 9), (5, 6), (6, 5), (7, 7), (3, 3), (8, 8), (6, 9), (9, 6), (9, 1)]
    history = [trial(i, a, b) for i, (a, b) in enumerate(points)]
    promoted = []
    for _ in range(3):
        proposal = opt.propose(StudyView.of(history))
        assert proposal.continue_from is not None and proposal.fidelity == 3
        promoted.append(proposal.continue_from)
        history.append(make_record(len(history), proposal, TrialStatus.RUNNING))
    assert promoted[0] == 4  # the largest hypervolume contribution goes first
    assert sorted(promoted) == [0, 4, 8]
    fresh = opt.propose(StudyView.of(history))
    assert fresh.continue_from is None and fresh.fidelity == 1  # the dominated ones stay


def test_mohb_keeps_the_pareto_best_of_a_rung() -> None:
    opt = make_optimizer("mohb", SPACE, TWO)
    history = [trial(i, a, b) for i, (a, b) in enumerate([(1, 9), (5, 6), (6, 5), (7, 7), (3, 3), (8, 8),
                                                           (6, 9), (9, 6), (9, 1)])]
    plan = opt.brackets[0]  # type: ignore[attr-defined]
    # fill the bottom rung of the first bracket with dominated trials, so that ours decide
    bottom = plan.count(0)
    filler = [trial(len(history) + i, 10 + i, 10 + i) for i in range(bottom - len(history))]
    history += filler
    proposal = opt.propose(StudyView.of(history))
    assert proposal is not None and proposal.continue_from == 4


@pytest.mark.parametrize(("mo", "single"), [("moasha", "asha"), ("mohb", "hyperband")])
def test_with_one_objective_they_decide_as_their_single_objective_scheduler(mo, single, space, objectives,
                                                                          simulate) -> None:
    a = simulate(make_optimizer(mo, space, objectives, 4), 80, workers=2)
    b = simulate(make_optimizer(single, space, objectives, 4), 80, workers=2)
    assert [p for _, p in a.asks] == [p for _, p in b.asks]


def test_moasha_refuses_the_stopping_variant() -> None:
    with pytest.raises(OptimizerError, match="stopping"):
        make_optimizer({"name": "moasha", "stopping": True}, SPACE, TWO)
