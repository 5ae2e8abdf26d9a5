"""How much a study may spend: trials, full-training equivalents (FTE), or wall-clock seconds."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metaml.errors import BudgetError


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
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise BudgetError(f"budget {name} must be a positive number, got {value!r}")
        if self.trials is not None and float(self.trials) != int(self.trials):
            raise BudgetError(f"budget trials must be a whole number, got {self.trials!r}")
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
        raise BudgetError(f"a budget is a number of trials or a mapping, not {value!r}")
    if isinstance(value, int):
        return Budget(trials=value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"trials", "fte", "seconds"}
        if unknown:
            raise BudgetError(f"unknown budget fields {sorted(unknown)}; use trials, fte, seconds")
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
                    f"cannot read the budget {value!r}: write e.g. 'trials=40', 'fte=5' or 'seconds=600'"
                )
            if match.group(1) in fields:
                raise BudgetError(f"the budget {value!r} gives {match.group(1)} twice")
            fields[match.group(1)] = _num(match.group(2), match.group(1))
        return Budget(**fields)  # type: ignore[arg-type]
    raise BudgetError(f"a budget is a number of trials or a mapping, not {value!r}")


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise BudgetError(f"budget {name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BudgetError(f"budget {name} must be a number, got {value!r}") from None
    return int(number) if name == "trials" and number.is_integer() else number
