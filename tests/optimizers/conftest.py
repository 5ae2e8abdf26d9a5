"""Shared fixtures for the optimizer tests: a space with a fidelity, and a simulated study.

The space, the simulation and the records are the conformance suite's
(``metaml.testing.optimizers``), so that every test here drives optimizers as it does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from metaml.core.records import TrialRecord
from metaml.objectives import Objective
from metaml.space import Space
from metaml.testing.optimizers import Simulation, build_space, fake_loss, record, simulate

__all__ = ["Simulation", "build_space", "fake_loss", "record"]  # imported by test modules from here


@pytest.fixture
def space() -> Space:
    return build_space()


@pytest.fixture
def objectives() -> Sequence[Objective]:
    return (Objective("loss"),)


@pytest.fixture(name="simulate")
def simulate_fixture() -> Callable[..., Simulation]:
    """``simulate(optimizer, trials, workers=1, fails=...)`` runs a simulated study and returns it."""
    return simulate


@pytest.fixture
def make_record() -> Callable[..., TrialRecord]:
    return record
