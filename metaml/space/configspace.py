"""A metaml ``Space`` as a ConfigSpace ``ConfigurationSpace`` and back (``pip install 'metaml[configspace]'``).

What travels both ways: floats and integers (log scales included), categoricals, constants,
conditions (``EqualsCondition``, ``InCondition``, and an ``AndConjunction`` of them: a
parameter that needs several parents), defaults, and the fidelity. ConfigSpace has no
fidelity, so it travels as an ordinary hyperparameter marked ``meta={"metaml": "fidelity"}``
(or is left out, as SMAC and DEHB take it as their budget). A metaml prior is ConfigSpace's
default value, its confidence kept in the hyperparameter's ``meta``.

What metaml cannot say is refused, naming it, rather than read approximately: forbidden
clauses, ``OrConjunction``, ``NotEqualsCondition`` and the ordering conditions, ordinal,
normal and beta hyperparameters, weighted categoricals.

ConfigSpace keeps 13 significant digits of a float bound, so a bound such as
0.9127643017199939 comes back as 0.91276430172; bounds written by people round-trip exactly.
Nested choices come back flat: ``backbone.mlp.depth`` with ``when={"backbone": ["mlp"]}``,
which is the same space (the same parameters, conditions and configurations) written
another way.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from metaml.errors import MissingExtraError, SpaceError, shown
from metaml.space.parameters import Categorical, Constant, Fidelity, Float, Int, Parameter
from metaml.space.space import Space

#: The ``meta`` key (and value) that marks a ConfigSpace hyperparameter as metaml's fidelity.
META_KEY = "metaml"
FIDELITY_MARK = "fidelity"
#: The ``meta`` key that keeps a prior's confidence (ConfigSpace has only the default value).
CONFIDENCE_KEY = "confidence"


def configspace_module() -> ModuleType:
    """The ``ConfigSpace`` package, or a MissingExtraError naming the extra to install."""
    try:
        return importlib.import_module("ConfigSpace")
    except ImportError as exc:
        raise MissingExtraError(
            "ConfigSpace in and out needs the 'configspace' extra (ConfigSpace is not installed): "
            "pip install 'metaml[configspace]'"
        ) from exc


# ------------------------------------------------------------------ metaml -> ConfigSpace
def to_configspace(space: Space, *, seed: int | None = None, fidelity: bool = True) -> Any:
    """``space`` as a ``ConfigurationSpace`` with its conditions; ``fidelity=False`` leaves the fidelity out."""
    cs = configspace_module()
    hps: dict[str, Any] = {}
    for name in space.order:
        hps[name] = _hyperparameter(cs, name, space.parameters[name])
    if fidelity and space.fidelity is not None and space.fidelity_name is not None:
        fid = space.fidelity
        kind = cs.Integer if fid.is_int else cs.Float
        bounds = (int(fid.lower), int(fid.upper)) if fid.is_int else (float(fid.lower), float(fid.upper))
        default = bounds[1]
        hps[space.fidelity_name] = kind(space.fidelity_name, bounds, default=default, meta={META_KEY: FIDELITY_MARK})
    out = cs.ConfigurationSpace(seed=seed)
    try:
        out.add(list(hps.values()))
        conditions = [c for name in space.order if (c := _condition(cs, space, hps, name)) is not None]
        if conditions:
            out.add(conditions)
    except (ValueError, TypeError) as exc:
        raise SpaceError(f"ConfigSpace refuses this space: {exc}") from None
    return out


def _hyperparameter(cs: ModuleType, name: str, param: Parameter) -> Any:
    meta = _prior_meta(param)
    try:
        if isinstance(param, Categorical):
            return cs.Categorical(name, list(param.choices), default=param.default(), meta=meta)
        if isinstance(param, Constant):
            return cs.Constant(name, _constant_value(name, param.value))
        if isinstance(param, Int):
            return cs.Integer(name, (param.lower, param.upper), log=param.log, default=int(param.default()), meta=meta)
        if isinstance(param, Float):
            return cs.Float(name, (param.lower, param.upper), log=param.log, default=float(param.default()), meta=meta)
    except (ValueError, TypeError) as exc:
        raise SpaceError(f"parameter {name!r} has no ConfigSpace form: {exc}") from None
    raise SpaceError(f"parameter {name!r} ({type(param).__name__}) has no ConfigSpace form")


def _prior_meta(param: Parameter) -> dict[str, Any] | None:
    """The prior's confidence, where the default alone does not tell it: not medium, or a prior at the plain default."""
    if not isinstance(param, (Float, Categorical)) or param.prior is None:
        return None
    plain = Categorical(param.choices) if isinstance(param, Categorical) else type(param)(param.lower, param.upper, log=param.log)
    if param.confidence != "medium" or _close(plain.default(), param.default()):
        return {CONFIDENCE_KEY: param.confidence}
    return None


def _constant_value(name: str, value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise SpaceError(f"the constant {name!r} = {shown(value)} has no ConfigSpace form: ConfigSpace constants are "
                     "numbers, text or booleans")


def _condition(cs: ModuleType, space: Space, hps: Mapping[str, Any], name: str) -> Any:
    parts = []
    for parent, values in space.conditions.get(name, {}).items():
        if isinstance(space.parameters[parent], Constant):
            continue  # a constant parent always holds its one value: nothing to condition on
        vals = list(values)
        parts.append(cs.EqualsCondition(hps[name], hps[parent], vals[0]) if len(vals) == 1
                     else cs.InCondition(hps[name], hps[parent], vals))  # fmt: skip
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else cs.AndConjunction(*parts)


# ------------------------------------------------------------------ ConfigSpace -> metaml
def from_configspace(configspace: Any) -> Space:
    """The metaml ``Space`` a ``ConfigurationSpace`` describes; what metaml cannot express is a SpaceError naming it."""
    cs = configspace_module()
    if not isinstance(configspace, cs.ConfigurationSpace):
        raise SpaceError(f"expected a ConfigSpace ConfigurationSpace, got {type(configspace).__name__}")
    forbidden = list(configspace.forbidden_clauses)
    if forbidden:
        raise SpaceError(
            f"the ConfigSpace space has {len(forbidden)} forbidden clause(s) (first: {forbidden[0]}): metaml spaces "
            "have no forbidden combinations; drop them, or turn them into conditions"
        )
    when = _conditions(cs, configspace)
    params: dict[str, Parameter] = {}
    for hp in configspace.values():
        params[hp.name] = _parameter(cs, hp, when.get(hp.name))
    return Space(params)


def _conditions(cs: ModuleType, configspace: Any) -> dict[str, dict[str, list[Any]]]:
    out: dict[str, dict[str, list[Any]]] = {}
    for cond in configspace.conditions:
        parts = list(cond.components) if isinstance(cond, cs.AndConjunction) else [cond]
        child = getattr(parts[0], "child", None)
        child = child.name if child is not None else str(cond)
        for part in parts:
            if isinstance(part, cs.EqualsCondition):
                values = [part.value]
            elif isinstance(part, cs.InCondition):
                values = list(part.values)
            else:
                raise SpaceError(
                    f"the condition on {child!r} is a {type(part).__name__} ({part}): metaml conditions say which "
                    "values of a parent switch a parameter on (EqualsCondition, InCondition, and an AndConjunction "
                    "of them); OrConjunction, NotEqualsCondition and the ordering conditions have no metaml form"
                )
            parent = part.parent.name
            if parent in out.setdefault(child, {}):
                raise SpaceError(f"{child!r} has two conditions on {parent!r}: metaml takes one set of values per parent")
            out[child][parent] = [_plain(v) for v in values]
    return out


def _parameter(cs: ModuleType, hp: Any, when: dict[str, list[Any]] | None) -> Parameter:
    name = hp.name
    meta = dict(hp.meta or {})
    confidence = meta.get(CONFIDENCE_KEY, "medium")
    try:
        if meta.get(META_KEY) == FIDELITY_MARK:
            if when:
                raise SpaceError("the fidelity cannot be conditional")
            return Fidelity(_plain(hp.lower), _plain(hp.upper))
        if isinstance(hp, cs.CategoricalHyperparameter):
            weights = hp.weights
            if weights is not None and len(set(weights)) > 1:
                raise SpaceError(f"its choices have weights {list(weights)}: use a metaml prior instead")
            choices = [_plain(c) for c in hp.choices]
            plain = Categorical(choices, when=when)
            prior = _plain(hp.default_value)
            return plain if prior == plain.default() and CONFIDENCE_KEY not in meta else (
                Categorical(choices, prior=prior, confidence=confidence, when=when))
        if isinstance(hp, cs.Constant):
            return Constant(_plain(hp.value), when=when)
        if isinstance(hp, (cs.UniformIntegerHyperparameter, cs.UniformFloatHyperparameter)):
            kind = Int if isinstance(hp, cs.UniformIntegerHyperparameter) else Float
            lower, upper = _plain(hp.lower), _plain(hp.upper)
            bare = kind(lower, upper, log=bool(hp.log), when=when)
            default = _plain(hp.default_value)
            if CONFIDENCE_KEY not in meta and _close(default, bare.default()):
                return bare
            return kind(lower, upper, log=bool(hp.log), prior=default, confidence=confidence, when=when)
    except SpaceError as exc:
        raise SpaceError(f"the ConfigSpace hyperparameter {name!r}: {exc}") from None
    raise SpaceError(
        f"the ConfigSpace hyperparameter {name!r} is a {type(hp).__name__}, which metaml cannot express (it has "
        "uniform floats and integers, log-scaled or not, categoricals and constants): replace it by one of those"
    )


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones (ConfigSpace may hand back either)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def _close(a: Any, b: Any) -> bool:
    """Whether a default equals metaml's own (a log midpoint printed by ConfigSpace may differ in the last digits)."""
    return bool(a == b) or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-9))
