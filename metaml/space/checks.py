"""The checks every parameter kind shares: numbers, switches, names and plain data, each refused with a SpaceError."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from metaml.errors import SpaceError, shown

#: How deep a constant's lists and mappings may nest (it is stored as JSON with the study).
MAX_PLAIN_DEPTH = 32
#: The largest whole number an Int may reach: past 2**53 floats skip whole numbers, so the unit
#: encoding could not give each value its share (Int(2**62, 2**62 + 1) would only ever draw its lower end).
MAX_INT = 2**53
#: The widest fidelity range, upper / lower: schedulers take its logarithm and build a ladder of
#: rungs on it; beyond a trillion-fold range (40 halvings of 2) the lowest rungs mean nothing.
MAX_FIDELITY_RATIO = 1e12


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (a bool is not one)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def is_finite(value: Any) -> bool:
    """Whether the number ``value`` is finite as a float (an integer past 1.8e308 is not: it has no float)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def is_whole(value: Any) -> bool:
    """Whether the finite number ``value`` is a whole number (an integer type always is: 10**300 has no exact float)."""
    return isinstance(value, (int, np.integer)) or float(value).is_integer()


def check_bounds(lower: Any, upper: Any, what: str) -> tuple[Any, Any]:
    """``(lower, upper)`` as Python numbers, or a SpaceError saying why ``what`` cannot be them."""
    if not (is_number(lower) and is_number(upper)):
        raise SpaceError(f"{what} must be numbers, got lower={shown(lower)}, upper={shown(upper)}")
    if not (is_finite(lower) and is_finite(upper)):
        raise SpaceError(
            f"{what} must be finite numbers (within ±1.8e308, the range of a float), "
            f"got lower={shown(lower)}, upper={shown(upper)}"
        )
    return python_number(lower), python_number(upper)


def check_switch(value: Any, what: str) -> bool:
    """``value`` as a bool; the text 'False' or the number 1 is refused rather than read as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise SpaceError(f"{what} must be true or false, got {shown(value)}")
    return bool(value)


def check_name(name: Any, where: str) -> str:
    """A parameter's name: non-empty text."""
    if not isinstance(name, str) or not name.strip():
        raise SpaceError(f"{where}: a parameter's name must be non-empty text, got {shown(name)}")
    return name


def python_number(value: Any) -> Any:
    """numpy scalars as Python numbers, so that ``to_dict()`` stays JSON."""
    return value.item() if isinstance(value, (np.integer, np.floating)) else value


def plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists, numpy scalars as Python ones)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def is_plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is data a study can store: finite numbers, text, booleans, null, and shallow lists and maps of them."""
    if depth > MAX_PLAIN_DEPTH:
        return False
    if isinstance(value, (list, tuple)):
        return all(is_plain(v, depth + 1) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and is_plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, np.generic):
        return is_plain(value.item(), depth)
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return is_finite(value)
    return value is None or isinstance(value, (str, bool))


def unit_of(v: float, lo: float, hi: float) -> float:
    """Where ``v`` lies from ``lo`` to ``hi``, in [0, 1], even where ``hi - lo`` overflows (-1e308 to 1e308)."""
    span = hi - lo
    if span == 0.0:  # ends a float cannot tell apart (a log scale over 1e300 .. nextafter(1e300)): the middle
        return 0.5
    u = (v - lo) / span if math.isfinite(span) else (v / 2 - lo / 2) / (hi / 2 - lo / 2)
    return float(min(1.0, max(0.0, u)))


def value_at(u: float, lo: float, hi: float) -> float:
    """The value at ``u`` in [0, 1] from ``lo`` to ``hi`` (the inverse of ``unit_of``), without overflow."""
    u = float(np.clip(u, 0.0, 1.0))
    span = hi - lo
    # halves cannot overflow, so the widest range is sampled across, not always at its upper end
    return lo + u * span if math.isfinite(span) else 2.0 * (lo / 2 + u * (hi / 2 - lo / 2))
