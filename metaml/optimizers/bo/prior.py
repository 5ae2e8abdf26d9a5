"""Expert priors for BO: the initial design drawn through them, and their log density for πBO.

Only parameters that *have* a prior contribute to the density. A parameter without one
expresses no preference, and counting its uniform ``1/k`` would make branches with more
sub-choices look less likely than branches with fewer, a preference nobody stated.
Densities are over the unit encoding (``Float.prior_density``) and ``prior_probabilities``
for categoricals, taken over the *active* parameters of a configuration only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from metaml.space import CONFIDENCE_STD, Categorical, Constant, Float, Space

#: Density below which a parameter's prior counts as this small (as SMAC's ``prior_floor``): it
#: keeps the log finite, so that a point the prior rules out can still win on evidence.
PRIOR_FLOOR = 1e-12


@dataclass(frozen=True)
class NumericPrior:
    """A truncated normal over one unit coordinate: where it sits in the encoding and its shape."""

    name: str
    column: int
    mean: float
    std: float
    log_norm: float  # log of the normaliser sqrt(2 pi) * std * mass


@dataclass(frozen=True)
class CategoricalPrior:
    """The prior probabilities of one categorical's one-hot block."""

    name: str
    start: int
    stop: int
    log_probs: np.ndarray


def numeric_priors(space: Space) -> list[NumericPrior]:
    out: list[NumericPrior] = []
    for dim in space.dimensions:
        param = space.parameters[dim.name]
        if isinstance(param, Float) and param.prior is not None:  # Int is a Float
            mean, std = param.to_unit(param.prior), CONFIDENCE_STD[param.confidence]
            mass = float(ndtr((1.0 - mean) / std) - ndtr((0.0 - mean) / std))
            out.append(NumericPrior(dim.name, dim.start, mean, std, math.log(math.sqrt(2 * math.pi) * std * mass)))
    return out


def categorical_priors(space: Space) -> list[CategoricalPrior]:
    out: list[CategoricalPrior] = []
    for dim in space.dimensions:
        param = space.parameters[dim.name]
        if isinstance(param, Categorical) and param.prior is not None:
            probs = np.maximum(param.prior_probabilities(), PRIOR_FLOOR)
            out.append(CategoricalPrior(dim.name, dim.start, dim.stop, np.log(probs)))
    return out


def log_prior_density(space: Space, config: Mapping[str, Any]) -> float:
    """Log of the prior density of ``config`` over its active parameters that have a prior."""
    total = 0.0
    for name, param in space.searchable.items():
        if name not in config or getattr(param, "prior", None) is None:
            continue
        if isinstance(param, Categorical):
            total += math.log(max(float(param.prior_probabilities()[param.index(config[name])]), PRIOR_FLOOR))
        elif isinstance(param, Float):
            density = float(param.prior_density(np.array([param.to_unit(config[name])]))[0])
            total += math.log(max(density, PRIOR_FLOOR))
    return total


def sobol_configs(space: Space, count: int, start: int, seed: int, use_prior: bool) -> list[dict[str, Any]]:
    """Points ``start .. start+count-1`` of a scrambled Sobol sequence, as configurations.

    The sequence has one coordinate per searchable parameter (not per one-hot column), so
    each categorical's choices come up in balanced proportions. A coordinate maps to a value
    through the parameter's prior quantile function when ``use_prior`` (a truncated normal
    for numbers, the cumulative prior probabilities for choices), else uniformly. Inactive
    parameters consume their coordinate unused, so every configuration has the same layout.
    """
    from torch.quasirandom import SobolEngine

    params = [(n, p) for n, p in space.searchable.items() if not isinstance(p, Constant)]
    engine = SobolEngine(max(1, len(params)), scramble=True, seed=seed)
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = engine.draw(count).double().numpy()
    return [_config_from_quantiles(space, params, u, use_prior) for u in points]


def _config_from_quantiles(space: Space, params: list[tuple[str, Any]], u: np.ndarray, use_prior: bool) -> dict[str, Any]:
    config: dict[str, Any] = {}
    coords = dict(zip((n for n, _ in params), u))
    for name, param in space.searchable.items():
        if not space.is_active(name, config):
            continue
        if isinstance(param, Constant):
            config[name] = param.value
        elif isinstance(param, Categorical):
            probs = param.prior_probabilities() if use_prior else np.full(len(param.choices), 1.0 / len(param.choices))
            index = int(np.searchsorted(np.cumsum(probs), coords[name], side="right"))
            config[name] = param.choices[min(index, len(param.choices) - 1)]
        else:
            assert isinstance(param, Float)
            q = float(coords[name])
            if use_prior and param.prior is not None:
                q = _truncated_normal_quantile(q, param.to_unit(param.prior), CONFIDENCE_STD[param.confidence])
            config[name] = param.from_unit(q)
    return config


def _truncated_normal_quantile(q: float, mean: float, std: float) -> float:
    lo, hi = ndtr((0.0 - mean) / std), ndtr((1.0 - mean) / std)
    return float(np.clip(mean + std * ndtri(lo + q * (hi - lo)), 0.0, 1.0))
