"""The optimizer contract: every registered optimizer must pass every test here.

A new optimizer gets these tests by being registered (``metaml.optimizers.available()``),
not by writing its own copies: determinism, resume from a stored history, settings that
rebuild it, proposals inside the space, no promotion of a failed trial, and a full
simulated study, one trial at a time and with parallel workers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from metaml.core.records import Observation, TrialStatus
from metaml.core.view import StudyView
from metaml.objectives import Objective
from metaml.optimizers import available, make_optimizer
from metaml.optimizers.base import Optimizer
from metaml.space import Space

NAMES = available()
#: Optimizers whose asks fit a model, and the longest study each runs here: the same tests, on shorter
#: studies, to keep the suite fast (``bo``: past its initial design; ``bohb``: to its first full-fidelity trial).
MODEL_BASED = {"bo": 14, "bohb": 65}


def n_trials(name: str, n: int) -> int:
    """How long a simulated study is for ``name`` (model-based ones: as long as ``MODEL_BASED`` allows)."""
    return min(n, MODEL_BASED.get(name, n))


def build(name: str, space: Space, objectives: Sequence[Objective], seed: int = 0) -> Optimizer:
    return make_optimizer(name, space, objectives, seed)


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_schedulers_are_registered() -> None:
    assert {"random", "successive_halving", "hyperband", "asha", "priorband"} <= set(NAMES)


def test_same_seed_and_history_give_the_same_proposals(name, space, objectives, simulate) -> None:
    a = simulate(build(name, space, objectives, seed=3), n_trials(name, 40), workers=3)
    b = simulate(build(name, space, objectives, seed=3), n_trials(name, 40), workers=3)
    assert [p for _, p in a.asks] == [p for _, p in b.asks]


def test_the_seed_matters(name, space, objectives, simulate) -> None:
    a = simulate(build(name, space, objectives, seed=1), n_trials(name, 10))
    b = simulate(build(name, space, objectives, seed=2), n_trials(name, 10))
    assert [p.config for _, p in a.asks] != [p.config for _, p in b.asks]


@pytest.mark.parametrize("workers", [1, 4])
def test_a_fresh_optimizer_replaying_the_history_decides_the_same(name, space, objectives, simulate, workers) -> None:
    sim = simulate(build(name, space, objectives), n_trials(name, 60), workers=workers)
    fresh = build(name, Space.from_dict(space.to_dict()), objectives)  # as another process rebuilds it from the store
    for seen, proposal in sim.asks:
        assert fresh.propose(StudyView.of(seen)) == proposal


def test_settings_rebuild_an_identical_optimizer(name, space, objectives, simulate) -> None:
    original = build(name, space, objectives, seed=5)
    settings = json.loads(json.dumps(original.settings))  # stored with the study as JSON
    rebuilt = make_optimizer({"name": original.name, **settings}, space, objectives, 5)
    assert rebuilt.name == name and rebuilt.settings == original.settings
    sim = simulate(original, n_trials(name, 40), workers=2)
    assert all(rebuilt.propose(StudyView.of(seen)) == proposal for seen, proposal in sim.asks)


@pytest.mark.parametrize("workers", [1, 4])
def test_proposals_stay_inside_the_space(name, space, objectives, simulate, workers) -> None:
    sim = simulate(build(name, space, objectives), n_trials(name, 60), workers=workers)
    fid = space.fidelity
    assert fid is not None
    for _, proposal in sim.asks:
        assert space.validate(proposal.config) == proposal.config
        assert proposal.fidelity is not None and fid.lower <= proposal.fidelity <= fid.upper
        assert proposal.reason
        json.dumps(proposal.info)  # stored as JSON


@pytest.mark.parametrize("workers", [1, 4])
def test_promotions_continue_a_completed_trial_of_the_same_configuration(
    name, space, objectives, simulate, workers
) -> None:
    sim = simulate(build(name, space, objectives), n_trials(name, 60), workers=workers, fails=lambda n: n % 4 == 1)
    for seen, proposal in sim.asks:
        if proposal.continue_from is None:
            continue
        parent = seen[proposal.continue_from]
        assert parent.status is TrialStatus.COMPLETED, "a failed or unfinished trial was promoted"
        assert parent.config == proposal.config
        assert parent.fidelity is not None and proposal.fidelity is not None
        assert parent.fidelity < proposal.fidelity


def test_nothing_is_continued_twice(name, space, objectives, simulate) -> None:
    sim = simulate(build(name, space, objectives), n_trials(name, 60), workers=4)
    parents = [p.continue_from for _, p in sim.asks if p.continue_from is not None]
    assert len(parents) == len(set(parents))


@pytest.mark.parametrize("workers", [1, 3])
def test_a_long_study_runs_through(name, space, objectives, simulate, workers) -> None:
    n = n_trials(name, 120)
    sim = simulate(build(name, space, objectives), n, workers=workers)
    assert len(sim.history) == n
    assert all(t.status.finished for t in sim.history)
    assert any(t.status is TrialStatus.COMPLETED and t.fidelity == 27 for t in sim.history)


def test_should_stop_answers_none_or_a_reason(name, space, objectives, simulate) -> None:
    opt = build(name, space, objectives)
    sim = simulate(opt, n_trials(name, 30))
    trial = sim.history[-1]
    curve = [Observation(trial.number, float(s), {"loss": 1.0 / s}, 0.0) for s in (1, 2, 3)]
    answer = opt.should_stop(StudyView.of(sim.history, curve), trial)
    assert answer is None or (isinstance(answer, str) and answer)
