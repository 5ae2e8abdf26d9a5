"""Which optimizers make the same trials whatever order parallel workers finish them in (docs/concepts.md's table).

A simulated study keeps ``workers`` trials in flight and, where the real executors would let
timing decide, lets a seeded generator pick which running trial ends next. An optimizer that
reproduces under parallelism proposes the same trial for every number, whatever the order;
one that does not (it uses results as soon as they arrive) differs for some order. Each row
of the table in docs/concepts.md is one case here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from metaml.core.records import TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.base import Optimizer
from tests.optimizers.conftest import build_space, fake_loss, record

LOSS = (Objective("loss"),)
#: A small, fast GP search: a short design, a small candidate pool.
BO = {"name": "bo", "n_initial": 4, "raw_samples": 32, "num_restarts": 1}
TIMINGS = range(4)


def run_timed(optimizer: Optimizer, trials: int, workers: int, timing: int) -> list[tuple[Any, ...]]:
    """(config, fidelity, continue_from) of trials 0..trials-1, finishing running trials in an order drawn from ``timing``."""
    order = np.random.default_rng(timing)
    history: list[TrialRecord] = []
    running: list[int] = []

    def finish_one() -> None:
        number = running.pop(int(order.integers(len(running))))
        t = history[number]
        history[number] = replace(t, status=TrialStatus.COMPLETED, metrics={"loss": fake_loss(t.config, t.fidelity or 27)})

    while len(history) < trials:
        proposal = optimizer.propose(StudyView.of(list(history)))
        if proposal is None:
            assert running, f"{optimizer.name} waits although no trial is running"
            finish_one()
            continue
        history.append(record(len(history), proposal, TrialStatus.RUNNING))
        running.append(len(history) - 1)
        while len(running) >= workers:
            finish_one()
    return [(t.config, t.fidelity, t.continue_from) for t in history]


def _runs(spec: Any, trials: int, workers: int) -> Iterator[list[tuple[Any, ...]]]:
    """One run per timing, lazily; one optimizer for all (what it caches can only save time, never change a proposal)."""
    optimizer = make_optimizer(spec, build_space(), LOSS, seed=2)
    return (run_timed(optimizer, trials, workers, timing) for timing in TIMINGS)


@pytest.mark.parametrize(
    "spec,trials",
    [("random", 40), ("successive_halving", 60), ({"name": "successive_halving", "sampler": "uniform"}, 60),
     (BO | {"parallel": 2}, 8), ("pbt", 40), ({"name": "pb2", "population": 4}, 24)],
    ids=["random", "successive_halving-prior", "successive_halving-uniform", "bo-parallel-2", "pbt", "pb2"],
)
def test_these_reproduce_with_two_workers_whatever_the_timing(spec: Any, trials: int) -> None:
    first, *others = _runs(spec, trials, workers=2)
    assert all(run == first for run in others)


def test_bo_with_parallel_n_makes_the_same_trials_with_one_worker_or_n() -> None:
    spec = BO | {"parallel": 3}
    alone = run_timed(make_optimizer(spec, build_space(), LOSS, seed=2), 9, workers=1, timing=0)
    assert all(run == alone for run in _runs(spec, 9, workers=3))
    # and the window holds the latest trials as pending, so the proposals still differ from each other
    assert len({str(config) for config, _, _ in alone}) == 9


@pytest.mark.parametrize(
    "spec,trials",
    [("hyperband", 60), ("asha", 60), ("priorband", 60), ("bohb", 30), ("moasha", 60), ("mohb", 60), (BO, 8)],
    ids=["hyperband", "asha", "priorband", "bohb", "moasha", "mohb", "bo"],
)
def test_these_use_results_as_they_arrive_so_the_timing_changes_the_trials(spec: Any, trials: int) -> None:
    runs = _runs(spec, trials, workers=2)
    first = next(runs)
    assert any(run != first for run in runs)


def test_bo_with_parallel_n_waits_for_a_trial_older_than_its_window() -> None:
    opt = make_optimizer(BO | {"parallel": 2}, build_space(), LOSS, seed=2)
    history: list[TrialRecord] = []
    for number in range(6):
        proposal = opt.propose(StudyView.of(history))
        assert proposal is not None
        history.append(record(number, proposal, loss=fake_loss(proposal.config, 27)))
    # trial 4 still running: the proposal for trial 6 must wait for it (it sees trials 0..4 finished)
    history[4] = replace(history[4], status=TrialStatus.RUNNING, metrics=None)
    assert opt.propose(StudyView.of(history)) is None
    history[5] = replace(history[5], status=TrialStatus.RUNNING, metrics=None)  # trial 5 is inside the window
    assert opt.propose(StudyView.of(history)) is None
    history[4] = replace(history[4], status=TrialStatus.COMPLETED, metrics={"loss": 0.5})
    assert opt.propose(StudyView.of(history)) is not None


@pytest.mark.slow  # about 20 s: two studies on real worker processes; the simulated cases above run by default
def test_two_runs_of_bo_with_parallel_2_on_two_worker_processes_make_the_same_trials(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaml import Study
    from tests.execution import functions

    monkeypatch.setenv("METAML_TEST_SLEEP", "0.05")  # short trials: the asks' own timing decides who finishes first
    runs = []
    for run in range(2):
        study = Study.create(f"bo-{run}", functions.SPACE, ["loss"], store=tmp_path / f"{run}.db", seed=1,
                             optimizer=BO | {"parallel": 2})  # fmt: skip
        study.optimize(functions.sleepy, budget=12, workers=2)
        trials = study.trials()
        assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 12
        assert len({t.worker for t in trials}) == 2  # both workers took part
        runs.append([t.config for t in trials])
    assert runs[0] == runs[1]
