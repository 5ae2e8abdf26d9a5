"""A zero-shot portfolio: the configurations that did best across the earlier studies, chosen greedily.

Greedy portfolio construction (Feurer et al. 2015, 2018; Wistuba et al. 2015): the candidates
are each earlier study's best configurations at its highest fidelity; the portfolio starts
empty and each step adds the candidate that most lowers the sum, over the earlier studies, of
the best normalized loss the portfolio reaches on each. A candidate was measured only on the
study it came from, so its loss on another is that study's surrogate's prediction
(``transfer_models``), scaled to [0, 1] per study. The result covers the earlier tasks
instead of repeating the one configuration that won most of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from metaml.core.warm_start import PriorStudy

#: Candidates taken from each earlier study: its best this many configurations.
PER_SOURCE = 5


def top_configs(source: PriorStudy, m: int = PER_SOURCE) -> list[dict[str, Any]]:
    """The study's best ``m`` configurations, those trained furthest first (distinct)."""
    usable = [o for o in source.observations if math.isfinite(o.loss)]
    ranked = sorted(usable, key=lambda o: (-round(o.fraction, 6), o.loss, o.trial))
    out: list[dict[str, Any]] = []
    for o in ranked:
        if dict(o.config) not in out:
            out.append(dict(o.config))
        if len(out) >= m:
            break
    return out


def greedy_portfolio(sources: Sequence[PriorStudy], size: int,
                     predict: Callable[[int, list[dict[str, Any]]], np.ndarray]) -> list[tuple[dict[str, Any], str]]:
    """Up to ``size`` configurations, each with the study it came from, in the order greedy picks them.

    ``predict(i, configs)`` is earlier study ``i``'s predicted loss of each config at a full run.
    """
    candidates: list[dict[str, Any]] = []
    origin: list[str] = []
    for s in sources:
        for c in top_configs(s):
            if c not in candidates:
                candidates.append(c)
                origin.append(s.name)
    if not candidates or size <= 0:
        return []
    R = np.stack([predict(i, candidates) for i in range(len(sources))], axis=1)  # (candidates, sources)
    lo, hi = R.min(axis=0), R.max(axis=0)
    R = (R - lo) / np.where(hi > lo, hi - lo, 1.0)
    chosen: list[int] = []
    reached = np.full(len(sources), np.inf)
    for _ in range(min(size, len(candidates))):
        cost = np.minimum(reached[None, :], R).sum(axis=1)
        cost[chosen] = np.inf
        pick = int(np.argmin(cost))  # ties: the earlier candidate
        chosen.append(pick)
        reached = np.minimum(reached, R[pick])
    return [(candidates[i], origin[i]) for i in chosen]
