"""Objectives the user names, their limits, and Pareto ranking and hypervolume (via moocore).

Every answer about results is computed here once, for every face to call: which row is
best on one objective (always a member of the front), and the hypervolume reference point
of a study, with the history of how it moved (docs/concepts.md, "The hypervolume
reference").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import moocore
import numpy as np

from metaml.errors import ObjectiveError


@dataclass(frozen=True)
class Objective:
    """A metric to minimise or maximise, with an optional limit it must respect.

    ``limit`` is an upper bound for a ``min`` objective (latency below 5 ms) and a lower
    bound for a ``max`` objective (accuracy at least 0.9).
    """

    name: str
    goal: str = "min"
    limit: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ObjectiveError(f"an objective needs a non-empty name, got {self.name!r}")
        if self.goal not in ("min", "max"):
            raise ObjectiveError(f"objective {self.name!r}: goal must be 'min' or 'max', not {self.goal!r}")
        if self.limit is not None:
            if isinstance(self.limit, bool) or not isinstance(self.limit, (int, float, np.integer, np.floating)) or math.isnan(self.limit):
                raise ObjectiveError(f"objective {self.name!r}: limit must be a number, not {self.limit!r}")
            object.__setattr__(self, "limit", float(self.limit))

    @property
    def sign(self) -> float:
        """+1 for a minimised objective, -1 for a maximised one (so that lower is better)."""
        return 1.0 if self.goal == "min" else -1.0

    def feasible(self, value: float) -> bool:
        """Whether ``value`` respects the limit (always true without one)."""
        if self.limit is None:
            return True
        return value <= self.limit if self.goal == "min" else value >= self.limit

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "goal": self.goal}
        if self.limit is not None:
            out["limit"] = self.limit
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Objective:
        if isinstance(data, Objective):
            return data
        if isinstance(data, str):
            return cls(data)
        if not isinstance(data, Mapping):
            raise ObjectiveError(f"an objective is a name or a mapping with name/goal/limit, not {data!r}")
        unknown = set(data) - {"name", "goal", "limit"}
        if unknown:
            raise ObjectiveError(f"objective {data.get('name')!r}: unknown fields {sorted(unknown)}; use name, goal, limit")
        if "name" not in data:
            raise ObjectiveError(f"an objective needs a name: {dict(data)!r}")
        limit = data.get("limit")
        if isinstance(limit, str):
            # PyYAML reads 5e-3 (no dot) as a string; take it as the number it obviously is
            try:
                limit = float(limit)
            except ValueError:
                raise ObjectiveError(f"objective {data['name']!r}: limit must be a number, not {limit!r}") from None
        return cls(str(data["name"]), str(data.get("goal", "min")), limit)


def steer_limits(objectives: Sequence[Objective], interventions: Sequence[Any]) -> tuple[Objective, ...]:
    """The objectives with the limits the ``limit`` interventions set (the latest per objective counts)."""
    limits = {i.target: i.value for i in interventions if getattr(i, "action", None) == "limit"}
    if not limits:
        return tuple(objectives)
    return tuple(Objective(o.name, o.goal, limits[o.name]) if o.name in limits else o for o in objectives)


def check_limit(objectives: Sequence[Objective], name: str | None, op: str | None, value: Any) -> float | None:
    """The limit ``name op value`` asks for (None: no limit), or an ``ObjectiveError`` that says why it cannot be.

    ``op`` is ``<=`` for a minimised objective and ``>=`` for a maximised one (None: either is
    taken as the objective's own); ``value`` None removes the limit.
    """
    found = {o.name: o for o in objectives}
    if name not in found:
        raise ObjectiveError(f"unknown objective {name!r}: the study's objectives are {', '.join(found)}")
    o = found[name]
    want = "<=" if o.goal == "min" else ">="
    if op is not None and op != want:
        bound = "an upper" if o.goal == "min" else "a lower"
        raise ObjectiveError(f"objective {name!r} is {'minimized' if o.goal == 'min' else 'maximized'}: its limit is "
                             f"{bound} bound, write {name}{want}VALUE")
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ObjectiveError(f"objective {name!r}: a limit is a finite number, not {value!r}")
    return number


def parse_objectives(items: Any) -> tuple[Objective, ...]:
    """Objectives from a list of names, mappings or Objective instances."""
    if isinstance(items, (str, Objective, Mapping)):
        items = [items]
    if not isinstance(items, Sequence) or not items:
        raise ObjectiveError("a study needs at least one objective")
    objectives = tuple(Objective.from_dict(i) for i in items)
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise ObjectiveError(f"objective names repeat: {names}")
    return objectives


def check_metrics(objectives: Sequence[Objective], metrics: Mapping[str, Any] | None) -> dict[str, float]:
    """Return the metrics as floats; raise ObjectiveError if an objective is missing or not finite."""
    if metrics is None:
        names = ", ".join(repr(o.name) for o in objectives)
        raise ObjectiveError(f"the trial function returned None: it must return its metrics as a dict with {names}")
    if not isinstance(metrics, Mapping):
        raise ObjectiveError(f"a trial must return a dict of metrics, got {type(metrics).__name__}: {metrics!r}")
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):  # numpy or torch scalars
            try:
                value = value.item()
            except (ValueError, RuntimeError, TypeError):  # an array of many values: not a metric we judge
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if any(o.name == key for o in objectives):
                raise ObjectiveError(f"objective {key!r} must be a number, got {value!r}")
            continue  # extra non-numeric metrics are not ours to judge
        out[str(key)] = float(value)
    for o in objectives:
        if o.name not in out:
            raise ObjectiveError(
                f"the trial's metrics lack the objective {o.name!r} (it returned {sorted(map(str, metrics))})"
            )
        if not math.isfinite(out[o.name]):
            raise ObjectiveError(f"objective {o.name!r} is {out[o.name]} (not a finite number)")
    return out


def to_loss_matrix(objectives: Sequence[Objective], metrics: Sequence[Mapping[str, float]]) -> np.ndarray:
    """Rows of objective values turned so that lower is better in every column."""
    return np.array([[o.sign * m[o.name] for o in objectives] for m in metrics], dtype=float).reshape(
        len(metrics), len(objectives)
    )


def nondominated(losses: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows no other row dominates (ties all kept)."""
    if len(losses) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(losses, keep_weakly=True), dtype=bool)


def pareto_ranks(losses: np.ndarray) -> np.ndarray:
    """Non-dominated sorting: 1 for the front, 2 for the next layer, and so on."""
    if len(losses) == 0:
        return np.zeros(0, dtype=int)
    return np.asarray(moocore.pareto_rank(losses), dtype=int) + 1


def reference_point(objectives: Sequence[Objective], losses: np.ndarray) -> np.ndarray:
    """A hypervolume reference point: the limits where given, else the worst seen plus 10%."""
    ref = np.empty(len(objectives))
    for j, o in enumerate(objectives):
        if o.limit is not None:
            ref[j] = o.sign * o.limit
        elif len(losses):
            worst, best = float(np.max(losses[:, j])), float(np.min(losses[:, j]))
            ref[j] = worst + 0.1 * max(worst - best, abs(worst), 1e-12)
        else:
            ref[j] = 0.0
    return ref


def hypervolume(losses: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by ``losses`` (lower is better) up to ``ref``."""
    if len(losses) == 0:
        return 0.0
    inside = np.all(losses < ref, axis=1)
    if not inside.any():
        return 0.0
    return float(moocore.hypervolume(losses[inside], ref=ref))


def best_row(losses: np.ndarray, column: int) -> int | None:
    """The index of the non-dominated row lowest in ``column`` (None without rows).

    Rows that tie there go to the one lower on the other columns, in their order, then to
    the first row; so the answer is always on the front, never a row that another row
    dominates (the same error with six times the parameters is not "the best").
    """
    if len(losses) == 0:
        return None
    others = [j for j in range(losses.shape[1]) if j != column]
    candidates = [int(i) for i in np.flatnonzero(nondominated(losses))]
    return min(candidates, key=lambda i: (losses[i, column], *(losses[i, j] for j in others), i))


@dataclass(frozen=True)
class ReferenceChange:
    """One move of the hypervolume reference: what it was, what it became, the result that moved it.

    ``trial`` is the label of that result (its position when no labels were given); None
    when the limits fixed the point before any result. ``columns`` are the objectives
    whose coordinate moved.
    """

    trial: int | None
    before: tuple[float, ...] | None
    after: tuple[float, ...]
    columns: tuple[int, ...]


@dataclass(frozen=True)
class Reference:
    """The hypervolume reference point (lower is better in every column) and how it got there."""

    point: tuple[float, ...] | None
    changes: tuple[ReferenceChange, ...]

    def array(self) -> np.ndarray | None:
        """The point as a numpy array (None before any result, unless every objective has a limit)."""
        return None if self.point is None else np.asarray(self.point, dtype=float)


def hypervolume_reference(
    objectives: Sequence[Objective], losses: np.ndarray, labels: Sequence[int] | None = None
) -> Reference:
    """The reference point of results that arrived in the order of ``losses``, and its history.

    One rule for every output (docs/concepts.md): an objective with a limit has the limit
    as its coordinate from the start; the others are fixed by the first result (its value
    plus 10%) and are widened only when a later result that no earlier one dominates lies
    on or beyond them, to the front's worst value plus 10% of its range (or of that value).
    So the point moves rarely, each move is a recorded change, and no member of the front
    is ever left outside it. Rows that break a limit are not results here.
    """
    limited = np.array([o.limit is not None for o in objectives], dtype=bool)
    limits = np.array([o.sign * o.limit if o.limit is not None else np.inf for o in objectives], dtype=float)
    rows = np.asarray(losses, dtype=float).reshape(-1, len(objectives))
    names = list(range(len(rows))) if labels is None else [int(n) for n in labels]
    keep = np.all(rows <= limits, axis=1)
    rows, names = rows[keep], [n for n, k in zip(names, keep) if k]
    changes: list[ReferenceChange] = []
    point: np.ndarray | None = None
    if limited.all():
        point = limits.copy()
        changes.append(ReferenceChange(None, None, _plain_tuple(point), tuple(range(len(objectives)))))
    for i in range(len(rows)):
        if point is None:
            point = reference_point(objectives, rows[: i + 1])
            changes.append(ReferenceChange(names[i], None, _plain_tuple(point), tuple(range(len(objectives)))))
            continue
        outside = [j for j in np.flatnonzero(~limited) if rows[i, j] >= point[j]]
        if not outside or not nondominated(rows[: i + 1])[i]:
            continue
        seen = rows[: i + 1]
        front = seen[nondominated(seen)]
        wider = point.copy()
        wider[outside] = np.maximum(point[outside], reference_point(objectives, front)[outside])
        changes.append(ReferenceChange(names[i], _plain_tuple(point), _plain_tuple(wider), tuple(int(j) for j in outside)))
        point = wider
    return Reference(None if point is None else _plain_tuple(point), tuple(changes))


def _plain_tuple(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
