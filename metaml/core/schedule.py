"""A hyperparameter schedule: the value of each scheduled parameter for every step of one run.

Population-based training leaves one: the winner's lineage changed its schedulable values
at interval boundaries. ``metaml export`` writes it, and a new study replays it as a fixed
schedule (the study file's ``schedule:``), which the trial context applies step by step
(``TrialContext.config_at``). A segment ``(start, value)`` holds for the steps trained after
``start``: the epoch that ends at step ``e`` uses the last segment whose start is below ``e``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metaml.errors import MetamlError

Segments = tuple[tuple[float, Any], ...]


class ScheduleError(MetamlError):
    """A schedule that cannot be read: a missing start at 0, steps out of order, a value that is not plain."""


@dataclass(frozen=True)
class Schedule:
    """Each scheduled parameter's segments ``(start step, value)``, starts increasing from 0."""

    segments: Mapping[str, Segments] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean: dict[str, Segments] = {}
        for name, segs in self.segments.items():
            if not isinstance(name, str) or not name:
                raise ScheduleError(f"a schedule names its parameters, got {name!r}")
            pairs: list[tuple[float, Any]] = []
            for seg in segs:
                if not isinstance(seg, (list, tuple)) or len(seg) != 2:
                    raise ScheduleError(f"schedule of {name!r}: each segment is [start step, value], got {seg!r}")
                start, value = seg
                if isinstance(start, bool) or not isinstance(start, (int, float)) or not math.isfinite(start):
                    raise ScheduleError(f"schedule of {name!r}: a segment's start is a step, got {start!r}")
                if pairs and float(start) <= pairs[-1][0]:
                    raise ScheduleError(f"schedule of {name!r}: the starts must increase, got {start!r} after {pairs[-1][0]:g}")
                if value is not None and not isinstance(value, (int, float, str, bool)):
                    raise ScheduleError(f"schedule of {name!r}: a value is a number, got {value!r}")
                pairs.append((float(start), value))
            if not pairs or pairs[0][0] != 0.0:
                raise ScheduleError(f"schedule of {name!r} must begin at step 0 (its value from the start of the run)")
            clean[name] = tuple(pairs)
        object.__setattr__(self, "segments", clean)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.segments)

    def value(self, name: str, step: float) -> Any:
        """The value of ``name`` for the epoch that ends at ``step`` (its first value for step 0 and before)."""
        segs = self.segments[name]
        chosen = segs[0][1]
        for start, value in segs:
            if start < float(step):
                chosen = value
        return chosen

    def at(self, step: float) -> dict[str, Any]:
        """Every scheduled parameter's value for the epoch that ends at ``step``."""
        return {name: self.value(name, step) for name in self.segments}

    def apply(self, config: Mapping[str, Any], step: float) -> dict[str, Any]:
        """``config`` with the scheduled values of the epoch ending at ``step`` in place (others as given)."""
        return {**config, **self.at(step)}

    def to_dict(self) -> dict[str, list[list[Any]]]:
        """The JSON shape: ``{name: [[start, value], ...]}`` (steps as whole numbers where they are)."""
        return {
            name: [[int(s) if float(s).is_integer() else s, v] for s, v in segs] for name, segs in self.segments.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        if not isinstance(data, Mapping):
            raise ScheduleError(f"a schedule maps parameter names to [[start step, value], ...], got {data!r}")
        out: dict[str, Segments] = {}
        for name, segs in data.items():
            if not isinstance(segs, (list, tuple)):
                raise ScheduleError(f"schedule of {name!r}: expected a list of [start step, value], got {segs!r}")
            out[name] = tuple(tuple(s) if isinstance(s, (list, tuple)) else s for s in segs)  # type: ignore[misc]
        return cls(out)

    @classmethod
    def from_intervals(cls, intervals: list[tuple[float, Mapping[str, Any]]], names: tuple[str, ...]) -> Schedule:
        """The schedule of a run made of intervals ``(start step, config)``: a segment where a value changed."""
        out: dict[str, list[tuple[float, Any]]] = {n: [] for n in names}
        for start, config in intervals:
            for n in names:
                if n not in config:
                    continue
                if not out[n] or out[n][-1][1] != config[n]:
                    out[n].append((0.0 if not out[n] else float(start), config[n]))
        return cls({n: tuple(v) for n, v in out.items() if v})
