"""The training side of ``freeze_thaw``'s curve network (``metaml.optimizers.curve_network``): its loss and weights path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metaml.optimizers.curve_network import answer, load_network, make_network

#: Where ``train`` writes the weights and ``compare`` and ``search`` read them, by default (``--weights``).
WEIGHTS = Path(".benchmarks-cache/curve-pfn.pt")

__all__ = ["WEIGHTS", "answer", "load_network", "make_network", "nll"]


def nll(mean: Any, log_sd: Any, y: Any, present: Any) -> Any:
    """Mean Gaussian negative log likelihood of the present queries, each capped at 20 (a rare wild answer early in
    training otherwise dominates the step)."""
    return (log_sd + 0.5 * ((y - mean) / log_sd.exp()) ** 2).clamp(max=20.0)[present].mean()
