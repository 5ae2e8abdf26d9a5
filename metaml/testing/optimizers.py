"""The optimizer contract's conformance suite: every optimizer must pass all of it.

An optimizer is checked by name: register it (``metaml.optimizers.register(name, factory)``),
then subclass :class:`OptimizerSuite` in a test module with ``names = ["yours"]`` (and, for an
optimizer whose decisions fit a model, ``longest = {"yours": 20}`` to keep its simulated
studies short); pytest then runs every check below once per name, in studies that
:class:`Simulation` drives the way the store does but without a database, over a space with
a fidelity from 1 to 27: the same seed and history give the same proposals, and a different
seed others; a fresh optimizer replaying the history (or rebuilt from its stored settings)
decides the same, which is what proves that its caches change no decision; ``ask(view, n)``
equals n single proposals, each on the view with the earlier ones pending; proposals stay
inside the space; promotions continue a completed trial of the same configuration, none
twice; long studies run through, with one to four workers; ``should_stop`` answers None or a
reason; and with experts' interventions in the history (a pin, a narrowed range, a prior, a
limit, an unpin: ``steering()``), every later decision stays in the steered space, continues
only trials inside it, and replays exactly. metaml's own optimizers run it in ``tests/optimizers/test_conformance.py``::

    class TestMyOptimizer(OptimizerSuite):
        names = ["mine"]
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import pytest

from metaml.core.interventions import INTERVENTION, Intervention
from metaml.core.records import Event, Observation, Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.core.warm_start import PriorObservation, PriorStudy
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.base import Optimizer
from metaml.space import Categorical, Fidelity, Float, Int, Space
from metaml.space.steer import steer_space


def build_space() -> Space:
    """The suite's space: conditional, with a prior, schedulable values (for PBT), and a fidelity from 1 to 27."""
    return Space(
        {
            "lr": Float(1e-4, 1e-1, log=True, prior=1e-2, schedulable=True),
            "depth": Int(1, 8, structural=True),
            "model": Categorical({"mlp": {"width": Int(16, 256, log=True, structural=True)}, "linear": {}}, prior="mlp"),
            "dropout": Float(0.0, 0.5, schedulable=True),
            "epochs": Fidelity(1, 27),
        }
    )


def fake_loss(config: dict[str, Any], fidelity: float) -> float:
    """A cheap, deterministic learning curve: better with more epochs, best near lr=1e-2."""
    loss = (math.log10(config["lr"]) + 2.0) ** 2 + 0.05 * abs(config["depth"] - 4) + config["dropout"] / 5
    if config["model"] == "mlp":
        loss -= 0.1 * math.log2(config["model.mlp.width"]) / 8
    return loss + 1.0 / float(fidelity)


def build_warm_start(n: int = 40, seed: int = 0) -> tuple[PriorStudy, ...]:
    """Two earlier studies over the suite's space: one measured with ``fake_loss``, one with its results shuffled."""
    import numpy as np

    space = build_space()
    rng = np.random.default_rng(seed)
    obs = []
    for i in range(n):
        config = space.sample(rng)
        fidelity = (1, 3, 9, 27)[i % 4]
        obs.append(PriorObservation(i, config, fidelity / 27, (fake_loss(config, fidelity),)))
    order = rng.permutation(n)
    shuffled = [replace(o, losses=obs[int(j)].losses) for o, j in zip(obs, order, strict=True)]
    return (PriorStudy("earlier", "memory", "a" * 32, tuple(obs), n_trials=n, cost_fte=float(n) / 2),
            PriorStudy("scrambled", "memory", "b" * 32, tuple(shuffled), n_trials=n, cost_fte=float(n) / 2))


def record(
    number: int,
    proposal: Proposal,
    status: TrialStatus = TrialStatus.COMPLETED,
    loss: float | None = None,
    **fields: Any,
) -> TrialRecord:
    """A trial as the store would hold it after ``proposal`` ran (``loss`` None: no metrics)."""
    return TrialRecord(
        study_id=1,
        number=number,
        config=dict(proposal.config),
        fidelity=proposal.fidelity,
        continue_from=proposal.continue_from,
        status=status,
        metrics=None if loss is None else {"loss": loss},
        info=dict(proposal.info),
        **fields,
    )


@dataclass
class Simulation:
    """A study run with ``workers`` trials in flight; trials ``fails(number)`` says fail.

    It drives an optimizer the way the store does (a proposal on the whole history, the trial
    appended as running, later replaced by its result), so that hundreds of decisions take
    milliseconds.
    """

    optimizer: Optimizer
    workers: int = 1
    fails: Callable[[int], bool] = lambda number: number % 7 == 3
    #: Earlier studies on the view, as a warm-started study's optimizer sees them.
    warm_start: tuple[PriorStudy, ...] = ()
    history: list[TrialRecord] = field(default_factory=list)
    #: (the history the optimizer saw, what it proposed) for every successful ask.
    asks: list[tuple[list[TrialRecord], Proposal]] = field(default_factory=list)
    #: Experts' interventions by the number of trials after which they were written (see ``steering``).
    interventions: Mapping[int, Sequence[Intervention]] = field(default_factory=dict)
    #: The events each ask saw, beside ``asks`` (empty without interventions).
    events: list[tuple[Event, ...]] = field(default_factory=list)

    def view(self, seen: Sequence[TrialRecord]) -> StudyView:
        """The view of ``seen`` with the interventions written so far, as a store would give it."""
        return StudyView.of(seen, events=events_of(i for k, its in sorted(self.interventions.items()) if k <= len(seen)
                                                   for i in its), warm_start=self.warm_start)

    def finish(self, number: int) -> None:
        t = self.history[number]
        if self.fails(number):
            self.history[number] = replace(t, status=TrialStatus.FAILED, error="boom")
        else:
            loss = fake_loss(t.config, t.fidelity or 27)
            self.history[number] = replace(t, status=TrialStatus.COMPLETED, metrics={"loss": loss})

    def run(self, trials: int) -> Simulation:
        running: deque[int] = deque()
        while len(self.history) < trials:
            seen = list(self.history)
            view = self.view(seen)
            proposal = self.optimizer.decide(view)
            if proposal is None:
                assert running, f"{self.optimizer.name} waits although no trial is running"
                self.finish(running.popleft())
                continue
            self.asks.append((seen, proposal))
            self.events.append(view.events)
            number = len(self.history)
            self.history.append(record(number, proposal, TrialStatus.RUNNING))
            running.append(number)
            if len(running) >= self.workers:
                self.finish(running.popleft())
        while running:
            self.finish(running.popleft())
        return self


def events_of(interventions: Any) -> tuple[Event, ...]:
    """Interventions as the store's events (ids from 1, in order)."""
    return tuple(Event(n, INTERVENTION, i.describe(), i.trial, i.data(), float(n)) for n, i in enumerate(interventions, 1))


def steering() -> dict[int, list[Intervention]]:
    """The suite's interventions: after 12 trials a pin, a narrowed range, a prior and a limit; after 24 an unpin."""
    return {
        12: [Intervention("pin", "model", "mlp", "suite", "linear models underfit"),
             Intervention("narrow", "lr", [1e-3, 5e-2], "suite"),
             Intervention("prior", "depth", 6, "suite", confidence="high"),
             Intervention("pin", "dropout", 0.1, "suite"),
             Intervention("limit", "loss", 1.5, "suite")],
        24: [Intervention("unpin", "dropout", None, "suite")],
    }


def simulate(optimizer: Optimizer, trials: int, workers: int = 1, **kw: Any) -> Simulation:
    """A simulated study of ``trials`` trials run by ``optimizer`` (see ``Simulation`` for ``fails``)."""
    return Simulation(optimizer, workers, **kw).run(trials)


Simulate = Callable[..., Simulation]


def exploits(proposal: Proposal) -> bool:
    """Whether a proposal continues *another* member's checkpoint (population-based training's exploit)."""
    data = proposal.info.get("pbt")
    return isinstance(data, Mapping) and data.get("action") in ("exploit", "replace")


class OptimizerSuite:
    """The optimizer contract's checks, once per name in ``names`` (see the module)."""

    #: The registered optimizers to check.
    names: ClassVar[Sequence[str]] = ()
    #: The longest simulated study an optimizer is given (model-based ones are slow); others: as long as a check asks.
    longest: ClassVar[Mapping[str, int]] = {}
    #: Earlier studies every view carries (``build_warm_start()``: the suite run as a warm-started study).
    warm_start: ClassVar[tuple[PriorStudy, ...]] = ()

    def view(self, trials: Sequence[TrialRecord], observations: Sequence[Observation] = ()) -> StudyView:
        """The view an optimizer decides on: ``trials``, their curve points and the suite's earlier studies."""
        return StudyView.of(trials, observations, warm_start=self.warm_start)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "name" in metafunc.fixturenames:
            if not self.names:
                raise ValueError(f"{type(self).__name__}.names is empty: list the optimizers to check")
            metafunc.parametrize("name", list(self.names))

    def n_trials(self, name: str, n: int) -> int:
        """How long a simulated study is for ``name`` (at most ``longest[name]``)."""
        return min(n, self.longest.get(name, n))

    @staticmethod
    def build(name: str, space: Space, objectives: Sequence[Objective], seed: int = 0) -> Optimizer:
        return make_optimizer(name, space, objectives, seed)

    @pytest.fixture
    def space(self) -> Space:
        return build_space()

    @pytest.fixture
    def objectives(self) -> Sequence[Objective]:
        return (Objective("loss"),)

    @pytest.fixture
    def simulate(self) -> Simulate:
        """``simulate(optimizer, trials, workers=1, fails=...)`` runs a simulated study and returns it."""
        warm = self.warm_start

        def run(optimizer: Optimizer, trials: int, workers: int = 1, **kw: Any) -> Simulation:
            return simulate(optimizer, trials, workers, warm_start=warm, **kw)

        return run

    def test_same_seed_and_history_give_the_same_proposals(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate
    ) -> None:
        a = simulate(self.build(name, space, objectives, seed=3), self.n_trials(name, 40), workers=3)
        b = simulate(self.build(name, space, objectives, seed=3), self.n_trials(name, 40), workers=3)
        assert [p for _, p in a.asks] == [p for _, p in b.asks]

    def test_the_seed_matters(self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate) -> None:
        a = simulate(self.build(name, space, objectives, seed=1), self.n_trials(name, 10))
        b = simulate(self.build(name, space, objectives, seed=2), self.n_trials(name, 10))
        assert [p.config for _, p in a.asks] != [p.config for _, p in b.asks]

    @pytest.mark.parametrize("workers", [1, 4])
    def test_a_fresh_optimizer_replaying_the_history_decides_the_same(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate, workers: int
    ) -> None:
        sim = simulate(self.build(name, space, objectives), self.n_trials(name, 60), workers=workers)
        fresh = self.build(name, Space.from_dict(space.to_dict()), objectives)  # as another process rebuilds it
        for seen, proposal in sim.asks:
            assert fresh.propose(self.view(seen)) == proposal

    def test_settings_rebuild_an_identical_optimizer(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate
    ) -> None:
        original = self.build(name, space, objectives, seed=5)
        settings = json.loads(json.dumps(original.settings))  # stored with the study as JSON
        rebuilt = make_optimizer({"name": original.name, **settings}, space, objectives, 5)
        assert rebuilt.name == original.name and rebuilt.settings == original.settings
        sim = simulate(original, self.n_trials(name, 40), workers=2)
        assert all(rebuilt.propose(self.view(seen)) == proposal for seen, proposal in sim.asks)

    def test_ask_for_n_equals_n_single_proposals_with_the_earlier_ones_pending(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate
    ) -> None:
        sim = simulate(self.build(name, space, objectives), self.n_trials(name, 40), workers=3)
        every = max(1, len(sim.asks) // 4)
        for seen, proposal in [*sim.asks[::every], sim.asks[-1]]:
            view = self.view(seen)
            batch = self.build(name, space, objectives).ask(view, 3)
            one_by_one = self.build(name, space, objectives)
            expected: list[Proposal] = []
            while len(expected) < 3 and (single := one_by_one.propose(view)) is not None:
                expected.append(single)
                view = view.with_pending(single)
            assert batch == expected
            assert batch[0] == proposal  # the first is the one a single ask makes
        assert self.build(name, space, objectives).ask(self.view(sim.asks[-1][0]), 0) == []

    @pytest.mark.parametrize("workers", [1, 4])
    def test_proposals_stay_inside_the_space(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate, workers: int
    ) -> None:
        sim = simulate(self.build(name, space, objectives), self.n_trials(name, 60), workers=workers)
        fid = space.fidelity
        assert fid is not None
        for _, proposal in sim.asks:
            assert space.validate(proposal.config) == proposal.config
            assert proposal.fidelity is not None and fid.lower <= proposal.fidelity <= fid.upper
            assert proposal.reason
            json.dumps(proposal.info)  # stored as JSON

    @pytest.mark.parametrize("workers", [1, 4])
    def test_promotions_continue_a_completed_trial_of_the_same_configuration(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate, workers: int
    ) -> None:
        """A continued trial keeps its parent's configuration, except an exploit, which changes schedulable values only."""
        sim = simulate(
            self.build(name, space, objectives), self.n_trials(name, 60), workers=workers, fails=lambda n: n % 4 == 1
        )
        for seen, proposal in sim.asks:
            if proposal.continue_from is None:
                continue
            parent = seen[proposal.continue_from]
            assert parent.status is TrialStatus.COMPLETED, "a failed or unfinished trial was promoted"
            if exploits(proposal):
                changed = {k for k in {*parent.config, *proposal.config} if parent.config.get(k) != proposal.config.get(k)}
                assert changed <= set(space.schedulable), f"an exploit changed {changed - set(space.schedulable)}"
            else:
                assert parent.config == proposal.config
            assert parent.fidelity is not None and proposal.fidelity is not None
            assert parent.fidelity < proposal.fidelity

    def test_nothing_is_continued_twice(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate
    ) -> None:
        """A promotion continues a trial once; exploits (a population's copies of a top member) may copy it again."""
        sim = simulate(self.build(name, space, objectives), self.n_trials(name, 60), workers=4)
        parents = [p.continue_from for _, p in sim.asks if p.continue_from is not None and not exploits(p)]
        assert len(parents) == len(set(parents))

    @pytest.mark.parametrize("workers", [1, 3])
    def test_a_long_study_runs_through(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate, workers: int
    ) -> None:
        n = self.n_trials(name, 120)
        sim = simulate(self.build(name, space, objectives), n, workers=workers)
        assert len(sim.history) == n
        assert all(t.status.finished for t in sim.history)
        full = space.fidelity.upper if space.fidelity is not None else None
        assert any(t.status is TrialStatus.COMPLETED and t.fidelity == full for t in sim.history)

    @pytest.mark.parametrize("workers", [1, 3])
    def test_interventions_steer_every_later_decision_and_replay_exactly(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate, workers: int
    ) -> None:
        steer = steering()
        sim = simulate(self.build(name, space, objectives), self.n_trials(name, 40), workers=workers, interventions=steer)
        fresh = self.build(name, Space.from_dict(space.to_dict()), objectives)
        steered_asks = 0
        for (seen, proposal), events in zip(sim.asks, sim.events):
            view = StudyView.of(seen, events=events, warm_start=self.warm_start)
            assert fresh.decide(view) == proposal  # replay from the history (events included) is exact
            steered = steer_space(space, view.interventions)
            assert steered.validate(proposal.config) == proposal.config, "a proposal left the steered space"
            if proposal.continue_from is not None:
                steered.validate(seen[proposal.continue_from].config)  # only trials inside it are continued
            steered_asks += bool(view.interventions)
        assert steered_asks > 0, "no decision was made after the interventions"
        # a pin holds from its event on: every proposal after trial 12 (and before the unpin) has it
        pinned = [p for (seen, p) in sim.asks if 12 <= len(seen) < 24]
        assert all(p.config["model"] == "mlp" and p.config["dropout"] == 0.1 for p in pinned)
        # ask(view, n) with interventions equals n decisions, each with the earlier ones pending
        seen, _ = sim.asks[-1]
        view = StudyView.of(seen, events=sim.events[-1], warm_start=self.warm_start)
        one_by_one, expected = self.build(name, space, objectives), list[Proposal]()
        while len(expected) < 2 and (single := one_by_one.decide(view)) is not None:
            expected.append(single)
            view = view.with_pending(single)
        assert self.build(name, space, objectives).ask(StudyView.of(seen, events=sim.events[-1], warm_start=self.warm_start), 2) == expected
        answer = fresh.decide_stop(view, seen[-1])
        assert answer is None or (isinstance(answer, str) and answer)

    def test_should_stop_answers_none_or_a_reason(
        self, name: str, space: Space, objectives: Sequence[Objective], simulate: Simulate
    ) -> None:
        opt = self.build(name, space, objectives)
        sim = simulate(opt, self.n_trials(name, 30))
        trial = sim.history[-1]
        curve = [Observation(trial.number, float(s), {"loss": 1.0 / s}, 0.0) for s in (1, 2, 3)]
        answer = opt.should_stop(self.view(sim.history, curve), trial)
        assert answer is None or (isinstance(answer, str) and answer)
