"""Runs: each configuration's chain of trials, stitched into one learning curve, and what it may do next.

A freeze-thaw study trains a configuration in pieces: trial ``k`` trains it to step ``a``,
trial ``j`` (``continue_from=k``) from ``a`` to ``b``, and so on. A **run** is such a chain,
named by its first trial (``root``); its **head** is the latest trial, and its curve is
every point the chain reported, a later trial's point replacing an earlier one at the
same step (a trial whose checkpoint was lost retrains from step 1 and reports it again).
A trial without curve points (a history from a simulation, or a function that never
reports) contributes one point: its final metrics at the step it ended on.

What a run may do next follows from its head:

* **busy**: the head is pending or running (its target step is known);
* **done**: the head completed at the full fidelity;
* **paused**: the head completed below it, every point finite: the run may be continued;
* **frozen** for good: the head failed, was lost or stopped, or the curve holds a value that
  is not a finite number (NaN, inf, a missing objective). A frozen run is never continued.

**Several objectives** become one loss per point, documented here as the rule: each
objective's loss (``sign * value``) is scaled to [0, 1] by the range seen in the study, and
the scaled losses are combined by an augmented Chebyshev scalarization
``max_j w_j s_j + 0.05 * sum_j w_j s_j``, which reaches every point of a non-convex front as
the weights change (ParEGO, Knowles 2006); the optimizer rotates the weights. An objective
a curve point does not report (e.g. the size of a model, returned only at the end) is taken
from the trial's final metrics. **Limits** (with several objectives) add how far a point
breaks them (relative to each limit's size, ``multiobjective.violation``) to its loss, so the
model learns to avoid them; with one objective a limit changes no decision (lower is better
either way).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaml.core.records import TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.objectives import Objective
from metaml.optimizers.multiobjective import violation

#: The weight of the sum term of the augmented Chebyshev scalarization.
CHEBYSHEV_AUGMENT = 0.05

PAUSED, BUSY, DONE, FROZEN = "paused", "busy", "done", "frozen"


@dataclass(frozen=True)
class Run:
    """One configuration's chain of trials: its stitched curve of losses and what it may do next."""

    root: int
    head: TrialRecord
    #: Observed steps, increasing, and the loss (lower is better, limits included) at each.
    steps: tuple[float, ...]
    losses: tuple[float, ...]
    state: str
    why: str = ""

    @property
    def config(self) -> dict[str, Any]:
        return self.head.config

    @property
    def last_step(self) -> float:
        return self.steps[-1] if self.steps else 0.0

    @property
    def last_loss(self) -> float:
        return self.losses[-1] if self.losses else math.inf

    def loss_at(self, step: float) -> float | None:
        """The loss reported at ``step`` exactly, or None."""
        for s, loss in zip(self.steps, self.losses):
            if math.isclose(s, step):
                return loss
        return None


@dataclass(frozen=True)
class Scalarization:
    """How a point's losses become one loss: per-objective scales, weights, and the limits."""

    objectives: tuple[Objective, ...]
    lows: np.ndarray
    spans: np.ndarray
    weights: np.ndarray

    def __call__(self, losses: tuple[float, ...]) -> float:
        if len(self.objectives) == 1:
            return losses[0]  # a limit on the one objective changes nothing: lower is better either way
        x = np.asarray(losses)
        scaled = self.weights * (x - self.lows) / self.spans
        value = float(np.max(scaled) + CHEBYSHEV_AUGMENT * np.sum(scaled))
        return value + violation(x, self.objectives)


def rotating_weights(n_objectives: int, turn: int, seed: int) -> np.ndarray:
    """Weights on the simplex for decision ``turn``: equal on turn 0 of every cycle of 8, else drawn (Dirichlet(1))."""
    if n_objectives == 1 or turn % 8 == 0:
        return np.full(n_objectives, 1.0 / n_objectives)
    rng = np.random.default_rng([abs(int(seed)), 11, turn % 64])
    return rng.dirichlet(np.ones(n_objectives))


def build_runs(view: StudyView, objectives: Sequence[Objective], full: float, weights: np.ndarray | None = None,
               before: int | None = None) -> list[Run]:
    """Every run of the study (root order), from the trials numbered below ``before`` (all when None)."""
    trials = [t for t in view.trials if before is None or t.number < before]
    roots: dict[int, int] = {}
    chains: dict[int, list[TrialRecord]] = {}
    for t in sorted(trials, key=lambda r: r.number):
        parent = t.continue_from
        root = roots.get(parent, t.number) if parent is not None else t.number
        roots[t.number] = root
        chains.setdefault(root, []).append(t)
    raw = {root: _points(chain, view, objectives) for root, chain in chains.items()}
    scalar = _scalarization(objectives, [v for points in raw.values() for _, v in points], weights)
    return [_run(root, chains[root], raw[root], scalar, full) for root in sorted(chains)]


Point = tuple[float, tuple[float, ...]]


def _points(chain: Sequence[TrialRecord], view: StudyView, objectives: Sequence[Objective]) -> list[Point]:
    """(step, losses) of every point the chain reported, by step, later trials replacing earlier ones."""
    by_step: dict[float, tuple[float, ...]] = {}
    for t in chain:
        final = t.metrics or {}
        curve = view.curve(t.number)
        for o in curve:
            by_step[float(o.step)] = _losses(o.metrics, final, objectives)
        end = t.end_step if t.end_step is not None else t.fidelity
        if t.status is TrialStatus.COMPLETED and end is not None and t.metrics is not None:
            if not curve or not any(math.isclose(float(o.step), float(end)) for o in curve):
                by_step[float(end)] = _losses(final, final, objectives)
    return sorted(by_step.items())


def _losses(metrics: Mapping[str, Any], final: Mapping[str, Any], objectives: Sequence[Objective]) -> tuple[float, ...]:
    out = []
    for o in objectives:
        value = metrics.get(o.name, final.get(o.name))
        finite = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        out.append(o.sign * float(value) if finite else math.nan)  # type: ignore[arg-type]
    return tuple(out)


def _finite(losses: tuple[float, ...]) -> bool:
    return all(math.isfinite(v) for v in losses)


def _scalarization(objectives: Sequence[Objective], vectors: Sequence[tuple[float, ...]],
                   weights: np.ndarray | None) -> Scalarization:
    m = len(objectives)
    finite = [v for v in vectors if _finite(v)] if m > 1 else []
    if finite:
        stacked = np.array(finite)
        lows, highs = stacked.min(axis=0), stacked.max(axis=0)
    else:
        lows, highs = np.zeros(m), np.ones(m)
    spans = np.where(highs - lows > 1e-12, highs - lows, 1.0)
    w = np.full(m, 1.0 / m) if weights is None else np.asarray(weights, dtype=float)
    return Scalarization(tuple(objectives), lows, spans, w)


def _run(root: int, chain: Sequence[TrialRecord], points: Sequence[Point], scalar: Scalarization, full: float) -> Run:
    head = chain[-1]  # chains are in trial-number order
    kept = [(s, v) for s, v in points if _finite(v)]
    state, why = _state(head, points, full)
    return Run(root, head, tuple(s for s, _ in kept), tuple(scalar(v) for _, v in kept), state, why)


def _state(head: TrialRecord, points: Sequence[Point], full: float) -> tuple[str, str]:
    if head.status in (TrialStatus.PENDING, TrialStatus.RUNNING):
        return BUSY, ""
    if head.status is not TrialStatus.COMPLETED:
        return FROZEN, f"trial {head.number} {head.status.value}"
    bad = [s for s, v in points if not _finite(v)]
    if bad:
        return FROZEN, f"a value that is not a finite number at step {bad[0]:g}"
    if not points:
        return FROZEN, f"trial {head.number} reported no value"
    if points[-1][0] >= full - 1e-9:
        return DONE, ""
    return PAUSED, ""

