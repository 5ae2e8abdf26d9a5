"""How much a study may spend: trials, full-training equivalents (FTE), or wall-clock seconds."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metaml.errors import BudgetError, shown

#: The largest limit of each kind: a billion trials, FTE or seconds (31 years). A larger number is a
#: typo, and one past the range of a float (10**400) has no meaning at all.
MAX_LIMIT = 1e9


@dataclass(frozen=True)
class Budget:
    """Limits on a study; it stops at the first one reached. Trials and FTE count the whole study."""

    trials: int | None = None
    fte: float | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        for name in ("trials", "fte", "seconds"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) or value <= 0:
                raise BudgetError(f"budget {name} must be a positive number, got {shown(value)}")
            if value > MAX_LIMIT:
                raise BudgetError(
                    f"budget {name} must be at most {MAX_LIMIT:.0e}, got {shown(value)}: leave {name} out to set no limit on it"
                )
        if self.trials is not None and float(self.trials) != int(self.trials):
            raise BudgetError(f"budget trials must be a whole number, got {shown(self.trials)}")
        if self.trials is not None:
            object.__setattr__(self, "trials", int(self.trials))
        if self.trials is None and self.fte is None and self.seconds is None:
            raise BudgetError("a budget needs trials, fte or seconds")

    def merged(self, other: Budget | None) -> Budget:
        """This budget with the limits ``other`` sets replacing ours."""
        if other is None:
            return self
        return Budget(
            trials=other.trials if other.trials is not None else self.trials,
            fte=other.fte if other.fte is not None else self.fte,
            seconds=other.seconds if other.seconds is not None else self.seconds,
        )

    def describe(self) -> str:
        parts = []
        if self.trials is not None:
            parts.append(f"{self.trials} trials")
        if self.fte is not None:
            parts.append(f"{self.fte:g} FTE")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("trials", self.trials), ("fte", self.fte), ("seconds", self.seconds)) if v is not None}


def parse_budget(value: Any) -> Budget:
    """A Budget from a Budget, an int (trials), a mapping, or text like ``"fte=5,seconds=600"``."""
    if isinstance(value, Budget):
        return value
    if isinstance(value, bool):
        raise BudgetError(f"a budget is a number of trials or a mapping, not {shown(value)}")
    if isinstance(value, int):
        return Budget(trials=value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"trials", "fte", "seconds"}
        if unknown:
            raise BudgetError(f"unknown budget fields {shown(sorted(map(str, unknown)))}; use trials, fte, seconds")
        return Budget(**{str(k): _num(v, str(k)) for k, v in value.items()})  # type: ignore[arg-type]
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            return Budget(trials=int(text))
        fields: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = re.fullmatch(r"(trials|fte|seconds)\s*=\s*([0-9.eE+-]+)", part)
            if match is None:
                raise BudgetError(
                    f"cannot read the budget {shown(value)}: write e.g. 'trials=40', 'fte=5' or 'seconds=600'"
                )
            if match.group(1) in fields:
                raise BudgetError(f"the budget {shown(value)} gives {match.group(1)} twice")
            fields[match.group(1)] = _num(match.group(2), match.group(1))
        return Budget(**fields)  # type: ignore[arg-type]
    raise BudgetError(f"a budget is a number of trials or a mapping, not {shown(value)}")


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past the range of a float
        return False


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise BudgetError(f"budget {name} must be a number, got {shown(value)}")
    if isinstance(value, int) and (name == "trials" or not _finite(value)):
        return value  # exactly (float() would round 10**39, or fail past 10**308); Budget checks the range
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise BudgetError(f"budget {name} must be a number, got {shown(value)}") from None
    return int(number) if name == "trials" and number.is_integer() else number
