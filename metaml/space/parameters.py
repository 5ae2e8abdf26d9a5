"""The parameter kinds of a search space: how each samples, encodes and checks its values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from metaml.errors import SpaceError, shown
from metaml.space.checks import (
    MAX_FIDELITY_RATIO,
    MAX_INT,
    MAX_PLAIN_DEPTH,
    check_bounds,
    check_switch,
    is_finite,
    is_number,
    is_plain,
    is_whole,
    plain,
    python_number,
    unit_of,
    value_at,
)

#: Standard deviation, in the unit interval, of a numeric prior at each confidence.
CONFIDENCE_STD: dict[str, float] = {"low": 0.5, "medium": 0.25, "high": 0.1}
#: Probability mass that a categorical prior puts on its preferred choice.
CONFIDENCE_MASS: dict[str, float] = {"low": 0.5, "medium": 0.75, "high": 0.9}

Condition = Mapping[str, Sequence[Any]]


def _check_confidence(confidence: str) -> None:
    if not isinstance(confidence, str) or confidence not in CONFIDENCE_STD:
        raise SpaceError(f"confidence must be one of low, medium, high, not {shown(confidence)}")


def _check_when(when: Condition | None) -> dict[str, tuple[Any, ...]] | None:
    if when is None:
        return None
    if not isinstance(when, Mapping) or not when:
        raise SpaceError(f"'when' must map a parameter name to its allowed values, not {shown(when)}")
    out: dict[str, tuple[Any, ...]] = {}
    for parent, values in when.items():
        if not isinstance(parent, str) or not parent:
            raise SpaceError(f"'when' names the parameters it depends on, not {shown(parent)}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values]
        if not values or not all(is_plain(v) for v in values):
            raise SpaceError(f"'when' gives {parent!r} a list of the values it must take, not {shown(values)}")
        out[parent] = tuple(plain(v) for v in values)
    return out


def _same_choice(choice: Any, value: Any) -> bool:
    """Whether ``value`` is ``choice``: numbers by value, strings (numpy's too) by text, booleans apart."""
    if isinstance(choice, bool) or isinstance(value, (bool, np.bool_)):
        return isinstance(choice, bool) and isinstance(value, (bool, np.bool_)) and bool(value) == choice
    if isinstance(choice, str) or isinstance(value, str):
        return isinstance(choice, str) and isinstance(value, str) and str(value) == choice
    if is_number(choice) or is_number(value):
        return is_number(choice) and is_number(value) and bool(choice == value)
    return choice is None and value is None


@dataclass(frozen=True, eq=True)
class Float:
    """A real-valued parameter in [lower, upper], optionally on a log scale.

    ``schedulable`` says the value may change between intervals of one run (population-based
    training perturbs it; the training function reads it per interval with
    ``trial.config_at(step)``); ``structural`` says it fixes the structure of a run (the
    model's shape, the steps per epoch), so it never may. The two exclude each other.
    """

    lower: float
    upper: float
    log: bool = False
    prior: float | None = None
    confidence: str = "medium"
    when: Condition | None = None
    schedulable: bool = False
    structural: bool = False
    kind: str = field(default="float", init=False, repr=False)

    def __post_init__(self) -> None:
        lower, upper = check_bounds(self.lower, self.upper, "bounds")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "prior", python_number(self.prior))
        object.__setattr__(self, "log", check_switch(self.log, "log"))
        if not self.lower < self.upper:
            raise SpaceError(f"lower ({shown(self.lower)}) must be below upper ({shown(self.upper)})")
        if self.log and self.lower <= 0:
            raise SpaceError(f"a log-scaled range needs lower > 0, got {shown(self.lower)}")
        _check_confidence(self.confidence)
        _check_schedulable(self.schedulable, self.structural)
        object.__setattr__(self, "schedulable", bool(self.schedulable))
        object.__setattr__(self, "structural", bool(self.structural))
        if self.prior is not None and (reason := self.contains(self.prior)) is not None:
            if is_number(self.prior) and not self.lower <= self.prior <= self.upper:
                raise SpaceError(f"prior {shown(self.prior)} lies outside [{self.lower}, {self.upper}]")
            raise SpaceError(f"prior {shown(self.prior)} is not allowed: {reason}")
        object.__setattr__(self, "when", _check_when(self.when))

    # The unit-interval encoding is linear in the value, or in its log.
    def _ends(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.lower), math.log(self.upper)
        return float(self.lower), float(self.upper)

    def to_unit(self, value: Any) -> float:
        lo, hi = self._ends()
        return unit_of(math.log(value) if self.log else float(value), lo, hi)

    def from_unit(self, u: float) -> Any:
        lo, hi = self._ends()
        v = value_at(u, lo, hi)
        value = math.exp(v) if self.log else v
        return float(min(self.upper, max(self.lower, value)))

    def contains(self, value: Any) -> str | None:
        """Return why ``value`` is not allowed, or None when it is."""
        if not is_number(value):
            return f"expected a number, got {shown(value)}"
        if not (self.lower <= value <= self.upper) or not is_finite(value):
            return f"{shown(value)} is outside [{self.lower}, {self.upper}]"
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
        return truncated_normal_pdf(u, self.to_unit(self.prior), CONFIDENCE_STD[self.confidence])

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
        _schedule_flags(out, self.schedulable, self.structural)
        return out


@dataclass(frozen=True, eq=True)
class Int(Float):
    """An integer parameter in [lower, upper]; each integer gets an equal share of the unit interval."""

    kind: str = field(default="int", init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if not is_number(value) or not is_finite(value) or not is_whole(value):
                raise SpaceError(f"an Int's {name} must be a whole number, got {shown(value)}")
            if abs(value) > MAX_INT:
                raise SpaceError(
                    f"an Int's {name} must be within ±2**53 ({MAX_INT:.2e}), where every whole number has a float of "
                    f"its own, got {shown(value)}: use a Float for a wider range"
                )
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
        return unit_of(math.log(int(value)) if self.log else float(int(value)), lo, hi)

    def from_unit(self, u: float) -> Any:
        lo, hi = self._ends()
        v = value_at(u, lo, hi)
        value = math.exp(v) if self.log else v
        return int(min(self.upper, max(self.lower, round(value))))

    def contains(self, value: Any) -> str | None:
        reason = super().contains(value)
        if reason is None and not is_whole(value):
            return f"expected a whole number, got {shown(value)}"
        return reason

    def normalize(self, value: Any) -> Any:
        return int(value)


@dataclass(frozen=True, eq=True)
class Categorical:
    """One of several choices; a choice may carry its own sub-space (nesting).

    ``schedulable`` is allowed only for flat choices that are all numbers: their order (by
    value) is what a perturbation moves along; choices without an order have no neighbour.
    """

    choices: Any
    prior: Any = None
    confidence: str = "medium"
    when: Condition | None = None
    schedulable: bool = False
    kind: str = field(default="categorical", init=False, repr=False)
    # a field, so that two categoricals whose sub-spaces differ are not equal
    _subspaces: dict[Any, dict[str, Parameter]] = field(default_factory=dict, init=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        choices = self.choices
        subspaces: dict[Any, dict[str, Parameter]] = {}
        if isinstance(choices, Mapping):
            for c, sub in choices.items():
                if sub is not None and not isinstance(sub, Mapping):
                    raise SpaceError(
                        f"the choice {shown(c)} maps to {shown(sub)}: a choice's sub-space is a mapping of names to "
                        "parameters (or empty)"
                    )
            subspaces = {c: dict(sub or {}) for c, sub in choices.items()}
            choices = list(choices.keys())
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or not choices:
            raise SpaceError(f"choices must be a non-empty list, got {shown(self.choices)}")
        for c in choices:
            if not isinstance(c, (str, int, float, bool)) and c is not None:
                raise SpaceError(f"a choice must be a string, number, boolean or null, got {shown(c)}")
            if isinstance(c, (int, float)) and not isinstance(c, bool) and not is_finite(c):
                raise SpaceError(f"a choice must be a finite number, got {shown(c)}")
            if subspaces and not isinstance(c, str):
                # the space is stored as JSON, whose keys are strings: 1 or true would come back as "1", "true"
                raise SpaceError(
                    f"the choice {c!r} carries a sub-space, so it must be a string: write {str(c).lower()!r} in quotes"
                )
        object.__setattr__(self, "choices", tuple(python_number(c) for c in choices))
        if any(self.index(c) != i for i, c in enumerate(self.choices)):
            raise SpaceError(f"choices repeat themselves: {shown(list(choices))}")
        object.__setattr__(self, "_subspaces", subspaces)
        _check_confidence(self.confidence)
        object.__setattr__(self, "schedulable", check_switch(self.schedulable, "schedulable"))
        if self.schedulable and (subspaces or not all(is_number(c) for c in self.choices)):
            raise SpaceError(
                f"a categorical with choices {shown(list(self.choices))} cannot be schedulable: only flat choices "
                "that are all numbers have an order to perturb along (use an Int or a Float, or number the choices)"
            )
        if self.prior is not None:
            if self.contains(self.prior) is not None:
                raise SpaceError(f"prior {shown(self.prior)} is not one of the choices {shown(list(self.choices))}")
            object.__setattr__(self, "prior", self.choices[self.index(self.prior)])  # e.g. numpy's "a" as "a"
        object.__setattr__(self, "when", _check_when(self.when))

    @property
    def subspaces(self) -> dict[Any, dict[str, Parameter]]:
        """The sub-space that each choice switches on (empty for a flat categorical)."""
        return self._subspaces  # type: ignore[attr-defined,no-any-return]

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if _same_choice(c, value):
                return i
        raise SpaceError(f"{shown(value)} is not one of {shown(list(self.choices))}")

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
        if self.schedulable:
            out["schedulable"] = True
        return out

    @property
    def ordered(self) -> tuple[Any, ...]:
        """The choices by value: what a schedulable categorical's perturbation steps along."""
        return tuple(sorted(self.choices))


@dataclass(frozen=True, eq=True)
class Constant:
    """A fixed value that is part of every configuration but never searched."""

    value: Any
    when: Condition | None = None
    kind: str = field(default="constant", init=False, repr=False)

    def __post_init__(self) -> None:
        if not is_plain(self.value):
            raise SpaceError(
                f"a constant is stored with the study, so it must be plain data (a string, finite number, "
                f"boolean, null, or a list or string-keyed mapping of them, nested at most {MAX_PLAIN_DEPTH} deep), "
                f"got {shown(self.value)}"
            )
        object.__setattr__(self, "when", _check_when(self.when))

    def contains(self, value: Any) -> str | None:
        # (0.9, 0.999) and [0.9, 0.999] are the same constant: a stored space gives back lists
        try:
            same = plain(value) == plain(self.value) and isinstance(value, bool) == isinstance(self.value, bool)
        except RecursionError:  # a value nested past any constant's depth is not the constant
            same = False
        return None if same else f"must be the constant {shown(self.value)}, got {shown(value)}"

    def normalize(self, value: Any) -> Any:
        return self.value

    def sample(self, rng: np.random.Generator, use_prior: bool) -> Any:
        return self.value

    def default(self) -> Any:
        return self.value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "value": plain(self.value)}
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
        lower, upper = check_bounds(self.lower, self.upper, "fidelity bounds")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        if not 0 < self.lower <= self.upper:
            raise SpaceError(
                f"a fidelity needs 0 < lower <= upper, got lower={shown(self.lower)}, upper={shown(self.upper)}"
            )
        if float(self.upper) / float(self.lower) > MAX_FIDELITY_RATIO:
            raise SpaceError(
                f"a fidelity from {self.lower:g} to {self.upper:g} spans more than a {MAX_FIDELITY_RATIO:.0e}-fold "
                "range, which the schedulers' ladders of rungs cannot use: measure it in larger units, or raise lower"
            )

    @property
    def is_int(self) -> bool:
        return float(self.lower) == int(self.lower) and float(self.upper) == int(self.upper)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "lower": self.lower, "upper": self.upper}


Parameter = Float | Int | Categorical | Constant | Fidelity


def _check_schedulable(schedulable: Any, structural: Any) -> None:
    both = check_switch(schedulable, "schedulable"), check_switch(structural, "structural")
    if all(both):
        raise SpaceError(
            "a parameter that is structural (it fixes the model's shape or the steps of a run) cannot be "
            "schedulable: its value cannot change during a run; drop one of the two"
        )


def _schedule_flags(out: dict[str, Any], schedulable: bool, structural: bool) -> None:
    """Write the flags only when set, so that spaces stored before them read back equal."""
    if schedulable:
        out["schedulable"] = True
    if structural:
        out["structural"] = True


def is_schedulable(param: Parameter) -> bool:
    """Whether ``param`` may change between the intervals of one run."""
    return bool(getattr(param, "schedulable", False))


def _truncated_normal(rng: np.random.Generator, mean: float, confidence: str) -> float:
    return truncated_normal_sample(rng, mean, CONFIDENCE_STD[confidence])


def truncated_normal_sample(rng: np.random.Generator, mean: float, std: float) -> float:
    """A normal draw around ``mean`` truncated to [0, 1], by inverting the CDF (no scipy.stats import)."""
    lo, hi = ndtr((0.0 - mean) / std), ndtr((1.0 - mean) / std)
    u = lo + rng.random() * (hi - lo)
    return float(np.clip(mean + std * ndtri(u), 0.0, 1.0))


def truncated_normal_pdf(u: Any, mean: float, std: float) -> np.ndarray:
    """Density over [0, 1] of a normal around ``mean`` truncated to [0, 1] (0 outside)."""
    mass = ndtr((1.0 - mean) / std) - ndtr((0.0 - mean) / std)
    x = np.asarray(u, dtype=float)
    density = np.exp(-0.5 * ((x - mean) / std) ** 2) / (np.sqrt(2 * np.pi) * std * mass)
    return np.where((x >= 0.0) & (x <= 1.0), density, 0.0)
