"""Read an earlier study's configurations in this space: matched by parameter name, every change said.

A warm-started study learns from studies whose spaces may differ from its own. Parameters are
matched by name (nested ones by their path), and each difference has one explicit rule:

* a parameter of the earlier study that this space lacks is **dropped** (its values ignored);
* a parameter of this space that the earlier study lacks (or that changed kind, e.g. a number
  that became a choice) is **filled** with this space's default (its prior, else its middle);
* a changed numeric range **clips** values that lie outside it to the nearest bound
  (whole numbers rounded);
* a changed categorical (a choice removed) **refuses** the trials that took a removed choice,
  and so does a changed constant;
* a configuration that is still not valid here (a condition that now reads otherwise) is refused
  with the space's own reason.

``match_spaces`` says all of it once per pair of spaces (``SpaceMatch.notes``); each
configuration then goes through ``SpaceMatch.config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metaml.errors import SpaceError
from metaml.space.parameters import Categorical, Constant, Float, Int, Parameter
from metaml.space.space import Space


@dataclass(frozen=True)
class Matched:
    """One configuration read into this space: the config (None when refused), and what was done to it."""

    config: dict[str, Any] | None
    refused: str | None = None
    clipped: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpaceMatch:
    """How an earlier study's space maps onto this one, parameter by parameter."""

    earlier: Space
    this: Space
    #: Parameters of both spaces, of compatible kinds: their values are carried over.
    shared: tuple[str, ...]
    #: Parameters only the earlier space has: dropped.
    dropped: tuple[str, ...]
    #: Parameters this space has that the earlier one lacks (or has as another kind): filled with the default.
    filled: tuple[str, ...]
    #: Each difference in words, for the study's record and the report.
    notes: tuple[str, ...]

    def config(self, earlier_config: Mapping[str, Any]) -> Matched:
        """``earlier_config`` as a configuration of this space, or refused with the reason."""
        out: dict[str, Any] = {}
        clipped: list[str] = []
        filled: list[str] = []
        shared = set(self.shared)
        for name in self.this.order:
            if not self.this.is_active(name, out):
                continue
            param = self.this.parameters[name]
            if name not in shared or name not in earlier_config:
                value = param.default()  # type: ignore[union-attr]
                if not isinstance(param, Constant):
                    filled.append(name)
                out[name] = value
                continue
            value, what = _carry(param, earlier_config[name])
            if what == "refused":
                return Matched(None, f"{name!r}: {value}")
            if what == "clipped":
                clipped.append(name)
            out[name] = value
        try:
            config = self.this.validate(out)
        except SpaceError as exc:
            return Matched(None, str(exc))
        return Matched(config, None, tuple(clipped), tuple(filled))


def match_spaces(earlier: Space, this: Space) -> SpaceMatch:
    """How ``earlier``'s configurations read in ``this`` space (see the module for the rules)."""
    mine, theirs = this.searchable, earlier.searchable
    shared: list[str] = []
    filled: list[str] = []
    notes: list[str] = []
    for name, param in mine.items():
        other = theirs.get(name)
        if other is None:
            if not isinstance(param, Constant):
                filled.append(name)
                notes.append(f"{name!r} is not in the earlier study: filled with this space's default "
                             f"{param.default()!r}")  # type: ignore[union-attr]
            continue
        if not _compatible(param, other):
            filled.append(name)
            notes.append(f"{name!r} is a {param.kind} here and a {other.kind} there: its values are not carried "
                         f"over; filled with this space's default {param.default()!r}")  # type: ignore[union-attr]
            continue
        shared.append(name)
        notes += _differences(name, param, other)
    dropped = tuple(n for n in theirs if n not in mine and not isinstance(theirs[n], Constant))
    notes += [f"{name!r} is not in this space: dropped" for name in dropped]
    return SpaceMatch(earlier, this, tuple(shared), dropped, tuple(filled), tuple(notes))


def _compatible(param: Parameter, other: Parameter) -> bool:
    numeric = (Float, Int)
    if isinstance(param, numeric):
        return isinstance(other, numeric)
    if isinstance(param, Categorical):
        return isinstance(other, Categorical)
    return isinstance(param, Constant) and isinstance(other, Constant)


def _differences(name: str, param: Parameter, other: Parameter) -> list[str]:
    """What changed between two compatible parameters of one name, and the rule that applies."""
    if isinstance(param, (Float, Int)) and isinstance(other, (Float, Int)):
        notes = []
        if (param.lower, param.upper) != (other.lower, other.upper):
            notes.append(f"{name!r}: range [{other.lower:g}, {other.upper:g}] there, [{param.lower:g}, "
                         f"{param.upper:g}] here: values outside are clipped to it")
        if isinstance(param, Int) and not isinstance(other, Int):
            notes.append(f"{name!r}: a whole number here, a real number there: values are rounded")
        return notes
    if isinstance(param, Categorical) and isinstance(other, Categorical):
        removed = [c for c in other.choices if param.contains(c) is not None]
        added = [c for c in param.choices if other.contains(c) is not None]
        notes = []
        if removed:
            notes.append(f"{name!r}: choice(s) {removed!r} are not in this space: trials that took them are refused")
        if added:
            notes.append(f"{name!r}: choice(s) {added!r} are new here: no earlier trial took them")
        return notes
    if isinstance(param, Constant) and isinstance(other, Constant) and param.value != other.value:
        return [f"{name!r}: constant {other.value!r} there, {param.value!r} here: every earlier trial is refused"]
    return []


def _carry(param: Parameter, value: Any) -> tuple[Any, str]:
    """(the value in this space, ``kept`` / ``clipped`` / ``refused``; a refusal's value is its reason)."""
    if isinstance(param, (Float, Int)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return f"{value!r} is not a number", "refused"
        x = float(value)
        inside = min(float(param.upper), max(float(param.lower), x))
        if isinstance(param, Int):
            inside = float(min(int(param.upper), max(int(param.lower), round(inside))))
            return int(inside), "clipped" if inside != x else "kept"
        return inside, "clipped" if inside != x else "kept"
    if isinstance(param, Categorical):
        reason = param.contains(value)
        return (reason, "refused") if reason is not None else (param.normalize(value), "kept")
    if isinstance(param, Constant):
        if param.contains(value) is not None:
            return f"the constant is {param.value!r} here, {value!r} there", "refused"
        return param.value, "kept"
    return f"cannot carry a value into a {type(param).__name__}", "refused"
