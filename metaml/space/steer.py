"""The space as experts steered it: the study's space with its pins, narrowed ranges and priors applied.

``steer_space(space, interventions)`` is a pure function of the study's own space and the
interventions so far, so a decision's space follows from the history it read (resume and
replay stay exact). A pinned number becomes a constant, a pinned choice a choice of one
(its sub-space kept), a narrowed range a smaller range; a parameter whose condition can no
longer hold (``momentum`` needs ``optimizer == sgd``, and ``optimizer`` is pinned to ``adam``)
leaves the space, and comes back with an ``unpin``. ``check`` refuses what cannot apply,
with one line that says why, before anything is written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from metaml.core.interventions import SPACE_ACTIONS, Intervention
from metaml.errors import SpaceError, shown
from metaml.space.parameters import CONFIDENCE_STD, Categorical, Constant, Fidelity, Float, Int, Parameter
from metaml.space.space import Space, parameters_from_dict


@dataclass
class Steering:
    """What the interventions so far add up to, per parameter (the latest of each kind counts)."""

    pins: dict[str, Any] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    priors: dict[str, tuple[Any, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, interventions: Iterable[Intervention]) -> Steering:
        state = cls()
        for i in interventions:
            state.add(i)
        return state

    def add(self, i: Intervention) -> None:
        if i.target is None or i.action not in SPACE_ACTIONS:
            return
        if i.action == "pin":
            self.pins[i.target] = i.value
        elif i.action == "unpin":
            self.pins.pop(i.target, None)
        elif i.action == "narrow" and isinstance(i.value, (list, tuple)) and len(i.value) == 2:
            self.ranges[i.target] = (i.value[0], i.value[1])
        elif i.action == "prior":
            self.priors[i.target] = (i.value, i.confidence or "medium")

    @property
    def empty(self) -> bool:
        return not (self.pins or self.ranges or self.priors)


def steer_space(space: Space, interventions: Iterable[Intervention] | Steering) -> Space:
    """The space as of ``interventions`` (the study's own when none touches it)."""
    state = interventions if isinstance(interventions, Steering) else Steering.of(interventions)
    if state.empty:
        return space
    tree = _rewrite(parameters_from_dict(space.to_dict(), ""), "", state)
    return Space(_prune(tree))


def coerce(param: Parameter, value: Any) -> Any:
    """``value`` as the parameter's own type when it came as text (the command line's ``lr=0.01``)."""
    if not isinstance(value, str):
        return value
    if isinstance(param, Float):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if isinstance(param, Int) and number.is_integer() else number
    if isinstance(param, Categorical):
        spelled = {"true": True, "false": False, "null": None, "none": None}
        for choice in param.choices:
            if isinstance(choice, str) and choice == value:
                return choice
        for choice in param.choices:
            if not isinstance(choice, str) and (str(choice) == value or spelled.get(value.lower(), ...) == choice):
                return choice
    return value


def check(space: Space, earlier: Iterable[Intervention], new: Intervention) -> Intervention:
    """``new`` with its value in the parameter's own type, or a ``SpaceError`` saying why it cannot apply."""
    state = Steering.of(earlier)
    name = new.target
    if name is None or name not in space.parameters:
        known = ", ".join(n for n in space.parameters if n != space.fidelity_name)
        raise SpaceError(f"unknown parameter {name!r}: the space has {known}")
    if name == space.fidelity_name:
        raise SpaceError(f"{name!r} is the fidelity, which the scheduler sets per trial: it cannot be {new.action}ned"
                         if new.action in ("pin", "unpin") else
                         f"{name!r} is the fidelity, which the scheduler sets per trial: it takes no {new.action}")
    declared = space.parameters[name]
    if isinstance(declared, Constant):
        raise SpaceError(f"{name!r} is a constant of the space ({shown(declared.value)}): nothing to steer")
    if new.action == "unpin":
        if name not in state.pins:
            raise SpaceError(f"{name!r} is not pinned" + (f"; pinned now: {', '.join(state.pins)}" if state.pins else ""))
        return new
    unpinned = Steering(pins={k: v for k, v in state.pins.items() if k != name}, ranges=state.ranges, priors=state.priors)
    now = steer_space(space, unpinned)
    if name not in now.parameters:
        needs = " and ".join(f"{p} in {list(v)}" for p, v in space.conditions.get(name, {}).items())
        raise SpaceError(f"{name!r} can no longer be active: it needs {needs}, which the pins and narrowed ranges "
                         "so far rule out; unpin those first")
    param = now.parameters[name]
    assert not isinstance(param, (Fidelity, Constant))
    value = coerce(param, new.value)
    if new.action == "narrow":
        return dataclasses.replace(new, value=_check_range(name, param, space.parameters[name], value, name in state.pins))
    if (why := param.contains(value)) is not None:
        raise SpaceError(f"{name!r} cannot be {'pinned to' if new.action == 'pin' else 'given the prior'} "
                         f"{shown(value)}: {why}")
    if new.action == "prior" and (new.confidence or "medium") not in CONFIDENCE_STD:
        raise SpaceError(f"confidence must be one of low, medium, high, not {shown(new.confidence)}")
    checked = dataclasses.replace(new, value=param.normalize(value))
    steer_space(space, [*_as_list(earlier), checked])  # what it leads to must still be a space
    return checked


def _check_range(name: str, param: Parameter, declared: Parameter, value: Any, pinned: bool) -> list[Any]:
    if not isinstance(param, Float) or not isinstance(declared, Float):
        raise SpaceError(f"{name!r} is a choice, not a range: pin it (metaml pin) or give it a prior instead")
    if pinned:
        raise SpaceError(f"{name!r} is pinned: unpin it before narrowing its range")
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SpaceError(f"a narrowed range is LOW..HIGH (two numbers), got {shown(value)}")
    lo, hi = (coerce(param, v) for v in value)
    for end in (lo, hi):
        if isinstance(end, bool) or not isinstance(end, (int, float)) or not math.isfinite(end):
            raise SpaceError(f"the ends of a range are finite numbers, got {shown(end)} for {name!r}")
        if isinstance(param, Int) and not float(end).is_integer():
            raise SpaceError(f"{name!r} is a whole number: its range ends must be whole, got {shown(end)}")
    if not lo < hi:
        raise SpaceError(f"narrowing {name!r} to [{lo:g}, {hi:g}] would leave an empty range: LOW must be below HIGH "
                         "(to fix one value, pin it)")
    if lo < param.lower or hi > param.upper:
        past = " past the space's" if lo < declared.lower or hi > declared.upper else ""
        raise SpaceError(f"narrowing {name!r} to [{lo:g}, {hi:g}] would widen its range{past} "
                         f"[{param.lower:g}, {param.upper:g}]: a narrowed range lies inside the one it narrows")
    return [param.normalize(lo), param.normalize(hi)]


def _as_list(items: Iterable[Intervention]) -> list[Intervention]:
    return items if isinstance(items, list) else list(items)


def _rewrite(params: Mapping[str, Parameter], prefix: str, state: Steering) -> dict[str, Parameter]:
    return {name: _steer(prefix + name, p, state) for name, p in params.items()}


def _steer(full: str, p: Parameter, state: Steering) -> Parameter:
    """One parameter with its pin, range and prior applied (its sub-spaces steered too)."""
    if isinstance(p, Categorical):
        subs = {c: _rewrite(sub, f"{full}.{c}.", state) for c, sub in p.subspaces.items()}
        prior, confidence = state.priors.get(full, (p.prior, p.confidence))
        if full in state.pins:
            choice = p.normalize(state.pins[full])
            return _categorical(p, [choice], subs, None, "medium")
        return _categorical(p, list(p.choices), subs, prior, confidence)
    if isinstance(p, Float):
        lower, upper = state.ranges.get(full, (p.lower, p.upper))
        if full in state.pins:
            return Constant(p.normalize(state.pins[full]), when=p.when)
        prior, confidence = state.priors.get(full, (p.prior, p.confidence))
        if prior is not None and not lower <= prior <= upper:
            prior = None  # a prior the narrowed range no longer holds says nothing about it
        return dataclasses.replace(p, lower=lower, upper=upper, prior=prior, confidence=confidence)
    return p


def _categorical(p: Categorical, choices: list[Any], subs: Mapping[Any, dict[str, Parameter]], prior: Any,
                 confidence: str, when: Mapping[str, Any] | None | bool = False) -> Categorical:
    """A categorical like ``p`` with these choices (their sub-spaces kept); ``when`` False keeps ``p``'s."""
    if prior is not None and p.contains(prior) is None and not any(p.normalize(prior) == c for c in choices):
        prior = None
    kept_when = p.when if when is False else when
    spec: Any = {c: subs.get(c, {}) for c in choices} if p.subspaces else choices
    return Categorical(spec, prior=prior, confidence=confidence, when=kept_when)  # type: ignore[arg-type]


def _prune(tree: dict[str, Parameter]) -> dict[str, Parameter]:
    """``tree`` without the parameters whose conditions can no longer hold, until none is left to drop."""
    while True:
        flat: dict[str, Parameter] = {}
        _flatten(tree, "", flat)
        pruned, dropped = _drop(tree, "", flat)
        if not dropped:
            return pruned
        tree = pruned


def _flatten(params: Mapping[str, Parameter], prefix: str, out: dict[str, Parameter]) -> None:
    for name, p in params.items():
        out[prefix + name] = p
        if isinstance(p, Categorical):
            for c, sub in p.subspaces.items():
                _flatten(sub, f"{prefix}{name}.{c}.", out)


def _drop(params: Mapping[str, Parameter], prefix: str, flat: Mapping[str, Parameter]) -> tuple[dict[str, Parameter], bool]:
    out: dict[str, Parameter] = {}
    dropped = False
    for name, p in params.items():
        when: dict[str, tuple[Any, ...]] | None = None
        if not isinstance(p, Fidelity) and p.when:
            when = {}
            for parent, values in p.when.items():
                target = prefix + parent if parent in params else parent
                found = flat.get(target)
                kept = () if found is None or isinstance(found, Fidelity) else tuple(
                    v for v in values if found.contains(v) is None)
                if not kept:
                    break
                when[parent] = kept
            if len(when) < len(p.when):  # a condition that can no longer hold: never active
                dropped = True
                continue
        if isinstance(p, Categorical):
            subs = {}
            for c, sub in p.subspaces.items():
                subs[c], gone = _drop(sub, f"{prefix}{name}.{c}.", flat)
                dropped = dropped or gone
            out[name] = _categorical(p, list(p.choices), subs, p.prior, p.confidence, p.when if when is None else when)
        elif when is not None and not isinstance(p, Fidelity) and when != p.when:
            out[name] = dataclasses.replace(p, when=when)
        else:
            out[name] = p
    return out, dropped


__all__ = ["Steering", "check", "coerce", "steer_space"]
