"""The joint search space: flattening of nested choices, conditions, sampling, encoding, checks."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaml.errors import SpaceError, did_you_mean, shown
from metaml.space.checks import check_name
from metaml.space.parameters import (
    Categorical,
    Constant,
    Fidelity,
    Float,
    Int,
    Parameter,
)

_KINDS: dict[str, type] = {
    "float": Float,
    "int": Int,
    "integer": Int,
    "categorical": Categorical,
    "constant": Constant,
    "fidelity": Fidelity,
}


@dataclass(frozen=True)
class Dimension:
    """Where one parameter lives in the unit-cube encoding."""

    name: str
    kind: str
    start: int
    stop: int


class Space:
    """A joint search space over a whole pipeline.

    Nested choices are flattened: the parameter ``depth`` of the choice ``mlp`` of the
    categorical ``backbone`` is called ``backbone.mlp.depth`` and is active only while
    ``backbone == "mlp"``. A configuration is a flat dict of the active parameters; the
    fidelity is never part of it (a scheduler sets it per trial).
    """

    def __init__(self, parameters: Mapping[str, Parameter]) -> None:
        if not isinstance(parameters, Mapping):
            raise SpaceError(f"a space is a mapping of names to parameters, not {type(parameters).__name__}")
        self._tree = dict(parameters)
        self.parameters: dict[str, Parameter] = {}
        self.conditions: dict[str, dict[str, tuple[Any, ...]]] = {}
        self.fidelity_name: str | None = None
        self._flatten(self._tree, prefix="", implied={})
        if not any(name != self.fidelity_name for name in self.parameters):
            raise SpaceError(
                "a space needs at least one parameter besides the fidelity, e.g. {'lr': Float(1e-4, 1e-1, log=True)}"
            )
        self._check_conditions()
        self.order = self._topological_order()
        self.dimensions = self._layout()
        self.n_dims = self.dimensions[-1].stop if self.dimensions else 0

    # ----------------------------------------------------------------- building
    def _flatten(self, params: Mapping[str, Any], prefix: str, implied: dict[str, tuple[Any, ...]]) -> None:
        for name in params:
            check_name(name, f"the space{' at ' + prefix.rstrip('.') if prefix else ''}")
        local = set(params)
        for name, param in params.items():
            full = prefix + str(name)
            if not isinstance(param, (Float, Int, Categorical, Constant, Fidelity)):
                raise SpaceError(
                    f"parameter {full!r}: expected Float, Int, Categorical, Constant or Fidelity, got {shown(param)}"
                )
            if full in self.parameters:
                raise SpaceError(f"parameter {full!r} is declared twice")
            if isinstance(param, Fidelity):
                if prefix:
                    raise SpaceError(f"the fidelity {full!r} must be at the top level of the space")
                if self.fidelity_name is not None:
                    raise SpaceError(f"a space has one fidelity, found {self.fidelity_name!r} and {full!r}")
                self.fidelity_name = full
                self.parameters[full] = param
                continue
            conditions = dict(implied)
            for parent, values in (param.when or {}).items():
                # A condition inside a sub-space refers to a sibling first, then to the top level.
                target = prefix + parent if parent in local else parent
                conditions[target] = tuple(values)
            self.conditions[full] = conditions
            self.parameters[full] = param
            if isinstance(param, Categorical):
                for choice, sub in param.subspaces.items():
                    sub_implied = dict(conditions)
                    sub_implied[full] = (choice,)
                    self._flatten(sub, prefix=f"{full}.{choice}.", implied=sub_implied)

    def _check_conditions(self) -> None:
        for name, conditions in self.conditions.items():
            for parent, values in conditions.items():
                if parent not in self.parameters:
                    raise SpaceError(f"parameter {name!r} depends on {parent!r}, which the space does not have")
                target = self.parameters[parent]
                if isinstance(target, Fidelity):
                    raise SpaceError(f"parameter {name!r} cannot depend on the fidelity {parent!r}")
                for v in values:
                    if isinstance(target, (Float, Int, Categorical, Constant)) and target.contains(v) is not None:
                        raise SpaceError(f"parameter {name!r} depends on {parent!r} == {v!r}, which {parent!r} cannot take")

    def _topological_order(self) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise SpaceError(f"conditions form a cycle: {' -> '.join(path + [name])}")
            state[name] = 1
            for parent in self.conditions.get(name, {}):
                visit(parent, path + [name])
            state[name] = 2
            order.append(name)

        for name in self.parameters:
            if name != self.fidelity_name:
                visit(name, [])
        return order

    def _layout(self) -> list[Dimension]:
        dims: list[Dimension] = []
        start = 0
        for name in self.order:
            param = self.parameters[name]
            if isinstance(param, Constant):
                continue
            width = len(param.choices) if isinstance(param, Categorical) else 1
            dims.append(Dimension(name, param.kind, start, start + width))
            start += width
        return dims

    # ------------------------------------------------------------------ queries
    @property
    def fidelity(self) -> Fidelity | None:
        """The fidelity parameter, or None when the space has none."""
        if self.fidelity_name is None:
            return None
        f = self.parameters[self.fidelity_name]
        assert isinstance(f, Fidelity)
        return f

    @property
    def searchable(self) -> dict[str, Parameter]:
        """Every parameter that a configuration can hold (the fidelity excluded)."""
        return {n: self.parameters[n] for n in self.order}

    @property
    def schedulable(self) -> tuple[str, ...]:
        """Names of the parameters that may change between the intervals of one run (``schedulable: true``)."""
        return tuple(n for n in self.order if bool(getattr(self.parameters[n], "schedulable", False)))

    @property
    def has_priors(self) -> bool:
        return any(getattr(p, "prior", None) is not None for p in self.searchable.values())

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """Whether ``name`` is switched on by the values ``config`` gives its parents."""
        for parent, values in self.conditions.get(name, {}).items():
            if parent not in config or not self.is_active(parent, config):
                return False
            if not any(_same(config[parent], v) for v in values):
                return False
        return True

    # ----------------------------------------------------------------- sampling
    def sample(self, rng: np.random.Generator, use_prior: bool = False) -> dict[str, Any]:
        """Draw one configuration, uniformly or from the expert priors."""
        config: dict[str, Any] = {}
        for name in self.order:
            if self.is_active(name, config):
                config[name] = self.parameters[name].sample(rng, use_prior)  # type: ignore[union-attr]
        return config

    def default(self) -> dict[str, Any]:
        """The configuration made of each parameter's prior, or its middle / first choice."""
        config: dict[str, Any] = {}
        for name in self.order:
            if self.is_active(name, config):
                config[name] = self.parameters[name].default()  # type: ignore[union-attr]
        return config

    # ----------------------------------------------------------------- encoding
    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Map a configuration to the unit cube.

        Numeric parameters take one coordinate (log-scaled where declared); a categorical
        takes one coordinate per choice (one-hot). An inactive numeric parameter sits at
        0.5 and an inactive categorical is all zeros, so inactive values never look like a
        real choice.
        """
        x = np.zeros(self.n_dims)
        for dim in self.dimensions:
            param = self.parameters[dim.name]
            active = dim.name in config and self.is_active(dim.name, config)
            if isinstance(param, Categorical):
                if active:
                    x[dim.start + param.index(config[dim.name])] = 1.0
            elif active:
                assert isinstance(param, (Float, Int))
                x[dim.start] = _unit(param, dim.name, config[dim.name])
            else:
                x[dim.start] = 0.5
        return x

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """Map a point of the unit cube back to the configuration it encodes."""
        try:
            x = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            raise SpaceError(f"expected a vector of {self.n_dims} numbers, got {shown(x)}") from None
        if x.shape != (self.n_dims,):
            raise SpaceError(f"expected a vector of {self.n_dims} coordinates, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise SpaceError(f"the coordinates to decode must be finite numbers, got {shown(x.tolist())}")
        by_name = {d.name: d for d in self.dimensions}
        config: dict[str, Any] = {}
        for name in self.order:
            if not self.is_active(name, config):
                continue
            param = self.parameters[name]
            if isinstance(param, Constant):
                config[name] = param.value
            elif isinstance(param, Categorical):
                d = by_name[name]
                config[name] = param.choices[int(np.argmax(x[d.start : d.stop]))]
            else:
                assert isinstance(param, (Float, Int))
                config[name] = param.from_unit(float(x[by_name[name].start]))
        return config

    # --------------------------------------------------------------- validation
    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``config`` checked and normalized; raise SpaceError naming every problem."""
        if not isinstance(config, Mapping):
            raise SpaceError(f"a configuration is a mapping of names to values, not {type(config).__name__}")
        problems: list[str] = []
        out: dict[str, Any] = {}
        for name in self.order:
            param = self.parameters[name]
            active = self.is_active(name, out)
            if not active:
                if name in config and not isinstance(param, Constant):
                    problems.append(f"{name!r} is given but inactive here (it needs {_describe(self.conditions[name])})")
                continue
            if name not in config:
                if isinstance(param, Constant):
                    out[name] = param.value
                    continue
                problems.append(f"{name!r} is missing")
                continue
            reason = param.contains(config[name])  # type: ignore[union-attr]
            if reason is not None:
                problems.append(f"{name!r}: {reason}")
                continue
            out[name] = param.normalize(config[name])  # type: ignore[union-attr]
        for name in config:
            if name == self.fidelity_name:
                problems.append(f"{name!r} is the fidelity: a scheduler sets it, a configuration does not")
            elif name not in self.parameters:
                problems.append(f"{name!r} is not a parameter of the space (known: {', '.join(self.order)})")
        if problems:
            raise SpaceError("configuration outside the space: " + "; ".join(problems))
        return out

    # ------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """The space as plain data (the same shape as in a study YAML)."""
        return parameters_to_dict(self._tree)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """Build a space from plain data, as written in YAML or produced by ``to_dict``."""
        return cls(parameters_from_dict(data, path=""))

    def to_configspace(self, *, seed: int | None = None, fidelity: bool = True) -> Any:
        """The space as a ConfigSpace ``ConfigurationSpace`` (``pip install 'metaml[configspace]'``)."""
        from metaml.space.configspace import to_configspace

        return to_configspace(self, seed=seed, fidelity=fidelity)

    @classmethod
    def from_configspace(cls, configspace: Any) -> Space:
        """The space a ConfigSpace ``ConfigurationSpace`` describes; what metaml cannot express is refused by name."""
        from metaml.space.configspace import from_configspace

        return from_configspace(configspace)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        return f"Space({', '.join(self.parameters)})"


def parameters_to_dict(params: Mapping[str, Parameter]) -> dict[str, Any]:
    return {name: p.to_dict() for name, p in params.items()}


def parameters_from_dict(data: Mapping[str, Any], path: str) -> dict[str, Parameter]:
    if not isinstance(data, Mapping):
        where = f"space.{path.rstrip('.')}" if path else "space"
        raise SpaceError(f"{where}: expected a mapping of parameter names to parameters, got {shown(data)}")
    out: dict[str, Parameter] = {}
    for name, spec in data.items():
        where = f"{path}{name}"
        if not isinstance(spec, Mapping):
            raise SpaceError(f"space.{where}: expected a mapping with a 'type', got {shown(spec)}")
        spec = dict(spec)
        kind = spec.pop("type", None)
        if not isinstance(kind, str) or kind not in _KINDS:
            raise SpaceError(
                f"space.{where}: 'type' must be one of {', '.join(sorted(_KINDS))}, got {shown(kind)}{did_you_mean(kind, _KINDS)}"
            )
        _check_settings(spec, kind, where)
        try:
            if kind == "categorical":
                choices = spec.pop("choices", None)
                if isinstance(choices, Mapping):
                    choices = {
                        c: parameters_from_dict(sub or {}, path=f"{where}.{c}.") for c, sub in choices.items()
                    }
                out[str(name)] = Categorical(choices, **spec)
            else:
                for key in ("lower", "upper", "prior"):
                    if key in spec and isinstance(spec[key], str):
                        spec[key] = _number(spec[key], f"space.{where}.{key}")
                out[str(name)] = _KINDS[kind](**spec)
        except TypeError as exc:
            raise SpaceError(f"space.{where}: {exc}") from None
        except SpaceError as exc:
            if str(exc).startswith("space."):
                raise
            raise SpaceError(f"space.{where}: {exc}") from None
    return out


def _settings(kind: str) -> tuple[list[str], list[str]]:
    """The settings a parameter kind takes, and those of them it cannot do without."""
    fields = [f for f in dataclasses.fields(_KINDS[kind]) if f.init]
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return [f.name for f in fields], required


def _check_settings(spec: Mapping[Any, Any], kind: str, where: str) -> None:
    """Refuse a setting the kind does not have (naming the close one) or a missing one, before the class sees them."""
    known, required = _settings(kind)
    a_kind = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} parameter"
    for key in spec:
        if key not in known:
            raise SpaceError(
                f"space.{where}.{key}: {a_kind} has no setting {shown(key)}{did_you_mean(key, known)}; "
                f"it has type, {', '.join(known)}"
            )
    missing = [k for k in required if k not in spec]
    if missing:
        raise SpaceError(f"space.{where}: {a_kind} needs {' and '.join(repr(k) for k in missing)}")


def _unit(param: Float | Int, name: str, value: Any) -> float:
    """``param.to_unit(value)``, with a value that cannot be encoded (text, 0 on a log scale) as a SpaceError."""
    try:
        return param.to_unit(value)
    except (TypeError, ValueError, OverflowError):
        raise SpaceError(f"cannot encode {name!r} = {shown(value)}: {param.contains(value) or 'not a number'}") from None


def _number(text: str, where: str) -> float:
    # PyYAML reads 1e-4 (no dot) as a string; accept it as the number it obviously is.
    try:
        value = float(text)
    except ValueError:
        raise SpaceError(f"{where}: expected a number, got {text!r}") from None
    if math.isnan(value):
        raise SpaceError(f"{where}: NaN is not a bound")
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _describe(conditions: Mapping[str, tuple[Any, ...]]) -> str:
    return " and ".join(f"{p} in {list(v)!r}" for p, v in conditions.items())
