"""The learning-curve model of ``freeze_thaw``: one Gaussian process over (configuration, step).

**Inputs and outputs.** A row is one curve point: the configuration through
``space.encode`` (the unit cube) and one more column, the step on a log scale,
``z = log(step / lower) / log(upper / lower)`` (0 at the lowest fidelity, 1 at the full one).
Its output is the *log* of the loss (shifted so that it is positive when the loss can be
zero or negative): errors that differ by a factor matter alike at 0.5 and at 0.005, and
learning curves are closer to straight lines in log-log. BoTorch's ``SingleTaskGP`` (the
``bo`` model's, ``bo.model.make_gp``) with its ARD RBF kernel over all columns is then a
product of a kernel over configurations and one over steps: a point informs the same
configuration's later steps (the curve) and nearby configurations at every step (the
shared shape), which is what freeze-thaw needs from a model. Its prediction at ``z = 1`` is
the final value of a paused run or of a configuration not yet tried.

Chosen by measurement among the candidates of the literature (``python -m
benchmarks.freeze_thaw models``, figures in docs/benchmarks.md): on 250 LCBench
configurations per development task with curves of random lengths, this GP ranked the
partial curves by their final value with Spearman 0.71 to 0.98 (their current values: 0.25
to 0.57), with 75 to 92% of the final values within two standard deviations; the same GP on
the raw loss ranked 0.65 to 0.91, and an ensemble of five power-law networks (the model of
Deep Power Laws) 0.62 to 0.90, with only 43 to 65% within two standard deviations and fits
15 to 40 times slower. A linear trend in the step as the GP's mean (so that extrapolations
revert to an average curve instead of the average loss) was tried and dropped: fitted on
mostly first steps, it extrapolated to absurdly small final losses.

**Rows.** A run contributes the points at steps of a geometric set (1, 2, 3, 4, 6, 8, 12,
16, ... of the fidelity's range) and always its last point; a run frozen by a failure or a
non-finite value contributes the worst loss seen at the step it failed at, as ``bo``
imputes a failed trial. Past ``MAX_ROWS`` the last points of every run are kept and the
rest thinned evenly.

**Hyperparameters** are fitted (``bo.model.fit_hyperparameters``: type-II maximum
likelihood, on at most 100 rows, the deepest half of them kept: ``fit_subset``) only at
*anchors*, trial counts on a geometric grid (``anchor``), on the runs as they stood with the
trials numbered below the anchor, all of them finished; between anchors the GP is
conditioned on every current row with those hyperparameters. The anchor
is a function of the history alone and the fit a deterministic function of its data, so a
fresh optimizer computes exactly what a long-running one takes from its cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from metaml.optimizers.freeze_thaw_runs import BUSY, FROZEN, Run
from metaml.space import Fidelity, Space

#: Rows the GP conditions on at most (an ask stays well under a second on 2 cores at this size).
MAX_ROWS = 500
#: Rows a hyperparameter fit uses at most (``bo.model.fit_hyperparameters`` takes up to 100).
FIT_ROWS = 100
#: The anchor grid: refit when the trial count grows by this factor (and by ``refit_every`` at least).
ANCHOR_GROWTH = 1.3


@dataclass(frozen=True)
class Rows:
    """Model inputs ``n x (d + 1)`` and log-loss outputs ``n x 1``, and the shift of the log transform."""

    X: np.ndarray
    y: np.ndarray
    shift: float

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


class StepScale:
    """Steps to the model's log-scaled column and back; the geometric steps a run keeps as rows."""

    def __init__(self, fidelity: Fidelity, full: float) -> None:
        self.lower, self.full = float(fidelity.lower), float(full)
        self.span = math.log(self.full / self.lower) if self.full > self.lower else 0.0

    def z(self, step: float) -> float:
        if self.span == 0.0:
            return 1.0
        return float(np.clip(math.log(max(step, self.lower) / self.lower) / self.span, 0.0, 1.0))

    def kept(self, step: float) -> bool:
        """Whether a point at ``step`` is one of the geometric set every run contributes (1, 2, 3, 4, 6, 8, ...)."""
        ratio = step / self.lower
        if ratio < 4.5:
            return abs(ratio - round(ratio)) < 1e-9
        k = math.log2(ratio)
        return abs(k - round(k)) < 1e-9 or abs(math.log2(ratio / 3.0) - round(math.log2(ratio / 3.0))) < 1e-9


def anchor(n_trials: int, first: int, refit_every: int) -> int:
    """The largest anchor at or below ``n_trials``: ``first``, then each ``max(refit_every, 30%)`` further."""
    a = first
    if n_trials < first:
        return n_trials
    while True:
        step = max(refit_every, int(math.ceil(a * (ANCHOR_GROWTH - 1.0))))
        if a + step > n_trials:
            return a
        a += step


def log_shift(runs: Sequence[Run]) -> float:
    """What the log transform adds to every loss: 0 when all are positive, else enough to make them so."""
    losses = [v for r in runs for v in r.losses]
    if not losses:
        return 0.0
    low, high = min(losses), max(losses)
    if low > 0:
        return 0.0
    return -low + 0.01 * max(high - low, 1e-6)


def transform(loss: np.ndarray | float, shift: float) -> np.ndarray:
    return np.log(np.maximum(np.asarray(loss, dtype=float) + shift, 1e-12))


Encoder = Callable[[dict], "np.ndarray | None"]


def build_rows(runs: Sequence[Run], scale: StepScale, encoder: Encoder, shift: float | None = None,
               max_rows: int = MAX_ROWS) -> Rows:
    """The rows of ``runs`` (see the module docstring), at most ``max_rows``."""
    shift = log_shift(runs) if shift is None else shift
    worst = max((v for r in runs for v in r.losses), default=None)
    xs: list[np.ndarray] = []
    last: list[tuple[int, float, float]] = []  # (run index, z, loss)
    middle: list[tuple[int, float, float]] = []
    for run in runs:
        x = encoder(run.config)
        if x is None:
            continue
        i = len(xs)
        xs.append(x)
        n = len(run.steps)
        for k, (step, loss) in enumerate(zip(run.steps, run.losses)):
            if k == n - 1:
                last.append((i, scale.z(step), loss))
            elif scale.kept(step):
                middle.append((i, scale.z(step), loss))
        if run.state == FROZEN and worst is not None and run.head.status.finished:
            last.append((i, scale.z(float(run.head.fidelity or run.last_step or scale.full)), worst))
    if len(last) + len(middle) > max_rows:
        room = max(0, max_rows - len(last))
        keep: list[int] = (np.unique(np.round(np.linspace(0, len(middle) - 1, room)).astype(int)).tolist()
                           if room and middle else [])
        middle = [middle[i] for i in keep]
        last = last[-max_rows:]
    rows = middle + last
    d = len(xs[0]) if xs else 0
    if not rows:
        return Rows(np.zeros((0, d + 1)), np.zeros((0, 1)), shift)
    index = np.array([r[0] for r in rows])
    X = np.concatenate([np.stack(xs)[index], np.array([r[1] for r in rows])[:, None]], axis=1)
    y = transform(np.array([r[2] for r in rows]), shift)[:, None]
    return Rows(X, y, shift)


class Encodings:
    """``space.encode`` with a memory: a speed-up only (a configuration always encodes the same)."""

    def __init__(self, space: Space, size: int = 100_000) -> None:
        self.space, self.size = space, size
        self._known: dict[tuple, np.ndarray | None] = {}

    def __call__(self, config: dict) -> np.ndarray | None:
        try:
            key = tuple(sorted(config.items()))
            hash(key)
        except TypeError:
            return self._encode(config)
        if key not in self._known:
            if len(self._known) >= self.size:
                self._known.clear()
            self._known[key] = self._encode(config)
        return self._known[key]

    def _encode(self, config: dict) -> np.ndarray | None:
        try:
            return self.space.encode(config)
        except (KeyError, ValueError, TypeError):  # a configuration the space no longer holds
            return None


class CurveModel:
    """The GP conditioned on the current rows with given hyperparameters: predictions at any (config, step)."""

    def __init__(self, rows: Rows, values: dict) -> None:
        from metaml.optimizers.bo.model import make_gp

        self.rows = rows
        self.values = values
        # make_gp maximizes -losses: its outputs are the negated log losses.
        self.gp = make_gp(rows.X, rows.y, values)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the log loss at the rows of ``X`` (``n x (d + 1)``)."""
        import torch

        if len(X) == 0:
            return np.zeros(0), np.zeros(0)
        with torch.no_grad():
            post = self.gp.posterior(torch.as_tensor(X, dtype=torch.float64))
            mean = -post.mean.squeeze(-1).numpy()
            std = post.variance.clamp_min(1e-12).sqrt().squeeze(-1).numpy()
        return mean, std

    def with_fantasies(self, X: np.ndarray) -> CurveModel:
        """The model with the points ``X`` added at their predicted means (pending trials: "kriging believer")."""
        if len(X) == 0:
            return self
        mean, _ = self.predict(X)
        rows = Rows(np.concatenate([self.rows.X, X]), np.concatenate([self.rows.y, mean[:, None]]), self.rows.shift)
        return CurveModel(rows, self.values)


def fit(rows: Rows, seed: int, cache: object) -> dict:
    """Hyperparameters for ``rows`` (from ``cache`` when the same rows were fitted before); raises GPFitError."""
    from metaml.optimizers.bo.model import HyperparameterCache, fit_hyperparameters

    assert isinstance(cache, HyperparameterCache)
    X, y = fit_subset(rows)
    key = cache.key(X, y, seed)
    values = cache.get(key)
    if values is None:
        values = fit_hyperparameters(X, y, seed)
        cache.put(key, values)
    return values


def fit_subset(rows: Rows, size: int = FIT_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """The rows the hyperparameters are fitted on: the deepest half of ``size``, and an even spread of the rest.

    Most rows of a freeze-thaw study are first steps; an even spread alone would leave the
    step lengthscale (how far a curve's early values tell its final one) to a handful of points.
    """
    if rows.n <= size:
        return rows.X, rows.y
    order = np.argsort(-rows.X[:, -1], kind="stable")
    deep = order[: size // 2]
    rest = np.sort(order[size // 2:])
    spread = rest[np.unique(np.round(np.linspace(0, len(rest) - 1, size - len(deep))).astype(int))]
    keep = np.sort(np.concatenate([deep, spread]))
    return rows.X[keep], rows.y[keep]


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float | np.ndarray) -> np.ndarray:
    """log E[max(best - Y, 0)] for Y ~ N(mean, std^2), finite far into the tail (lower is better)."""
    u = (best - mean) / std
    log_phi = -0.5 * u**2 - 0.5 * math.log(2 * math.pi)
    # h(u) = phi(u) + u Phi(u); for u << 0 the Mills-ratio expansion h(u) ~ phi(u) / u^2 avoids cancellation
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log(np.maximum(np.exp(log_phi) + u * np.exp(log_ndtr(u)), 1e-300))
        tail = log_phi - 2.0 * np.log(np.abs(u)) + np.log1p(-3.0 / u**2)
    return np.log(std) + np.where(u > -6.0, direct, tail)


__all__ = ["BUSY", "CurveModel", "Encodings", "Rows", "StepScale", "anchor", "build_rows", "fit",
           "log_expected_improvement"]
