"""A metaml ``Space`` in each peer's own terms, and peers' configurations back in metaml's.

The benchmark spaces are flat boxes of floats and integers (some on a log scale) with one
fidelity; that is all the adapters translate. A conditional or categorical space gets a
clear error rather than a silently different search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from metaml.errors import SpaceError
from metaml.space import Float, Int, Space


def box(space: Space) -> dict[str, Float]:
    """The searchable parameters, checked to be plain (unconditional) floats and integers."""
    out: dict[str, Float] = {}
    for name, param in space.searchable.items():
        if not isinstance(param, Float) or param.when is not None:
            raise SpaceError(f"peer adapters translate only unconditional Float/Int parameters; {name!r} is "
                             f"{type(param).__name__}{' with a condition' if getattr(param, 'when', None) else ''}")
        out[name] = param
    return out


def to_metaml(space: Space, config: Mapping[str, Any]) -> dict[str, Any]:
    """A peer's configuration as metaml values: plain floats and ints, clipped into the bounds.

    Peers round-trip values through their own encodings and can land a hair outside a log
    range (1e-4 - 1e-19); clipping keeps the runner's validation about real mistakes.
    """
    out: dict[str, Any] = {}
    for name, param in box(space).items():
        v = float(config[name])
        if not math.isfinite(v):
            raise SpaceError(f"peer proposed {name}={config[name]!r}")
        v = min(float(param.upper), max(float(param.lower), v))
        out[name] = int(round(v)) if isinstance(param, Int) else v
    return out


def fidelity_range(space: Space) -> tuple[int | float, int | float, str]:
    """(lowest, highest, name) of the space's fidelity."""
    fid = space.fidelity
    if fid is None or space.fidelity_name is None:
        raise SpaceError("peers on these benchmarks need a space with a fidelity")
    return fid.lower, fid.upper, space.fidelity_name


def configspace(space: Space, seed: int) -> Any:
    """A ``ConfigSpace.ConfigurationSpace`` (SMAC3, DEHB) without the fidelity, which they set as a budget."""
    from ConfigSpace import ConfigurationSpace
    from ConfigSpace import Float as CSFloat
    from ConfigSpace import Integer as CSInteger

    cs = ConfigurationSpace(seed=seed)
    for name, p in box(space).items():
        if isinstance(p, Int):
            cs.add(CSInteger(name, (int(p.lower), int(p.upper)), log=p.log))
        else:
            cs.add(CSFloat(name, (float(p.lower), float(p.upper)), log=p.log))
    return cs


def suggest_optuna(space: Space, trial: Any) -> dict[str, Any]:
    """Draw every parameter through an Optuna trial (``suggest_float`` / ``suggest_int``)."""
    out: dict[str, Any] = {}
    for name, p in box(space).items():
        if isinstance(p, Int):
            out[name] = trial.suggest_int(name, int(p.lower), int(p.upper), log=p.log)
        else:
            out[name] = trial.suggest_float(name, float(p.lower), float(p.upper), log=p.log)
    return out


def neps_space(space: Space) -> Any:
    """A NePS ``SearchSpace`` with the fidelity marked as such."""
    import neps

    params: dict[str, Any] = {}
    for name, p in box(space).items():
        kind = neps.HPOInteger if isinstance(p, Int) else neps.HPOFloat
        params[name] = kind(lower=p.lower, upper=p.upper, log=p.log)
    lo, hi, fname = fidelity_range(space)
    params[fname] = neps.HPOInteger(lower=int(lo), upper=int(hi), is_fidelity=True)
    return neps.SearchSpace(params)


def syne_tune_space(space: Space) -> dict[str, Any]:
    """A Syne Tune config space (domains by name); the fidelity is a resource the runner reports."""
    from syne_tune.config_space import lograndint, loguniform, randint, uniform

    out: dict[str, Any] = {}
    for name, p in box(space).items():
        if isinstance(p, Int):
            out[name] = (lograndint if p.log else randint)(int(p.lower), int(p.upper))
        else:
            out[name] = (loguniform if p.log else uniform)(float(p.lower), float(p.upper))
    return out
