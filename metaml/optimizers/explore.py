"""PBT's explore step: new values for a configuration's schedulable parameters, perturbed or resampled.

Each active schedulable parameter is, with probability ``resample``, drawn afresh from the
space, and otherwise multiplied by one of the ``factors`` (0.8 or 1.25 by default) and kept
inside its range; an integer moves by at least one unit, an ordered categorical one choice
along its order. What changed is returned with the configuration, so the proposal can say it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metaml.space import Categorical, Float, Int, Space


def explore(
    space: Space,
    config: Mapping[str, Any],
    rng: np.random.Generator,
    factors: Sequence[float],
    resample: float,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(the explored configuration, ``{name: {"from", "to", "how"}}`` for each schedulable value)."""
    out = dict(config)
    changes: dict[str, dict[str, Any]] = {}
    for name in space.schedulable:
        if name not in config:
            continue  # inactive here
        param = space.parameters[name]
        old = config[name]
        if rng.random() < resample:
            new, how = param.sample(rng, False), "resampled"  # type: ignore[union-attr]
        else:
            factor = float(factors[int(rng.integers(len(factors)))])
            new, how = perturb(param, old, factor), f"x{factor:g}"  # type: ignore[arg-type]
        out[name] = new
        changes[name] = {"from": old, "to": new, "how": how}
    return out, changes


def perturb(param: Float | Int | Categorical, value: Any, factor: float) -> Any:
    """``value`` times ``factor``, kept in the parameter's range (a categorical: one choice up or down)."""
    if isinstance(param, Categorical):
        order = list(param.ordered)
        i = order.index(param.normalize(value))
        step = 1 if factor > 1 else -1 if factor < 1 else 0
        return order[min(len(order) - 1, max(0, i + step))]
    moved = float(value) * factor
    if isinstance(param, Int):
        whole = int(round(moved))
        if whole == int(value) and factor != 1:
            whole += 1 if factor > 1 else -1
        return int(min(param.upper, max(param.lower, whole)))
    return float(min(param.upper, max(param.lower, moved)))
