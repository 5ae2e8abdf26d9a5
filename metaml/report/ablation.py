"""The ablation path: which changes, in which order, turn the default configuration into a good one.

The default is the pipeline's own, as its trial trained it, where the study has one (a
built-in pipeline's study trains it first); else the space's default (each parameter's
prior, or its middle value or first choice), and the path says which (``start_trial``).
Starting from it, each step changes the one parameter (to its value
in the target) whose change the surrogate predicts to help most; the path ends at the
target. Changing a categorical that switches a sub-space brings the sub-space's values
along in the same step (they cannot be set while it is off). Greedy ablation after
Fawcett & Hoos (2016), with the surrogate standing in for new training runs, so the report
costs no training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from metaml.space import Constant, Space

#: Predicts one objective for a batch of configurations (lower is better after ``sign``).
Predictor = Callable[[Sequence[Mapping[str, Any]]], np.ndarray]


@dataclass(frozen=True)
class AblationStep:
    """One change on the path: the parameter, its old and new value, and the prediction after it."""

    parameter: str
    before: Any
    after: Any
    predicted: float
    gain: float  # how much the prediction improved with this step (positive: better)
    also: dict[str, Any]  # sub-space values that came along with a categorical change
    off: list[str] = field(default_factory=list)  # parameters the change switched off

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter, "before": self.before, "after": self.after,
            "predicted": self.predicted, "gain": self.gain, "also": self.also, "off": self.off,
        }


@dataclass(frozen=True)
class AblationPath:
    """The start's prediction and the ordered steps to the target.

    ``start_trial`` is the trial that trained the start configuration (the pipeline's
    default, or a trial that ran the space's default), None when no trial ran it.
    """

    objective: str
    start: dict[str, Any]
    target: dict[str, Any]
    start_predicted: float
    steps: list[AblationStep]
    start_trial: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "start": self.start,
            "start_trial": self.start_trial,
            "target": self.target,
            "start_predicted": self.start_predicted,
            "steps": [s.to_dict() for s in self.steps],
        }


def same_value(a: Any, b: Any) -> bool:
    """Whether two parameter values are the same (floats up to a JSON round trip)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def same_config(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two configurations hold the same parameters with the same values."""
    return set(a) == set(b) and all(same_value(a[k], b[k]) for k in a)


def _apply(space: Space, current: Mapping[str, Any], name: str, target: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with ``name`` set as in ``target``; parameters it switches on take the target's values."""
    changed = dict(current)
    changed[name] = target[name]
    out: dict[str, Any] = {}
    for p in space.order:
        if not space.is_active(p, out):
            continue
        if p in changed:
            out[p] = changed[p]
        elif p in target:
            out[p] = target[p]
        else:
            param = space.parameters[p]
            out[p] = param.default()  # type: ignore[union-attr]
    return out


def _differences(space: Space, current: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
    """Parameters that can be changed now (active here) and differ from the target."""
    return [
        p for p in space.order
        if p in target and p in current and not isinstance(space.parameters[p], Constant)
        and not same_value(current[p], target[p])
    ]


def ablation_path(
    space: Space,
    start: Mapping[str, Any],
    target: Mapping[str, Any],
    predict: Predictor,
    *,
    objective: str = "",
    sign: float = 1.0,
    start_trial: int | None = None,
) -> AblationPath:
    """The greedy path from ``start`` to ``target``: each step the change predicted to help most.

    ``sign`` is +1 when lower predictions are better, -1 when higher ones are. Ties go to
    the parameter that comes first in the space, so the path is deterministic.
    """
    current = dict(start)
    start_pred = float(predict([current])[0])
    previous = start_pred
    steps: list[AblationStep] = []
    for _ in range(2 * len(space.order) + 1):  # each step fixes at least one parameter for good
        candidates = _differences(space, current, target)
        if not candidates:
            break
        options = [_apply(space, current, p, target) for p in candidates]
        preds = np.asarray(predict(options), dtype=float)
        k = int(np.argmin(sign * preds))
        name, chosen = candidates[k], options[k]
        also = {p: v for p, v in chosen.items() if p != name and (p not in current or not same_value(current[p], v))}
        off = [p for p in current if p not in chosen]
        steps.append(AblationStep(name, current[name], chosen[name], float(preds[k]), float(sign * (previous - preds[k])), also, off))
        previous = float(preds[k])
        current = chosen
    return AblationPath(objective, dict(start), dict(target), start_pred, steps, start_trial)
