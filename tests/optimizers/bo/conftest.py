"""Shared helpers for the ``bo`` tests: records, and sequential studies on cheap functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from metaml.core.records import Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.optimizers.base import Optimizer

Metrics = Callable[[Mapping[str, Any]], dict[str, float] | None]


def trial(
    number: int,
    config: Mapping[str, Any],
    metrics: Mapping[str, float] | None = None,
    status: TrialStatus | None = None,
    fidelity: float | None = None,
) -> TrialRecord:
    """A finished trial (completed with ``metrics``, failed without) or one with the given status."""
    if status is None:
        status = TrialStatus.COMPLETED if metrics is not None else TrialStatus.FAILED
    return TrialRecord(
        study_id=1,
        number=number,
        config=dict(config),
        fidelity=fidelity,
        continue_from=None,
        status=status,
        metrics=None if metrics is None else dict(metrics),
    )


def run_study(optimizer: Optimizer, metrics: Metrics, trials: int) -> tuple[list[TrialRecord], list[Proposal]]:
    """Ask, evaluate and record ``trials`` times, one trial at a time; ``metrics`` None means failed."""
    history: list[TrialRecord] = []
    proposals: list[Proposal] = []
    for number in range(trials):
        proposal = optimizer.propose(StudyView.of(history))
        assert proposal is not None
        proposals.append(proposal)
        history.append(trial(number, proposal.config, metrics(proposal.config), fidelity=proposal.fidelity))
    return history, proposals


@pytest.fixture
def make_trial() -> Callable[..., TrialRecord]:
    return trial


@pytest.fixture
def study() -> Callable[..., tuple[list[TrialRecord], list[Proposal]]]:
    """``study(optimizer, metrics, trials)`` runs a sequential simulated study."""
    return run_study

