"""Hypervolume measures of one run, for the multi-objective suite (``lcbench-mo-dev``).

A run's front at ``x`` FTE is made of its full-fidelity evaluations finished by then (as in
``benchmarks.multiobjective``: lower fidelities measure another function). Against the
problem's fixed ``MOTargets`` (reference point and the hypervolume of 5,000 random
configurations' front) each run gets its hypervolume at 5, 10 and 30 FTE, the same divided
by the random front's (``hv_norm``, comparable across tasks), and the FTE at which its
hypervolume first reaches the target (None when it never does: censored, like FTE-to-target).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from benchmarks.problems.base import Problem
from benchmarks.runner import RunLog
from benchmarks.targets import MOTargets
from metaml.core.records import TrialRecord
from metaml.objectives import hypervolume, to_loss_matrix

#: FTE at which hypervolume is reported.
HV_CHECKPOINTS: tuple[float, ...] = (5.0, 10.0, 30.0)


def hv_measures(problem: Problem, log: RunLog, history: list[TrialRecord], budget: float,
                targets: MOTargets) -> dict[str, Any]:
    """The ``mo`` field of a result line: hypervolume trajectory, at checkpoints, and FTE to the target."""
    ref = np.asarray(targets.reference, dtype=float)
    points: list[Mapping[str, float]] = []
    hv = 0.0
    trajectory: list[list[float]] = []  # [cumulative FTE, hypervolume] at each increase
    fte_to_target: float | None = None
    for ev in log.evaluations:
        if not ev.full or ev.cumulative > budget + 1e-9:
            continue
        metrics = history[ev.number].metrics or {}
        if not all(math.isfinite(float(metrics.get(o.name, math.nan))) for o in problem.objectives):
            continue
        points.append(metrics)
        new = hypervolume(to_loss_matrix(problem.objectives, points), ref)
        if new > hv:
            hv = new
            trajectory.append([ev.cumulative, hv])
        if fte_to_target is None and hv >= targets.hv_target:
            fte_to_target = ev.cumulative
    at: dict[str, float] = {}
    for x in HV_CHECKPOINTS:
        if x <= budget + 1e-9:
            found = [v for f, v in trajectory if f <= x + 1e-9]
            at[f"{x:g}"] = found[-1] if found else 0.0
    norm = targets.hv_random if targets.hv_random > 0 else math.nan
    return {"mo": {
        "hv": at,
        "hv_norm": {k: v / norm for k, v in at.items()},
        "final_hv": hv,
        "final_hv_norm": hv / norm,
        "fte_to_hv_target": fte_to_target,
        "trajectory": trajectory,
        "n_front_points": len(points),
        "reference": targets.reference,
        "hv_random": targets.hv_random,
        "hv_target": targets.hv_target,
        "share": targets.share,
    }}


def measures_for(targets: Mapping[str, MOTargets]) -> Callable[[Problem, RunLog, list[TrialRecord], float], dict[str, Any]]:
    """The runner's ``measures`` hook for problems with these hypervolume references."""

    def measure(problem: Problem, log: RunLog, history: list[TrialRecord], budget: float) -> dict[str, Any]:
        return hv_measures(problem, log, history, budget, targets[problem.name])

    return measure
