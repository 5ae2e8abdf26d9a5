"""Regret against FTE, median and interquartile band over every seed and task, one PNG per family.

Each run's incumbent trajectory is a step function of the FTE spent; on a common grid its
normalized regret is +inf before the first full-fidelity result. Median and quartiles use
the same censored statistics as the tables (``benchmarks.stats``), so a line or band is
drawn only where the quantile is finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.stats import quantile

#: Regret at or below this is drawn at it: log scale, and LCBench's "best" is only the best of
#: 5,000 random configurations, which optimizers beat (negative regret).
FLOOR = 1e-3


def regret_at(result: dict[str, Any], grid: np.ndarray) -> np.ndarray:
    """The run's normalized regret at each FTE of ``grid`` (+inf before anything is found)."""
    t = result["targets"]
    scale = t["median"] - t["best"]
    out = np.full(len(grid), math.inf)
    for fte, value in result["trajectory"]:
        out[grid >= fte - 1e-9] = (value - t["best"]) / scale
    return out


def bands(results: Sequence[dict[str, Any]], grid: np.ndarray) -> dict[str, np.ndarray]:
    """Median, 25% and 75% of regret over runs at each grid point (inf where censored)."""
    curves = np.array([regret_at(r, grid) for r in results])
    return {name: np.array([quantile(curves[:, j].tolist(), q) for j in range(len(grid))])
            for name, q in (("median", 0.5), ("q25", 0.25), ("q75", 0.75))}


def plot_family(results: Sequence[dict[str, Any]], path: Path, title: str, budget: float | None = None,
                banded: set[str] | None = None) -> Path:
    """Draw one family's regret curves and write ``path`` (PNG).

    Every optimizer gets its median line; those in ``banded`` (all when None) also get their
    IQR band, because a dozen overlapping bands hide each other.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = budget or max(float(r["budget_fte"]) for r in results)
    grid = np.linspace(0.0, budget, 301)[1:]
    by_opt: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_opt.setdefault(r["optimizer"], []).append(r)
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    tab10 = plt.get_cmap("tab10")
    palette = [tab10(i) for i in range(10) if i != 7]  # tab10's grey is metaml's scratch line
    n_peer = 0
    for name, rs in by_opt.items():
        b = {k: np.maximum(v, FLOOR) for k, v in bands(rs, grid).items()}
        metaml = rs[0].get("kind", "metaml") == "metaml"
        style: dict[str, Any]
        if metaml:  # metaml's lines in black and grey, thick; peers in colours
            color: Any = "0.55" if name.endswith("-scratch") else "black"
            style = {"lw": 2.6, "ls": "-"}
        else:
            color = palette[n_peer % len(palette)]
            style = {"lw": 1.4, "ls": ("-", "--", "-.", ":")[(n_peer // len(palette)) % 4]}
            n_peer += 1
        med = np.where(np.isfinite(b["median"]), b["median"], np.nan)
        ax.plot(grid, med, color=color, label=f"{name} ({len(rs)} runs)", **style)
        if banded is not None and name not in banded:
            continue
        lo, hi = b["q25"], b["q75"]
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(grid, np.where(ok, lo, np.nan), np.where(ok, hi, np.nan), color=color,
                        alpha=0.18 if metaml else 0.15, lw=0)
    for x in (3, 5, 10, 30):
        if x <= budget:
            ax.axvline(x, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("full-training equivalents (FTE) spent")
    ax.set_ylabel(f"normalized regret of the best full-fidelity result (floor {FLOOR:g})")
    ax.set_yscale("log")
    ax.set_ylim(FLOOR * 0.8, 1.5)
    ax.set_xlim(0, budget)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
