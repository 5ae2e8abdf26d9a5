"""The training side of ``freeze_thaw``'s curve network (the network itself: ``metaml.optimizers.curve_network``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Where ``train`` writes the weights by default (``compare --weights`` and the search's specs read them from there).
WEIGHTS = Path(".benchmarks-cache/curve-pfn.pt")


def nll(mean: Any, log_sd: Any, y: Any, present: Any) -> Any:
    """Mean Gaussian negative log likelihood of the present queries, each capped at 20 (a rare wild answer early in
    training otherwise dominates the step)."""
    return (log_sd + 0.5 * ((y - mean) / log_sd.exp()) ** 2).clamp(max=20.0)[present].mean()
