"""Shared fixtures for the optimizer tests: a space with a fidelity, and a simulated study.

The simulation drives an optimizer the way the store does (ask with the whole history,
append the trial as running, later replace it with its result), without a database, so
that hundreds of decisions take milliseconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from metaml.core.records import Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.objectives import Objective
from metaml.optimizers.base import Optimizer
from metaml.space import Categorical, Fidelity, Float, Int, Space


def build_space() -> Space:
    return Space(
        {
            "lr": Float(1e-4, 1e-1, log=True, prior=1e-2),
            "depth": Int(1, 8),
            "model": Categorical({"mlp": {"width": Int(16, 256, log=True)}, "linear": {}}, prior="mlp"),
            "dropout": Float(0.0, 0.5),
            "epochs": Fidelity(1, 27),
        }
    )


def fake_loss(config: dict[str, Any], fidelity: float) -> float:
    """A cheap, deterministic learning curve: better with more epochs, best near lr=1e-2."""
    loss = (math.log10(config["lr"]) + 2.0) ** 2 + 0.05 * abs(config["depth"] - 4) + config["dropout"] / 5
    if config["model"] == "mlp":
        loss -= 0.1 * math.log2(config["model.mlp.width"]) / 8
    return loss + 1.0 / float(fidelity)


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
    """A study run with ``workers`` trials in flight; trials ``fails(number)`` says fail."""

    optimizer: Optimizer
    workers: int = 1
    fails: Callable[[int], bool] = lambda number: number % 7 == 3
    history: list[TrialRecord] = field(default_factory=list)
    #: (the history the optimizer saw, what it proposed) for every successful ask.
    asks: list[tuple[list[TrialRecord], Proposal]] = field(default_factory=list)

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
            proposal = self.optimizer.propose(StudyView.of(seen))
            if proposal is None:
                assert running, f"{self.optimizer.name} waits although no trial is running"
                self.finish(running.popleft())
                continue
            self.asks.append((seen, proposal))
            number = len(self.history)
            self.history.append(record(number, proposal, TrialStatus.RUNNING))
            running.append(number)
            if len(running) >= self.workers:
                self.finish(running.popleft())
        while running:
            self.finish(running.popleft())
        return self


@pytest.fixture
def space() -> Space:
    return build_space()


@pytest.fixture
def objectives() -> Sequence[Objective]:
    return (Objective("loss"),)


@pytest.fixture
def simulate() -> Callable[..., Simulation]:
    """``simulate(optimizer, trials, workers=1, fails=...)`` runs a simulated study and returns it."""

    def run(optimizer: Optimizer, trials: int, workers: int = 1, **kw: Any) -> Simulation:
        return Simulation(optimizer, workers, **kw).run(trials)

    return run


@pytest.fixture
def make_record() -> Callable[..., TrialRecord]:
    return record
