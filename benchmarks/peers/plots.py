"""Regret (or, for multi-objective families, normalized hypervolume) against FTE, median and
interquartile band over every seed and task, one PNG per family.

Each run's incumbent trajectory is a step function of the FTE spent; on a common grid its
normalized regret is +inf before the first full-fidelity result. Median and quartiles use
the same censored statistics as the tables (``benchmarks.stats``), so a line or band is
drawn only where the quantile is finite.

A multi-objective run's ``mo.trajectory`` (``benchmarks.peers.mo``) holds its hypervolume
after each increase, so its hypervolume is known at every FTE, not only at the tables'
checkpoints: 0 before the first full-fidelity result, divided by the hypervolume of the
5,000-random-configuration front (``mo.hv_random``) like the tables' ``hv_norm``.
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


def hv_norm_at(result: dict[str, Any], grid: np.ndarray) -> np.ndarray:
    """The run's hypervolume / the random front's at each FTE of ``grid`` (0 before anything is found)."""
    mo = result["mo"]
    norm = float(mo["hv_random"]) if float(mo["hv_random"]) > 0 else math.nan
    out = np.zeros(len(grid))
    for fte, hv in mo["trajectory"]:
        out[grid >= fte - 1e-9] = hv / norm
    return out


def hv_bands(results: Sequence[dict[str, Any]], grid: np.ndarray) -> dict[str, np.ndarray]:
    """Median, 25% and 75% of normalized hypervolume over runs (tasks and seeds pooled) at each grid point."""
    curves = np.array([hv_norm_at(r, grid) for r in results])
    return {name: np.array([quantile(curves[:, j].tolist(), q) for j in range(len(grid))])
            for name, q in (("median", 0.5), ("q25", 0.25), ("q75", 0.75))}


def _by_optimizer(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_opt: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_opt.setdefault(r["optimizer"], []).append(r)
    return by_opt


def _styles(by_opt: dict[str, list[dict[str, Any]]], palette: Sequence[Any]) -> dict[str, tuple[Any, dict[str, Any], bool]]:
    """Colour, line style and whether it is metaml's, per optimizer: metaml's lines in black and
    grey (``-scratch``, in its warm-started twin's dash), thick, each metaml optimizer with its own
    dash; peers in colours, then dashed once the colours run out."""
    dashes = ("-", "--", "-.", ":")
    metaml = [name for name, rs in by_opt.items() if rs[0].get("kind", "metaml") == "metaml"]
    bases = list(dict.fromkeys(name.removesuffix("-scratch") for name in metaml))
    out: dict[str, tuple[Any, dict[str, Any], bool]] = {}
    n_peer = 0
    for name in by_opt:
        if name in metaml:
            ls = dashes[bases.index(name.removesuffix("-scratch")) % len(dashes)]
            out[name] = ("0.55" if name.endswith("-scratch") else "black", {"lw": 2.6, "ls": ls}, True)
        else:
            out[name] = (palette[n_peer % len(palette)],
                         {"lw": 1.4, "ls": ("-", "--", "-.", ":")[(n_peer // len(palette)) % 4]}, False)
            n_peer += 1
    return out


def _palette(plt: Any) -> list[Any]:
    tab10 = plt.get_cmap("tab10")
    return [tab10(i) for i in range(10) if i != 7]  # tab10's grey is metaml's scratch line


def plot_family(results: Sequence[dict[str, Any]], path: Path, title: str, budget: float | None = None,
                banded: set[str] | None = None) -> Path:
    """Draw one family's regret curves and write ``path`` (PNG).

    Every optimizer gets its median line; those in ``banded`` (all when None) also get their
    IQR band, because a dozen overlapping bands hide each other.
    """
    budget, grid, by_opt, styles, fig, ax = _start(results, budget)
    for name, rs in by_opt.items():
        b = {k: np.maximum(v, FLOOR) for k, v in bands(rs, grid).items()}
        color, style, metaml = styles[name]
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
    return _finish(fig, ax, path, title, budget, "upper right")


def _start(results: Sequence[dict[str, Any]], budget: float | None) -> tuple[
        float, np.ndarray, dict[str, list[dict[str, Any]]], dict[str, tuple[Any, dict[str, Any], bool]], Any, Any]:
    """The common start of every figure: budget, FTE grid, runs by optimizer, line styles, axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = budget or max(float(r["budget_fte"]) for r in results)
    grid = np.linspace(0.0, budget, 301)[1:]
    by_opt = _by_optimizer(results)
    styles = _styles(by_opt, _palette(plt))
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    return budget, grid, by_opt, styles, fig, ax


def _finish(fig: Any, ax: Any, path: Path, title: str, budget: float, legend: str) -> Path:
    """The common end of every figure: x range, title, grid, legend, and the PNG written."""
    import matplotlib.pyplot as plt

    ax.set_xlim(0, budget)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc=legend)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


#: The multi-objective plot's y axis starts here: the medians live between 0.8 and 1.05, and
#: every run's hypervolume is 0 until its first full-fidelity result (drawn as a vertical rise).
HV_AXIS_MIN = 0.6


def plot_mo_family(results: Sequence[dict[str, Any]], path: Path, title: str, budget: float | None = None,
                   banded: set[str] | None = None) -> Path:
    """Draw one multi-objective family's normalized-hypervolume curves and write ``path`` (PNG).

    Same conventions as :func:`plot_family`: a median line per optimizer, IQR bands for those
    in ``banded`` (all when None), metaml in black and grey; a dotted line at 1 (the random
    front's hypervolume) and a dashed one at the target's share of it.
    """
    budget, grid, by_opt, styles, fig, ax = _start(results, budget)
    top = 1.0
    for name, rs in by_opt.items():
        b = hv_bands(rs, grid)
        color, style, metaml = styles[name]
        ax.plot(grid, b["median"], color=color, label=f"{name} ({len(rs)} runs)", **style)
        top = max(top, float(np.nanmax(b["median"])))
        if banded is not None and name not in banded:
            continue
        ax.fill_between(grid, b["q25"], b["q75"], color=color, alpha=0.1 if metaml else 0.15, lw=0)
        top = max(top, float(np.nanmax(b["q75"])))
    for x in (3, 5, 10, 30):
        if x <= budget:
            ax.axvline(x, color="grey", lw=0.6, ls=":")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    shares = {float(r["mo"]["share"]) for r in results if r["mo"].get("share") is not None}
    if len(shares) == 1:
        share = shares.pop()
        ax.axhline(share, color="grey", lw=0.8, ls="--")
        ax.annotate(f"HV target: {share:g} x HV_rand", (0, share), xytext=(4, -10), textcoords="offset points",
                    ha="left", fontsize=7, color="0.4")
    ax.set_xlabel("full-training equivalents (FTE) spent")
    ax.set_ylabel(f"HV / HV_rand (5,000-random-configuration front)\nof the full-fidelity results; axis from {HV_AXIS_MIN:g}")
    ax.set_ylim(HV_AXIS_MIN, top + 0.01)
    return _finish(fig, ax, path, title, budget, "lower right")
