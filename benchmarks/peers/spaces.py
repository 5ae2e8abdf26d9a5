"""A metaml ``Space`` in each peer's own terms, and peers' configurations back in metaml's.

metaml spaces hold floats and integers (some on a log scale), categoricals, nested choices
(a choice switches its sub-space on) and constants, plus one fidelity. Each library gets
as much of that as it can say:

- ConfigSpace (SMAC3, DEHB): ``Space.to_configspace`` (metaml.space.configspace):
  ``Categorical`` plus ``EqualsCondition`` / ``InCondition`` (an ``AndConjunction`` where a
  parameter sits under several choices): the real conditional space.
- Optuna: define-by-run, so a conditional parameter is suggested only when its parents
  switch it on: the real conditional space too.
- NePS and Syne Tune have no conditions: they get the flattened space (every parameter
  always present) and the values of parameters inactive under the configuration's own
  choices are dropped on the way back (``to_metaml``), so they never change the result.

Constants are not searched: ``to_metaml`` leaves them out and the runner's validation
puts them back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from metaml.errors import SpaceError
from metaml.space import Categorical, Constant, Float, Int, Space
from metaml.space.parameters import Parameter


def searched(space: Space) -> dict[str, Parameter]:
    """The parameters a peer searches (constants left out), checked to be ones the adapters translate."""
    out: dict[str, Parameter] = {}
    for name, param in space.searchable.items():
        if isinstance(param, Constant):
            continue
        if not isinstance(param, (Float, Categorical)):
            raise SpaceError(f"peer adapters cannot translate {name!r} ({type(param).__name__})")
        for parent in space.conditions.get(name, {}):
            if not isinstance(space.parameters[parent], (Categorical, Int, Constant)):
                raise SpaceError(f"{name!r} depends on the float {parent!r}: peers condition only on choices and integers")
        out[name] = param
    return out


def active(space: Space, name: str, config: Mapping[str, Any]) -> bool:
    """Whether ``name`` is switched on by ``config`` (constants count as given)."""
    full = {**{n: p.value for n, p in space.parameters.items() if isinstance(p, Constant)}, **config}
    return space.is_active(name, full)


def to_metaml(space: Space, config: Mapping[str, Any]) -> dict[str, Any]:
    """A peer's configuration as metaml values: the active parameters only, choices as metaml's, numbers clipped.

    Peers round-trip values through their own encodings and can land a hair outside a log
    range (1e-4 - 1e-19); clipping keeps the runner's validation about real mistakes.
    Inactive values (flattened spaces) are dropped; a missing active value is an error.
    """
    out: dict[str, Any] = {}
    for name, param in searched(space).items():
        if not active(space, name, out):
            continue
        if name not in config:
            raise SpaceError(f"peer proposed no value for the active parameter {name!r}")
        if isinstance(param, Categorical):
            out[name] = _choice(param, config[name])
            continue
        assert isinstance(param, Float)
        v = float(config[name])
        if not math.isfinite(v):
            raise SpaceError(f"peer proposed {name}={config[name]!r}")
        v = min(float(param.upper), max(float(param.lower), v))
        out[name] = int(round(v)) if isinstance(param, Int) else v
    return out


def _choice(param: Categorical, value: Any) -> Any:
    """A peer's categorical value as metaml's choice (libraries may hand back numpy strings or str(choice))."""
    if param.contains(value) is None:
        return param.normalize(value)
    for c in param.choices:
        if str(c) == str(value):
            return c
    raise SpaceError(f"peer proposed {value!r}, not one of {list(param.choices)!r}")


def fidelity_range(space: Space) -> tuple[int | float, int | float, str]:
    """(lowest, highest, name) of the space's fidelity."""
    fid = space.fidelity
    if fid is None or space.fidelity_name is None:
        raise SpaceError("peers on these benchmarks need a space with a fidelity")
    return fid.lower, fid.upper, space.fidelity_name


def configspace(space: Space, seed: int) -> Any:
    """A ``ConfigSpace.ConfigurationSpace`` (SMAC3, DEHB) with its conditions, without the fidelity (a budget there).

    The package's own converter (``Space.to_configspace``), after checking that the peers can search the space.
    """
    searched(space)
    return space.to_configspace(seed=seed, fidelity=False)


def suggest_optuna(space: Space, trial: Any) -> dict[str, Any]:
    """Draw the active parameters through an Optuna trial, define-by-run: a conditional one only when switched on."""
    out: dict[str, Any] = {}
    for name, p in searched(space).items():
        if not active(space, name, out):
            continue
        if isinstance(p, Categorical):
            out[name] = trial.suggest_categorical(name, list(p.choices))
        elif isinstance(p, Int):
            out[name] = trial.suggest_int(name, int(p.lower), int(p.upper), log=p.log)
        else:
            assert isinstance(p, Float)
            out[name] = trial.suggest_float(name, float(p.lower), float(p.upper), log=p.log)
    return out


def neps_space(space: Space) -> Any:
    """A NePS ``SearchSpace`` (flattened: NePS has no conditions) with the fidelity marked as such."""
    import neps

    params: dict[str, Any] = {}
    for name, p in searched(space).items():
        if isinstance(p, Categorical):
            params[name] = neps.HPOCategorical(choices=list(p.choices))
        else:
            assert isinstance(p, Float)
            kind = neps.HPOInteger if isinstance(p, Int) else neps.HPOFloat
            params[name] = kind(lower=p.lower, upper=p.upper, log=p.log)
    lo, hi, fname = fidelity_range(space)
    params[fname] = neps.HPOInteger(lower=int(lo), upper=int(hi), is_fidelity=True)
    return neps.SearchSpace(params)


def syne_tune_space(space: Space) -> dict[str, Any]:
    """A Syne Tune config space (flattened: no conditions); the fidelity is a resource the runner reports."""
    from syne_tune.config_space import choice, lograndint, loguniform, randint, uniform

    out: dict[str, Any] = {}
    for name, p in searched(space).items():
        if isinstance(p, Categorical):
            out[name] = choice(list(p.choices))
        elif isinstance(p, Int):
            out[name] = (lograndint if p.log else randint)(int(p.lower), int(p.upper))
        else:
            assert isinstance(p, Float)
            out[name] = (loguniform if p.log else uniform)(float(p.lower), float(p.upper))
    return out
