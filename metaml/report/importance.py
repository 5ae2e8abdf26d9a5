"""Which hyperparameters matter: functional ANOVA on a random-forest surrogate of each objective.

A random forest is fitted to the encoded configurations of the completed trials (with the
fidelity as one more input, so that cheap low-fidelity results still inform it, and every
prediction is made at the full fidelity). Its prediction is then decomposed as functional
ANOVA does (Hutter et al., 2014): the *marginal* of a parameter is the prediction averaged
over every other parameter drawn uniformly from the space, and the parameter's importance
is the variance of its marginal as a fraction of the total variance. Averages are taken by
Monte Carlo over one fixed background sample drawn from the study seed, so that the same
store always gives the same numbers.

Conditional parameters are handled as in fANOVA for conditional spaces: the background is
drawn from the product of *all* parameters, and a parameter that the other values switch
off simply has no effect there (which lowers its importance in proportion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from metaml.core.records import TrialRecord, TrialStatus
from metaml.objectives import Objective
from metaml.space import Categorical, Constant, Float, Int, Space

#: Fewer completed trials than this and the surrogate would explain noise: no importance then.
MIN_TRIALS = 8
#: Points of the uniform background the marginals average over.
BACKGROUND = 128
#: Grid points of a numeric parameter's marginal (and of each axis of a pairwise one).
GRID = 16
PAIR_GRID = 8
#: How many of the most important parameters get marginal plots and pairwise interactions.
TOP = 3


@dataclass(frozen=True)
class Marginal:
    """The surrogate's mean prediction as one parameter varies, the others averaged out."""

    name: str
    kind: str  # "numeric" or "categorical"
    values: list[Any]  # parameter values of the grid (choices for a categorical)
    mean: list[float]
    std: list[float]  # spread over the background: how much the other parameters move it
    fraction: float  # variance of ``mean`` over the grid / total variance


@dataclass(frozen=True)
class Interaction:
    """The joint effect of two parameters beyond the sum of their marginals."""

    names: tuple[str, str]
    values: tuple[list[Any], list[Any]]
    mean: list[list[float]]  # mean[i][j]: first parameter at values[0][i], second at values[1][j]
    fraction: float


@dataclass(frozen=True)
class Importance:
    """Importance of every parameter for one objective, as plain numbers."""

    objective: str
    n_trials: int
    total_variance: float
    main: list[Marginal]  # most important first
    interactions: list[Interaction] = field(default_factory=list)
    note: str = ""

    def fractions(self) -> dict[str, float]:
        """Variance fraction per parameter, most important first."""
        return {m.name: m.fraction for m in self.main}

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "n_trials": self.n_trials,
            "total_variance": self.total_variance,
            "fractions": self.fractions(),
            "interactions": [{"parameters": list(i.names), "fraction": i.fraction} for i in self.interactions],
            "note": self.note,
        }


class Surrogate:
    """A random forest predicting one objective from a configuration, at the full fidelity."""

    def __init__(self, space: Space, objective: str, forest: RandomForestRegressor, n_trials: int, uses_fidelity: bool):
        self.space = space
        self.objective = objective
        self.forest = forest
        self.n_trials = n_trials
        self.uses_fidelity = uses_fidelity

    def predict_encoded(self, x: np.ndarray) -> np.ndarray:
        """Predictions for rows of ``space.encode`` coordinates (the full fidelity appended here)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if self.uses_fidelity:
            x = np.hstack([x, np.ones((len(x), 1))])
        return np.asarray(self.forest.predict(x), dtype=float)

    def predict(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Predictions for configurations."""
        if not configs:
            return np.zeros(0)
        return self.predict_encoded(np.array([self.space.encode(c) for c in configs]))


def training_data(
    space: Space, trials: Sequence[TrialRecord], objective: str
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(X, y, uses_fidelity) from the completed trials that report ``objective``."""
    fid = space.fidelity
    rows, ys = [], []
    for t in trials:
        if t.status is not TrialStatus.COMPLETED or not t.metrics or objective not in t.metrics:
            continue
        value = t.metrics[objective]
        if value is None or not np.isfinite(value):
            continue
        x = space.encode(t.config)
        if fid is not None:
            f = float(t.fidelity if t.fidelity is not None else fid.upper)
            # The fidelity on the unit interval (log scale: rungs are geometric), 1 at the full run.
            lo, hi = np.log(float(fid.lower)), np.log(float(fid.upper))
            x = np.append(x, 1.0 if hi == lo else (np.log(f) - lo) / (hi - lo))
        rows.append(x)
        ys.append(float(value))
    width = space.n_dims + (1 if fid is not None else 0)
    return np.array(rows, dtype=float).reshape(len(rows), width), np.array(ys, dtype=float), fid is not None


def fit_surrogate(space: Space, trials: Sequence[TrialRecord], objective: str, seed: int = 0) -> Surrogate | None:
    """A random forest of ``objective``, or None with fewer than MIN_TRIALS completed trials."""
    x, y, uses_fidelity = training_data(space, trials, objective)
    if len(y) < MIN_TRIALS or space.n_dims == 0:
        return None
    forest = RandomForestRegressor(n_estimators=32, min_samples_leaf=2, max_features=0.5, random_state=seed, n_jobs=1)
    forest.fit(x, y)
    return Surrogate(space, objective, forest, len(y), uses_fidelity)


# ------------------------------------------------------------------ the product space
class _Grid:
    """Points of the product of every searchable parameter, encoded in bulk.

    A point holds one column per parameter: the encoded coordinate of a numeric value
    (snapped to what ``space.encode`` gives, e.g. whole numbers for an Int) or the index of
    a categorical choice. ``encode`` applies the space's conditions in bulk, which is what
    keeps tens of thousands of surrogate queries fast.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        self.names = [n for n in space.order if not isinstance(space.parameters[n], Constant)]
        self.column = {n: j for j, n in enumerate(self.names)}
        self.dims = {d.name: d for d in space.dimensions}

    def numeric_values(self, name: str, units: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """(encoded coordinates, parameter values) of the unit-interval points ``units``."""
        param = self.space.parameters[name]
        assert isinstance(param, (Float, Int))
        values = [param.from_unit(float(u)) for u in units]
        return np.array([param.to_unit(v) for v in values]), values

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = np.empty((n, len(self.names)))
        for j, name in enumerate(self.names):
            param = self.space.parameters[name]
            if isinstance(param, Categorical):
                z[:, j] = rng.integers(len(param.choices), size=n)
            else:
                z[:, j] = self.numeric_values(name, rng.random(n))[0]
        return z

    def axis(self, name: str, size: int) -> tuple[np.ndarray, list[Any]]:
        """The grid of one parameter: (column values, parameter values)."""
        param = self.space.parameters[name]
        if isinstance(param, Categorical):
            return np.arange(len(param.choices), dtype=float), list(param.choices)
        if isinstance(param, Int) and param.upper - param.lower + 1 <= size:
            values: list[Any] = list(range(int(param.lower), int(param.upper) + 1))
            return np.array([param.to_unit(v) for v in values]), values
        coords, values = self.numeric_values(name, (np.arange(size) + 0.5) / size)
        return coords, values

    def _value(self, name: str, z: np.ndarray) -> np.ndarray:
        """Parameter values of one column (for conditions on numeric parents)."""
        param = self.space.parameters[name]
        if isinstance(param, Categorical):
            return z[:, self.column[name]].astype(int)
        assert isinstance(param, (Float, Int))
        return np.array([param.from_unit(float(u)) for u in z[:, self.column[name]]], dtype=float)

    def encode(self, z: np.ndarray) -> np.ndarray:
        n = len(z)
        x = np.zeros((n, self.space.n_dims))
        active: dict[str, np.ndarray] = {}
        for name in self.space.order:
            mask = np.ones(n, dtype=bool)
            for parent, allowed in self.space.conditions.get(name, {}).items():
                mask &= active.get(parent, np.ones(n, dtype=bool))
                target = self.space.parameters[parent]
                if isinstance(target, Constant):
                    if not any(target.contains(v) is None for v in allowed):
                        mask &= False
                elif isinstance(target, Categorical):
                    mask &= np.isin(z[:, self.column[parent]].astype(int), [target.index(v) for v in allowed])
                else:
                    mask &= np.isin(self._value(parent, z), np.array(allowed, dtype=float))
            active[name] = mask
            param = self.space.parameters[name]
            if isinstance(param, Constant):
                continue
            dim = self.dims[name]
            col = z[:, self.column[name]]
            if isinstance(param, Categorical):
                rows = np.nonzero(mask)[0]
                x[rows, dim.start + col[rows].astype(int)] = 1.0
            else:
                x[:, dim.start] = np.where(mask, col, 0.5)
        return x


# ------------------------------------------------------------------ the analysis
def functional_anova(surrogate: Surrogate, seed: int = 0, top: int = TOP) -> Importance:
    """Variance fraction of every parameter's marginal, and pairwise interactions of the top ones."""
    grid = _Grid(surrogate.space)
    rng = np.random.default_rng([seed, 7])
    background = grid.sample(rng, BACKGROUND)
    base = surrogate.predict_encoded(grid.encode(background))
    total = float(np.var(base))
    # One batch for every parameter's grid: a forest's fixed cost per call dwarfs its cost per row.
    axes = {name: grid.axis(name, GRID) for name in grid.names}
    blocks = []
    for name in grid.names:
        coords = axes[name][0]
        z = np.repeat(background[None, :, :], len(coords), axis=0)
        z[:, :, grid.column[name]] = coords[:, None]
        blocks.append(z.reshape(-1, z.shape[-1]))
    preds = surrogate.predict_encoded(grid.encode(np.vstack(blocks))) if blocks else np.zeros(0)
    marginals: list[Marginal] = []
    curves: dict[str, np.ndarray] = {}
    offset = 0
    for name in grid.names:
        coords, values = axes[name]
        pred = preds[offset : offset + len(coords) * BACKGROUND].reshape(len(coords), BACKGROUND)
        offset += len(coords) * BACKGROUND
        mean = pred.mean(axis=1)
        curves[name] = mean
        fraction = float(np.var(mean) / total) if total > 0 else 0.0
        kind = "categorical" if isinstance(surrogate.space.parameters[name], Categorical) else "numeric"
        marginals.append(Marginal(name, kind, values, mean.tolist(), pred.std(axis=1).tolist(), min(fraction, 1.0)))
    marginals.sort(key=lambda m: -m.fraction)
    interactions = []
    leaders = [m.name for m in marginals[:top] if m.fraction > 0]
    for i, a in enumerate(leaders):
        for b in leaders[i + 1 :]:
            interactions.append(_interaction(surrogate, grid, background, a, b, curves, total))
    interactions.sort(key=lambda it: -it.fraction)
    note = "" if total > 0 else "the surrogate predicts the same value everywhere: no parameter shows an effect"
    return Importance(surrogate.objective, surrogate.n_trials, total, marginals, interactions, note)


def _interaction(
    surrogate: Surrogate, grid: _Grid, background: np.ndarray, a: str, b: str, curves: dict[str, np.ndarray], total: float
) -> Interaction:
    ca, va = grid.axis(a, PAIR_GRID)
    cb, vb = grid.axis(b, PAIR_GRID)
    z = np.repeat(background[None, None, :, :], len(ca), axis=0).repeat(len(cb), axis=1)
    z[:, :, :, grid.column[a]] = ca[:, None, None]
    z[:, :, :, grid.column[b]] = cb[None, :, None]
    pred = surrogate.predict_encoded(grid.encode(z.reshape(-1, z.shape[-1])))
    joint = pred.reshape(len(ca), len(cb), BACKGROUND).mean(axis=2)
    # The pair's own effect: what is left of the joint marginal after both main effects.
    ma, mb = joint.mean(axis=1, keepdims=True), joint.mean(axis=0, keepdims=True)
    pure = joint - ma - mb + joint.mean()
    fraction = float(np.var(pure) / total) if total > 0 else 0.0
    return Interaction((a, b), (va, vb), joint.tolist(), min(fraction, 1.0))


def empty_importance(space: Space, trials: Sequence[TrialRecord], objective: str) -> Importance:
    """The importance of an objective the surrogate cannot model yet, with the reason."""
    n = len(training_data(space, trials, objective)[1])
    note = (f"needs at least {MIN_TRIALS} completed trials reporting {objective} ({n} so far)"
            if space.n_dims else "the space has nothing to search")
    return Importance(objective, n, 0.0, [], [], note=note)


def importance(
    space: Space,
    trials: Sequence[TrialRecord],
    objectives: Sequence[Objective],
    seed: int = 0,
    surrogates: Mapping[str, Surrogate | None] | None = None,
) -> dict[str, Importance]:
    """Importance per objective; one with too few completed trials gets an empty one with a note."""
    out: dict[str, Importance] = {}
    for obj in objectives:
        surrogate = surrogates[obj.name] if surrogates is not None else fit_surrogate(space, trials, obj.name, seed)
        out[obj.name] = empty_importance(space, trials, obj.name) if surrogate is None else functional_anova(surrogate, seed)
    return out
