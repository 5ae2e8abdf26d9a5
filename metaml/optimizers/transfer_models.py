"""The models of transfer: one surrogate per earlier study, and RGPE's ranking-loss weights.

Each earlier study gets a random forest fitted on its matched observations (this space's
encoding plus the share of a full run it trained), so that it predicts any configuration at
any fidelity. How much an earlier study may steer this one is decided the way RGPE decides it
(Feurer, Letham, Hutter & Bakshy 2018): by how often its model orders this study's own
results wrongly. The ranking loss of a model is the number of pairs of this study's results
(at one fidelity) that it puts in the wrong order; over bootstrap resamples of the results,
each model's weight is the share of resamples in which its loss is the lowest (ties shared).
This study's own model is scored on out-of-bag predictions, so that it is not judged on what
it memorized. An earlier study whose median loss is above the 95th percentile of this study's
own model's loses all weight (RGPE's guard against weight dilution); so a misleading earlier
study, whose ranking disagrees with what this study measures, is dropped as soon as this study
has a few results of its own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metaml.core.warm_start import PriorStudy
from metaml.space import Space

#: Bootstrap resamples of this study's results per weighing (RGPE uses 1,000; the weights settle long before).
N_BOOTSTRAP = 64
#: This study's results it needs before its own model is fitted and weighed.
MIN_OWN = 5
#: Trees per forest: enough for stable out-of-bag predictions on a few dozen points.
N_TREES = 32


@dataclass(frozen=True)
class Points:
    """Configurations encoded with the share of a full run they trained, and their losses (lower is better)."""

    X: np.ndarray
    y: np.ndarray
    #: The fidelity share of each point: only results at one fidelity are compared with each other.
    fraction: np.ndarray


def features(space: Space, configs: Sequence[dict], fractions: Sequence[float]) -> np.ndarray:
    """Rows of a model's input: the unit-cube encoding and the fidelity share."""
    if not configs:
        return np.zeros((0, space.n_dims + 1))
    X = np.stack([space.encode(c) for c in configs])
    return np.column_stack([X, np.asarray(fractions, dtype=float)])


def source_points(space: Space, source: PriorStudy) -> Points:
    usable = [o for o in source.observations if math.isfinite(o.loss)]
    X = features(space, [dict(o.config) for o in usable], [o.fraction for o in usable])
    return Points(X, np.array([o.loss for o in usable], dtype=float), np.array([o.fraction for o in usable]))


def fit_forest(points: Points, seed: int, oob: bool = False):  # type: ignore[no-untyped-def]
    """A random forest on ``points`` (deterministic for its seed); with ``oob`` its out-of-bag predictions kept."""
    from sklearn.ensemble import RandomForestRegressor

    model = RandomForestRegressor(n_estimators=N_TREES, min_samples_leaf=1, max_features=0.7, bootstrap=True,
                                  oob_score=oob, random_state=seed, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a point no tree left out gets NaN (handled), sklearn warns
        model.fit(points.X, points.y)
    return model


def discordance(pred: np.ndarray, points: Points) -> np.ndarray:
    """D[a, b] = 1 where the model orders results a and b (of one fidelity) against what was measured."""
    y, frac = points.y, points.fraction
    same = np.isclose(frac[:, None], frac[None, :]) & (y[:, None] < y[None, :])
    wrong = ~(pred[:, None] < pred[None, :])
    bad = same & wrong
    valid = np.isfinite(pred)
    bad &= valid[:, None] & valid[None, :]
    return bad.astype(float)


@dataclass(frozen=True)
class Weights:
    """How much each earlier study (in order) and this study's own model weigh now, and the losses behind it."""

    sources: tuple[float, ...]
    own: float
    #: Pairs of this study's results the weights were decided on (0: none yet, every source weighs alike).
    pairs: int
    #: Sources dropped by the dilution guard (their ranking is worse than this study's own model's).
    dropped: tuple[int, ...] = ()

    @property
    def share(self) -> float:
        """What the earlier studies weigh together."""
        return float(sum(self.sources))


def rgpe_weights(source_preds: Sequence[np.ndarray], own_pred: np.ndarray | None, points: Points,
                 rng: np.random.Generator) -> Weights:
    """RGPE's weights of the earlier studies' models and this study's own, from ranking losses on ``points``."""
    k = len(source_preds)
    n = len(points.y)
    models = list(source_preds) + ([own_pred] if own_pred is not None else [])
    D = [discordance(p, points) for p in models]
    comparable = np.isclose(points.fraction[:, None], points.fraction[None, :]) & (
        points.y[:, None] < points.y[None, :])
    pairs = int(comparable.sum())
    if k == 0:
        return Weights((), 1.0, pairs)
    if pairs == 0 or n < 2:
        return Weights(tuple([1.0 / k] * k), 0.0, pairs)
    counts = np.stack([np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(N_BOOTSTRAP)]).astype(float)
    losses = np.stack([np.einsum("si,ij,sj->s", counts, d, counts) for d in D])  # (models, samples)
    dropped: list[int] = []
    if own_pred is not None:
        limit = np.percentile(losses[-1], 95)
        dropped = [i for i in range(k) if np.median(losses[i]) > limit]
    active = np.ones(len(models), dtype=bool)
    active[dropped] = False
    masked = np.where(active[:, None], losses, np.inf)
    best = masked.min(axis=0)
    wins = (masked == best[None, :]).astype(float)
    wins /= wins.sum(axis=0, keepdims=True)
    w = wins.mean(axis=1)
    own = float(w[-1]) if own_pred is not None else 0.0
    return Weights(tuple(float(x) for x in w[:k]), own, pairs, tuple(dropped))
