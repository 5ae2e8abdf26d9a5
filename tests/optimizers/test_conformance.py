"""metaml's optimizers run the package's optimizer conformance suite (``metaml.testing.optimizers``).

A new optimizer gets these checks by adding its name to ``OPTIMIZERS`` below (and, if its
decisions fit a model, a cap to ``MODEL_BASED``), not by writing its own copies.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from metaml.objectives import Objective
from metaml.optimizers import Optimizer, available, make_optimizer
from metaml.space import Space
from metaml.testing.optimizers import OptimizerSuite, build_warm_start

#: Every optimizer the conformance suite checks: a new one is added here.
OPTIMIZERS = [
    "asha",
    "auto",
    "bo",
    "bohb",
    "freeze_thaw",
    "freeze_thaw+curve_network",
    "hyperband",
    "moasha",
    "mohb",
    "one_epoch",
    "one_epoch+trend+model",
    "oneshot",
    "pb2",
    "pbt",
    "priorband",
    "random",
    "successive_halving",
    "transfer",
]
#: Optimizers whose asks fit a model, and the longest study each runs here: the same tests, on shorter
#: studies, to keep the suite fast (``bo``: past its initial design; ``bohb``: to its first full-fidelity trial;
#: ``oneshot``: its supernet, a quarter of the full fidelity, then its fallback bohb to that trial).
MODEL_BASED = {"bo": 14, "bohb": 65, "freeze_thaw": 60, "freeze_thaw+curve_network": 30, "one_epoch+trend+model": 40, "oneshot": 66, "pb2": 75, "transfer": 65}
#: Settings an optimizer needs for the suite's space: oneshot relaxes its depth and width (the suite's trials
#: report no architecture, so after the supernet it runs its fallback, bohb, which the suite then checks too).
SETTINGS = {"oneshot": {"architecture": ["depth", "model.mlp.width"]}}
#: Variants checked beside their optimizer's defaults: a name of the list above and the spec it builds.
VARIANTS = {"one_epoch+trend+model": {"name": "one_epoch", "rank_by": "trend", "sampler": "model", "per_round": 5},
            "freeze_thaw+curve_network": {"name": "freeze_thaw", "curve_network": True}}
#: The transfer optimizer over each base it is combined with, run as a warm-started study.
WARM_STARTED = {"transfer": {"name": "transfer", "base": "bohb"},
                "transfer+freeze_thaw": {"name": "transfer", "base": "freeze_thaw"}}


class TestOptimizers(OptimizerSuite):
    names = OPTIMIZERS
    longest = MODEL_BASED

    @staticmethod
    def build(name: str, space: Space, objectives: Sequence[Objective], seed: int = 0) -> Optimizer:
        spec = VARIANTS.get(name) or {"name": name, **SETTINGS.get(name, {})}
        return make_optimizer(spec, space, objectives, seed)


@pytest.mark.slow  # the whole suite a second time (transfer also runs in TestOptimizers, unwarmed, by default)
class TestWarmStarted(OptimizerSuite):
    """The whole suite again on views that carry earlier studies (one faithful, one scrambled)."""

    names = list(WARM_STARTED)
    longest = {"transfer": 65, "transfer+freeze_thaw": 40}
    warm_start = build_warm_start()

    @staticmethod
    def build(name: str, space: Space, objectives: Sequence[Objective], seed: int = 0) -> Optimizer:
        return make_optimizer(WARM_STARTED[name], space, objectives, seed)


def test_the_schedulers_are_registered() -> None:
    assert {"random", "successive_halving", "hyperband", "asha", "priorband"} <= set(available())


def test_every_registered_optimizer_is_checked() -> None:
    missing = sorted(set(available()) - set(OPTIMIZERS))
    assert not missing, f"add {missing} to OPTIMIZERS in {__file__}"
