"""metaml's optimizers run the package's optimizer conformance suite (``metaml.testing.optimizers``).

A new optimizer gets these checks by adding its name to ``OPTIMIZERS`` below (and, if its
decisions fit a model, a cap to ``MODEL_BASED``), not by writing its own copies.
"""

from __future__ import annotations

from metaml.optimizers import available
from metaml.testing.optimizers import OptimizerSuite

#: Every optimizer the conformance suite checks: a new one is added here.
OPTIMIZERS = [
    "asha",
    "auto",
    "bo",
    "bohb",
    "freeze_thaw",
    "hyperband",
    "moasha",
    "mohb",
    "one_epoch",
    "pb2",
    "pbt",
    "priorband",
    "random",
    "successive_halving",
]
#: Optimizers whose asks fit a model, and the longest study each runs here: the same tests, on shorter
#: studies, to keep the suite fast (``bo``: past its initial design; ``bohb``: to its first full-fidelity trial).
MODEL_BASED = {"bo": 14, "bohb": 65, "freeze_thaw": 60, "pb2": 75}


class TestOptimizers(OptimizerSuite):
    names = OPTIMIZERS
    longest = MODEL_BASED


def test_the_schedulers_are_registered() -> None:
    assert {"random", "successive_halving", "hyperband", "asha", "priorband"} <= set(available())


def test_every_registered_optimizer_is_checked() -> None:
    missing = sorted(set(available()) - set(OPTIMIZERS))
    assert not missing, f"add {missing} to OPTIMIZERS in {__file__}"
