"""The parameter kinds of a search space: how each samples, encodes and checks its values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from metaml.errors import SpaceError

#: Standard deviation, in the unit interval, of a numeric prior at each confidence.
CONFIDENCE_STD: dict[str, float] = {"low": 0.5, "medium": 0.25, "high": 0.1}
#: Probability mass that a categorical prior puts on its preferred choice.
CONFIDENCE_MASS: dict[str, float] = {"low": 0.5, "medium": 0.75, "high": 0.9}

Condition = Mapping[str, Sequence[Any]]


def _check_confidence(confidence: str) -> None:
    if confidence not in CONFIDENCE_STD:
        raise SpaceError(
            f"confidence must be one of low, medium, high, not {confidence!r}"
        )


def _check_when(when: Condition | None) -> dict[str, tuple[Any, ...]] | None:
    if when is None:
        return None
    if not isinstance(when, Mapping) or not when:
        raise SpaceError(f"'when' must map a parameter name to its allowed values, not {when!r}")
    out: dict[str, tuple[Any, ...]] = {}
    for parent, values in when.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values]
        out[str(parent)] = tuple(values)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@dataclass(frozen=True, eq=True)
class Float:
    """A real-valued parameter in [lower, upper], optionally on a log scale."""

    lower: float
    upper: float
    log: bool = False
    prior: float | None = None
    confidence: str = "medium"
    when: Condition | None = None
    kind: str = field(default="float", init=False, repr=False)

    def __post_init__(self) -> None:
        if not (_is_number(self.lower) and _is_number(self.upper)):
            raise SpaceError(f"bounds must be numbers, got lower={self.lower!r}, upper={self.upper!r}")
        if not self.lower < self.upper:
            raise SpaceError(f"lower ({self.lower}) must be below upper ({self.upper})")
        if self.log and self.lower <= 0:
            raise SpaceError(f"a log-scaled range needs lower > 0, got {self.lower}")
        _check_confidence(self.confidence)
        if self.prior is not None and self.contains(self.prior) is not None:
            raise SpaceError(f"prior {self.prior!r} lies outside [{self.lower}, {self.upper}]")
        object.__setattr__(self, "when", _check_when(self.when))

    # The unit-interval encoding is linear in the value, or in its log.
    def _ends(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.lower), math.log(self.upper)
        return float(self.lower), float(self.upper)

    def to_unit(self, value: Any) -> float:
        lo, hi = self._ends()
        v = math.log(value) if self.log else float(value)
        return float(min(1.0, max(0.0, (v - lo) / (hi - lo))))

    def from_unit(self, u: float) -> Any:
        lo, hi = self._ends()
        v = lo + float(np.clip(u, 0.0, 1.0)) * (hi - lo)
        value = math.exp(v) if self.log else v
        return float(min(self.upper, max(self.lower, value)))

    def contains(self, value: Any) -> str | None:
        """Return why ``value`` is not allowed, or None when it is."""
        if not _is_number(value):
            return f"expected a number, got {value!r}"
        if not (self.lower <= value <= self.upper) or math.isnan(float(value)):
            return f"{value!r} is outside [{self.lower}, {self.upper}]"
        return None

    def normalize(self, value: Any) -> Any:
        return float(value)

    def sample(self, rng: np.random.Generator, use_prior: bool) -> Any:
        if use_prior and self.prior is not None:
            return self.from_unit(_truncated_normal(rng, self.to_unit(self.prior), self.confidence))
        return self.from_unit(rng.random())

    def prior_density(self, u: np.ndarray) -> np.ndarray:
        """Density of the prior over the unit encoding (1 everywhere when there is none)."""
        if self.prior is None:
            return np.ones_like(u, dtype=float)
        std = CONFIDENCE_STD[self.confidence]
        mean = self.to_unit(self.prior)
        mass = ndtr((1.0 - mean) / std) - ndtr((0.0 - mean) / std)
        z = (np.asarray(u, dtype=float) - mean) / std
        density = np.exp(-0.5 * z**2) / (np.sqrt(2 * np.pi) * std * mass)
        inside = (np.asarray(u) >= 0.0) & (np.asarray(u) <= 1.0)
        return np.where(inside, density, 0.0)

    def default(self) -> Any:
        if self.prior is not None:
            return self.normalize(self.prior)
        return self.from_unit(0.5)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "lower": self.lower, "upper": self.upper}
        if self.log:
            out["log"] = True
        if self.prior is not None:
            out["prior"] = self.prior
            out["confidence"] = self.confidence
        if self.when is not None:
            out["when"] = {k: list(v) for k, v in self.when.items()}
        return out


@dataclass(frozen=True, eq=True)
class Int(Float):
    """An integer parameter in [lower, upper]; each integer gets an equal share of the unit interval."""

    kind: str = field(default="int", init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if not _is_number(value) or float(value) != int(value):
                raise SpaceError(f"an Int's {name} must be a whole number, got {value!r}")
            object.__setattr__(self, name, int(value))
        super().__post_init__()

    def _ends(self) -> tuple[float, float]:
        # Widen by half a step so that the end values are as likely as the inner ones.
        lo, hi = self.lower - 0.5 + 1e-9, self.upper + 0.5 - 1e-9
        if self.log:
            return math.log(lo), math.log(hi)
        return lo, hi

    def to_unit(self, value: Any) -> float:
        lo, hi = self._ends()
        v = math.log(int(value)) if self.log else float(int(value))
        return float(min(1.0, max(0.0, (v - lo) / (hi - lo))))

    def from_unit(self, u: float) -> Any:
        lo, hi = self._ends()
        v = lo + float(np.clip(u, 0.0, 1.0)) * (hi - lo)
        value = math.exp(v) if self.log else v
        return int(min(self.upper, max(self.lower, round(value))))

    def contains(self, value: Any) -> str | None:
        reason = super().contains(value)
        if reason is None and float(value) != int(value):
            return f"expected a whole number, got {value!r}"
        return reason

    def normalize(self, value: Any) -> Any:
        return int(value)


@dataclass(frozen=True, eq=True)
class Categorical:
    """One of several choices; a choice may carry its own sub-space (nesting)."""

    choices: Any
    prior: Any = None
    confidence: str = "medium"
    when: Condition | None = None
    kind: str = field(default="categorical", init=False, repr=False)

    def __post_init__(self) -> None:
        choices = self.choices
        subspaces: dict[Any, dict[str, Parameter]] = {}
        if isinstance(choices, Mapping):
            subspaces = {c: dict(sub or {}) for c, sub in choices.items()}
            choices = list(choices.keys())
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or not choices:
            raise SpaceError(f"choices must be a non-empty list, got {self.choices!r}")
        for c in choices:
            if not isinstance(c, (str, int, float, bool)) and c is not None:
                raise SpaceError(f"a choice must be a string, number, boolean or null, got {c!r}")
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"choices repeat themselves: {list(choices)!r}")
        object.__setattr__(self, "choices", tuple(choices))
        object.__setattr__(self, "_subspaces", subspaces)
        _check_confidence(self.confidence)
        if self.prior is not None and self.contains(self.prior) is not None:
            raise SpaceError(f"prior {self.prior!r} is not one of the choices {list(self.choices)!r}")
        object.__setattr__(self, "when", _check_when(self.when))

    @property
    def subspaces(self) -> dict[Any, dict[str, Parameter]]:
        """The sub-space that each choice switches on (empty for a flat categorical)."""
        return self._subspaces  # type: ignore[attr-defined,no-any-return]

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if c == value and type(c) is type(value) or (c == value and _is_number(c) and _is_number(value)):
                return i
        raise SpaceError(f"{value!r} is not one of {list(self.choices)!r}")

    def contains(self, value: Any) -> str | None:
        try:
            self.index(value)
        except SpaceError as exc:
            return str(exc)
        return None

    def normalize(self, value: Any) -> Any:
        return self.choices[self.index(value)]

    def sample(self, rng: np.random.Generator, use_prior: bool) -> Any:
        k = len(self.choices)
        if use_prior and self.prior is not None and k > 1:
            mass = max(CONFIDENCE_MASS[self.confidence], 1.0 / k)
            p = np.full(k, (1.0 - mass) / (k - 1))
            p[self.index(self.prior)] = mass
            return self.choices[int(rng.choice(k, p=p))]
        return self.choices[int(rng.integers(k))]

    def prior_probabilities(self) -> np.ndarray:
        """Probability of each choice under the prior (uniform when there is none)."""
        k = len(self.choices)
        if self.prior is None or k == 1:
            return np.full(k, 1.0 / k)
        mass = max(CONFIDENCE_MASS[self.confidence], 1.0 / k)
        p = np.full(k, (1.0 - mass) / (k - 1))
        p[self.index(self.prior)] = mass
        return p

    def default(self) -> Any:
        return self.prior if self.prior is not None else self.choices[0]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.subspaces:
            from metaml.space.space import parameters_to_dict

            out["choices"] = {c: parameters_to_dict(self.subspaces.get(c, {})) for c in self.choices}
        else:
            out["choices"] = list(self.choices)
        if self.prior is not None:
            out["prior"] = self.prior
            out["confidence"] = self.confidence
        if self.when is not None:
            out["when"] = {k: list(v) for k, v in self.when.items()}
        return out


@dataclass(frozen=True, eq=True)
class Constant:
    """A fixed value that is part of every configuration but never searched."""

    value: Any
    when: Condition | None = None
    kind: str = field(default="constant", init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _check_when(self.when))

    def contains(self, value: Any) -> str | None:
        return None if value == self.value else f"must be the constant {self.value!r}, got {value!r}"

    def normalize(self, value: Any) -> Any:
        return self.value

    def sample(self, rng: np.random.Generator, use_prior: bool) -> Any:
        return self.value

    def default(self) -> Any:
        return self.value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "value": self.value}
        if self.when is not None:
            out["when"] = {k: list(v) for k, v in self.when.items()}
        return out


@dataclass(frozen=True, eq=True)
class Fidelity:
    """The training length (e.g. epochs): a budget a scheduler sets, never part of a config."""

    lower: int | float
    upper: int | float
    kind: str = field(default="fidelity", init=False, repr=False)

    def __post_init__(self) -> None:
        if not (_is_number(self.lower) and _is_number(self.upper)):
            raise SpaceError(f"fidelity bounds must be numbers, got {self.lower!r}, {self.upper!r}")
        if not 0 < self.lower <= self.upper:
            raise SpaceError(
                f"a fidelity needs 0 < lower <= upper, got lower={self.lower}, upper={self.upper}"
            )

    @property
    def is_int(self) -> bool:
        return float(self.lower) == int(self.lower) and float(self.upper) == int(self.upper)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "lower": self.lower, "upper": self.upper}


Parameter = Float | Int | Categorical | Constant | Fidelity


def _truncated_normal(rng: np.random.Generator, mean: float, confidence: str) -> float:
    """A normal draw around ``mean`` truncated to [0, 1], by inverting the CDF."""
    std = CONFIDENCE_STD[confidence]
    lo, hi = ndtr((0.0 - mean) / std), ndtr((1.0 - mean) / std)
    u = lo + rng.random() * (hi - lo)
    return float(np.clip(mean + std * ndtri(u), 0.0, 1.0))
