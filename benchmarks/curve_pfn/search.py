"""``freeze_thaw_network``: freeze_thaw whose final-value predictions are always joined with the curve network's.

For the search measurement of ``python -m benchmarks.curve_pfn search`` only (``register_for_search``
registers it in the benchmark's worker processes; no user-facing optimizer). At every candidate
judged at the full fidelity the GP's prediction and the network's (``curve_network.Joined``, with
the shipped weights or ``weights``) are joined by their precisions, at every ask. ``freeze_thaw`` with
``curve_network`` (``freeze_thaw@curve_network=true`` here) joins them only until a run reaches the
full fidelity, the variant that was kept (docs/benchmarks.md). ``freeze_thaw_network_common`` is that
setting with every network answer counted at one common spread, ``freeze_thaw_network_anytime``
``freeze_thaw`` with the network only for its anytime choice; ``freeze_thaw_deadline`` chooses the anytime run
among those that can end by ``first_full_by`` FTE, ``freeze_thaw_network_gp_anytime`` is ``curve_network`` with
the anytime choice left to the GP (all measured, not kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from metaml.core.records import TrialRecord
from metaml.optimizers.curve_network import Joined, load_network
from metaml.optimizers.freeze_thaw import Choice, FreezeThaw
from metaml.optimizers.freeze_thaw_model import CurveModel
from metaml.optimizers.freeze_thaw_runs import Run
from metaml.optimizers.registry import register


class NetworkFreezeThaw(FreezeThaw):
    """``freeze_thaw`` with its full-fidelity predictions joined with the curve network's at every ask."""

    name = "freeze_thaw_network"

    def __init__(self, *args: Any, weights: str | None = None, **kwargs: Any) -> None:  # None: the shipped weights
        super().__init__(*args, **kwargs)
        self.weights = weights

    def _acquire(self, history: Sequence[TrialRecord], runs: Sequence[Run], model: CurveModel) -> Choice:
        return super()._acquire(history, runs, Joined(model, load_network(self.weights)))


class CommonSpreadJoined(Joined):
    """Every network answer counted with the median of their standard deviations.

    Why tried: where the GP is flat, the precision join favours the answers the network is surest of, and
    those need not be its lowest (on a synthetic study in the tests the join ranked the finals with Spearman
    -0.89, the network alone 0.88). Measured worse on the search (docs/benchmarks.md); not in freeze_thaw.
    """

    def network(self, configs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = super().network(configs)
        return mean, np.full_like(std, float(np.median(std)))


class CommonSpreadFreezeThaw(FreezeThaw):
    """``freeze_thaw`` with ``curve_network``, joined as ``CommonSpreadJoined``."""

    name = "freeze_thaw_network_common"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"curve_network": True, **kwargs})

    def _with_network(self, model: CurveModel) -> CurveModel:
        return CommonSpreadJoined(model, load_network(None))


class AnytimeNetworkFreezeThaw(FreezeThaw):
    """``freeze_thaw`` whose anytime choice (the run sent straight to the full fidelity) is made with the joined
    model, and every other decision by the GP alone."""

    name = "freeze_thaw_network_anytime"

    def _acquire(self, history: Sequence[TrialRecord], runs: Sequence[Run], model: CurveModel) -> Choice:
        if self._first_full_due(history, runs):
            model = Joined(model, load_network(None))
        return super()._acquire(history, runs, model)


class DeadlineFreezeThaw(FreezeThaw):
    """``freeze_thaw`` whose anytime choice is made among the paused runs that can reach the full fidelity by
    ``first_full_by`` FTE (the best predicted of those; if none can, the one closest to the end)."""

    name = "freeze_thaw_deadline"

    def __init__(self, *args: Any, first_full_by: float = 1.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_full_by = float(first_full_by)

    def _anytime_pick(self, history: Sequence[TrialRecord], paused: Sequence[Run], mean_full: np.ndarray) -> int:
        left = np.array([(self.full - r.last_step) / self.full for r in paused])
        room = max(self.first_full_by - self._spent(history), float(left.min()))
        return int(np.argmin(np.where(left <= room + 1e-9, mean_full, np.inf)))


class GPAnytimeFreezeThaw(FreezeThaw):
    """``freeze_thaw`` with ``curve_network`` for every decision but the anytime choice, which the GP makes alone
    (the GP prefers runs closer to the end, so the first full result should land earlier)."""

    name = "freeze_thaw_network_gp_anytime"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"curve_network": True, **kwargs})

    def _acquire(self, history: Sequence[TrialRecord], runs: Sequence[Run], model: CurveModel) -> Choice:
        if self._first_full_due(history, runs) and isinstance(model, Joined):
            model = model.model
        return super()._acquire(history, runs, model)


def register_for_search() -> None:
    """Make the network's benchmark-only variants names the runner can build, in this process only."""
    for optimizer in (NetworkFreezeThaw, CommonSpreadFreezeThaw, AnytimeNetworkFreezeThaw, DeadlineFreezeThaw,
                      GPAnytimeFreezeThaw):
        register(optimizer.name, optimizer)
