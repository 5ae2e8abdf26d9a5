"""Rung arithmetic against hand-computed tables, and successive halving / Hyperband decisions."""

from __future__ import annotations

from collections import Counter

import pytest

from metaml.core.records import TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.hyperband import Hyperband
from metaml.optimizers.registry import available
from metaml.optimizers.rungs import bracket_resources, fidelity_ladder, halvings, hyperband_brackets
from metaml.optimizers.successive_halving import SuccessiveHalving
from metaml.space import Fidelity, Float, Space

LOSS = (Objective("loss"),)


def small_space(lower: float = 1, upper: float = 9) -> Space:
    return Space({"x": Float(0.0, 1.0), "epochs": Fidelity(lower, upper)})


# ----------------------------------------------------------------- arithmetic
@pytest.mark.parametrize(
    ("r_min", "r_max", "eta", "integer", "ladder"),
    [
        (1, 27, 3, True, (1, 3, 9, 27)),
        (1, 81, 3, True, (1, 3, 9, 27, 81)),
        (1, 10, 3, True, (1, 3, 10)),  # 10/9 and 10/3 rounded
        (1, 100, 3, True, (1, 4, 11, 33, 100)),
        (1, 5, 2, True, (1, 3, 5)),  # 1.25, 2.5 (half up), 5
        (2, 8, 2, True, (2, 4, 8)),
        (1, 2, 3, True, (2,)),  # eta larger than the range: one rung
        (0.1, 0.9, 3, False, (0.1, 0.3, 0.9)),
        (1, 1, 3, True, (1,)),
    ],
)
def test_the_ladder_is_geometric_from_the_top(r_min, r_max, eta, integer, ladder) -> None:
    got = fidelity_ladder(r_min, r_max, eta, integer)
    assert got == pytest.approx(ladder)
    assert list(got) == sorted(set(got))


def test_hyperband_brackets_match_li_et_al_2017() -> None:
    # Table 1 of the Hyperband paper (R=81, eta=3): (n_i, r_i) for each bracket s.
    table = {
        4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        3: [(34, 3), (11, 9), (3, 27), (1, 81)],
        2: [(15, 9), (5, 27), (1, 81)],
        1: [(8, 27), (2, 81)],
        0: [(5, 81)],
    }
    ladder = fidelity_ladder(1, 81, 3, True)
    plans = hyperband_brackets(halvings(1, 81, 3), 3)
    assert [p.halvings for p in plans] == [4, 3, 2, 1, 0]
    for plan in plans:
        assert [(plan.count(r), ladder[r]) for r in plan.rungs] == table[plan.halvings]


def test_hyperband_brackets_for_27_epochs() -> None:
    plans = hyperband_brackets(halvings(1, 27, 3), 3)
    assert [(p.base, p.counts) for p in plans] == [(0, (27, 9, 3, 1)), (1, (12, 4, 1)), (2, (6, 2)), (3, (4,))]
    # Promoted runs pay only the extra epochs: 27*1 + 9*2 + 3*6 + 1*18.
    assert bracket_resources(plans[0], (1, 3, 9, 27)) == 81


# --------------------------------------------------------------- bad settings
@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"eta": 1}, "eta must be a number >= 2"),
        ({"eta": 1.5}, "eta must be"),
        ({"eta": "3"}, "eta must be"),
        ({"min_fidelity": 9, "max_fidelity": 3}, "must not exceed"),
        ({"min_fidelity": 0.5}, "outside the space's fidelity"),
        ({"max_fidelity": 30}, "outside the space's fidelity"),
        ({"min_fidelity": 2.5}, "whole number"),
        ({"sampler": "bayes"}, "unknown sampler"),
        ({"sampler": {"name": "priorband", "mutation_rate": 2}}, "mutation_rate"),
        ({"bogus": 1}, "unknown setting 'bogus'; its settings are eta, min_fidelity, max_fidelity, sampler"),
        ({"etta": 3}, r"unknown setting 'etta' \(did you mean 'eta'\?\)"),
    ],
)
@pytest.mark.parametrize("name", ["successive_halving", "hyperband", "asha", "priorband"])
def test_bad_settings_are_refused(name, settings, words) -> None:
    with pytest.raises(OptimizerError, match=words):
        make_optimizer({"name": name, **settings}, small_space(), LOSS)


@pytest.mark.parametrize("name", ["successive_halving", "hyperband", "asha", "priorband"])
def test_a_space_without_fidelity_is_refused_with_an_example(name) -> None:
    with pytest.raises(OptimizerError, match=f"{name} needs a Fidelity parameter.*epochs: {{type: fidelity"):
        make_optimizer(name, Space({"x": Float(0.0, 1.0)}), LOSS)


def test_max_fidelity_below_the_space_upper_bound_is_the_full_run() -> None:
    opt = make_optimizer({"name": "hyperband", "max_fidelity": 9}, small_space(1, 27), LOSS)
    assert opt.full_fidelity == 9 and opt.ladder == (1, 3, 9)


# ------------------------------------------------------------ successive halving
def test_successive_halving_waits_for_the_whole_rung_then_promotes_the_best(make_record) -> None:
    opt = SuccessiveHalving(small_space(), LOSS, seed=0)  # ladder 1, 3, 9: 9 -> 3 -> 1 configs
    history = []
    for number in range(9):
        proposal = opt.propose(StudyView.of(history))
        assert proposal is not None and proposal.fidelity == 1 and proposal.continue_from is None
        assert proposal.info == {"bracket": 0, "rung": 0, "config_id": number}
        history.append(make_record(number, proposal, TrialStatus.RUNNING))
    assert opt.propose(StudyView.of(history)) is None  # rung full, trials running: wait rather than over-propose

    losses = [0.5, 0.1, 0.9, 0.3, 0.8, 0.05, 0.7, 0.6, 0.4]
    history = [make_record(t.number, _as_proposal(t), loss=loss) for t, loss in zip(history, losses)]
    history[5] = make_record(5, _as_proposal(history[5]), TrialStatus.FAILED)  # the best one failed
    promoted = []
    for number in range(9, 12):
        proposal = opt.propose(StudyView.of(history))
        assert proposal is not None and proposal.fidelity == 3
        parent = history[proposal.continue_from]
        assert proposal.config == parent.config
        assert proposal.info == {"bracket": 0, "rung": 1, "config_id": parent.number}
        promoted.append(proposal.continue_from)
        history.append(make_record(number, proposal, TrialStatus.RUNNING))
    assert promoted == [1, 3, 8]  # best first; the failed trial 5 gives its place up
    assert "promoted from rung 1 epochs to 3 epochs: top 1/3 of 9 (rank 1)" in opt.propose(StudyView.of(history[:9])).reason
    assert opt.propose(StudyView.of(history)) is None

    history[9:] = [make_record(t.number, _as_proposal(t), loss=loss) for t, loss in zip(history[9:], [0.2, 0.1, 0.3])]
    top = opt.propose(StudyView.of(history))
    assert top is not None and top.fidelity == 9 and top.continue_from == 10
    history.append(make_record(12, top, loss=0.05))
    again = opt.propose(StudyView.of(history))  # the bracket is done: a fresh one starts at the bottom
    assert again is not None and again.info["bracket"] == 1 and again.fidelity == 1


def test_a_pruned_trial_is_ranked_but_not_promoted(make_record) -> None:
    opt = SuccessiveHalving(small_space(), LOSS)
    history = []
    for number in range(9):
        proposal = opt.propose(StudyView.of(history))
        status = TrialStatus.PRUNED if number == 0 else TrialStatus.COMPLETED
        history.append(make_record(number, proposal, status, loss=0.01 * (number + 1)))
    chosen = []
    for number in range(9, 12):
        proposal = opt.propose(StudyView.of(history))
        chosen.append(proposal.continue_from)
        history.append(make_record(number, proposal, TrialStatus.RUNNING))
    assert chosen == [1, 2, 3]
    assert "(rank 2)" in opt.propose(StudyView.of(history[:9])).reason  # the pruned trial still ranks first


# ------------------------------------------------------------------ hyperband
def test_hyperband_cycles_through_its_brackets(space, simulate) -> None:
    opt = Hyperband(space, LOSS, seed=0)  # epochs 1..27
    sim = simulate(opt, 2 * (40 + 17 + 8 + 4), fails=lambda n: False)
    per_bracket = Counter(t.info["bracket"] for t in sim.history)
    assert per_bracket == {0: 40, 1: 17, 2: 8, 3: 4, 4: 40, 5: 17, 6: 8, 7: 4}
    starts = [(t.info["bracket"], t.fidelity) for t in sim.history if t.continue_from is None]
    assert Counter(starts) == {(0, 1): 27, (1, 3): 12, (2, 9): 6, (3, 27): 4, (4, 1): 27, (5, 3): 12, (6, 9): 6, (7, 27): 4}
    # One trial at a time, a bracket ends before the next one starts (Li et al.'s order).
    brackets = [t.info["bracket"] for t in sim.history]
    assert brackets == sorted(brackets)


def test_hyperband_opens_the_next_bracket_instead_of_waiting(make_record) -> None:
    space = small_space(1, 9)
    history = []
    sh, hb = SuccessiveHalving(space, LOSS), Hyperband(space, LOSS)
    for number in range(9):
        history.append(make_record(number, hb.propose(StudyView.of(history)), TrialStatus.RUNNING))
    assert sh.propose(StudyView.of(history)) is None
    nxt = hb.propose(StudyView.of(history))
    assert nxt is not None and nxt.info["bracket"] == 1 and nxt.fidelity == 3
    # Once bracket 0 can promote again, its promotions come before bracket 1's new configs.
    history.append(make_record(9, nxt, TrialStatus.RUNNING))
    history[:9] = [make_record(t.number, _as_proposal(t), loss=float(t.number)) for t in history[:9]]
    first = hb.propose(StudyView.of(history))
    assert first is not None and first.continue_from == 0 and first.info["bracket"] == 0


def _as_proposal(t):
    from metaml.core.records import Proposal

    return Proposal(t.config, t.fidelity, t.continue_from, "", t.info)


def test_an_unknown_optimizer_name_is_answered_with_the_closest_one() -> None:
    with pytest.raises(OptimizerError, match=r"unknown optimizer 'freezethaw' \(did you mean 'freeze_thaw'\?\); choose"):
        make_optimizer("freezethaw", small_space(), LOSS)


@pytest.mark.parametrize("name", available())
def test_every_optimizer_names_its_settings_when_one_is_misspelt(name: str) -> None:
    with pytest.raises(OptimizerError, match=rf"optimizer '{name}': unknown setting 'no_such_setting'; its settings are"):
        make_optimizer({"name": name, "no_such_setting": 1}, small_space(), LOSS)
