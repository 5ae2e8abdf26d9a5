"""``freeze_thaw_network``: freeze_thaw whose final-value predictions join the GP's and the curve network's.

For the search measurement of ``python -m benchmarks.curve_pfn search`` only (``register_for_search``
registers it in the benchmark's worker processes; no user-facing optimizer). At every candidate
judged at the full fidelity the GP's prediction and the network's (``network.answer``, with the
weights of ``train``) are joined by their precisions, so that the network counts most early,
where the GP is flat, and the GP as its own standard deviations shrink. Everything else is ``freeze_thaw``.
``freeze_thaw_network_first`` uses the joined model only until a run reaches the full fidelity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.curve_pfn.network import WEIGHTS, answer, load_network
from benchmarks.curve_pfn.prior import D_MAX
from metaml.core.records import TrialRecord
from metaml.optimizers.freeze_thaw import Choice, FreezeThaw
from metaml.optimizers.freeze_thaw_model import CurveModel
from metaml.optimizers.freeze_thaw_runs import Run
from metaml.optimizers.registry import register


def join(mean: np.ndarray, std: np.ndarray, other: np.ndarray, other_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent Gaussian estimates joined by their precisions."""
    p1, p2 = 1.0 / np.maximum(std, 1e-9) ** 2, 1.0 / np.maximum(other_std, 1e-9) ** 2
    return (p1 * mean + p2 * other) / (p1 + p2), 1.0 / np.sqrt(p1 + p2)


class Joined(CurveModel):
    """A freeze_thaw curve model whose predictions at the full fidelity are joined with the network's."""

    def __init__(self, model: CurveModel, net: Any) -> None:  # the GP is the fitted model's, not refitted
        self.model, self.net = model, net
        self.rows, self.values, self.gp = model.rows, model.values, model.gp

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self.model.predict(X)
        full = np.flatnonzero(X[:, -1] >= 1.0 - 1e-9)
        if not len(full) or X.shape[1] - 1 > D_MAX or self.rows.n == 0:
            return mean, std
        net_mean, net_std = answer(self.net, self.rows.X, self.rows.y[:, 0], X[full, :-1])
        mean, std = mean.copy(), std.copy()
        mean[full], std[full] = join(mean[full], std[full], net_mean, net_std)
        return mean, std


class NetworkFreezeThaw(FreezeThaw):
    """``freeze_thaw`` with its full-fidelity predictions joined with the curve network's (module docstring)."""

    name = "freeze_thaw_network"

    def __init__(self, *args: Any, weights: str = str(WEIGHTS), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weights = weights

    def _acquire(self, history: Sequence[TrialRecord], runs: Sequence[Run], model: CurveModel) -> Choice:
        return super()._acquire(history, runs, Joined(model, load_network(self.weights)))


class NetworkFirstFreezeThaw(NetworkFreezeThaw):
    """The joined model until a run reaches the full fidelity, then ``freeze_thaw``'s GP alone.

    The joined model made the better first full-fidelity choice and the worse ones after it
    (docs/benchmarks.md); this hands over at that point.
    """

    name = "freeze_thaw_network_first"

    def _acquire(self, history: Sequence[TrialRecord], runs: Sequence[Run], model: CurveModel) -> Choice:
        if any(r.last_step >= self.full - 1e-9 for r in runs):
            return FreezeThaw._acquire(self, history, runs, model)
        return super()._acquire(history, runs, model)


def register_for_search() -> None:
    """Make the network's variants names the runner can build, in this process only."""
    for optimizer in (NetworkFreezeThaw, NetworkFirstFreezeThaw):
        register(optimizer.name, optimizer)
