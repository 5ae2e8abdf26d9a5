"""The metrics of a built-in pipeline: validation metrics for the search, ``test_`` ones once at the end.

A trial computes its metrics on the validation rows only: the study searches on them. The
test rows are scored once, after the search, for the models on the final Pareto front
(``metaml.final_evaluation``), with the prediction-based metrics prefixed ``test_``
(``val_error`` becomes ``test_error``). Cost metrics (latency, size, energy) describe the
model, not a data split: they come once, with the validation metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from metaml.core.records import DETAILS_KEY
from metaml.core.trial_context import TrialContext
from metaml.metrics import (
    MetricError,
    ResourceUsage,
    available_metrics,
    compute_details,
    compute_metrics,
    get_metric,
)
from metaml.metrics.bootstrap import bootstrap_intervals
from metaml.pipelines.base import PipelineError, recorded_metrics
from metaml.pipelines.training import Arrays, predict

#: Inputs a metric may need and still be computed on a data split.
_PREDICTION_INPUTS = {"probabilities", "labels", "sensitive"}


def is_prediction_metric(name: str) -> bool:
    """Whether ``name`` is computed from a split's predictions (so it has a ``test_`` twin)."""
    return set(get_metric(name).needs) <= _PREDICTION_INPUTS


def held_out_name(name: str) -> str:
    """The key of a validation metric's test twin: ``val_error`` -> ``test_error``, ``ece`` -> ``test_ece``."""
    return "test_" + (name[4:] if name.startswith("val_") else name)


def check_metric_names(names: Sequence[str], has_sensitive: bool) -> list[str]:
    """``val_error`` plus the names asked for, each checked before any training is paid for."""
    wanted = list(dict.fromkeys(["val_error", *names]))
    problems = []
    for name in wanted:
        try:
            spec = get_metric(name)
        except MetricError as exc:
            problems.append(str(exc))
            continue
        if "sensitive" in spec.needs and not has_sensitive:
            problems.append(f"the metric {name!r} compares groups: set the 'sensitive' setting to a column of the data")
    if problems:
        raise PipelineError("; ".join(problems))
    return wanted


def trial_metric_names(listed: Sequence[str], has_sensitive: bool, trial: TrialContext) -> list[str]:
    """What a trial computes: ``val_error``, the listed metrics and every objective of its study that is a known metric.

    Naming a metric in the study's ``objectives:`` is enough: the search ranks on it, so the
    pipeline computes it whether or not the ``metrics`` setting lists it too.
    """
    return check_metric_names([*listed, *objective_metrics(trial)], has_sensitive)


def objective_metrics(trial: TrialContext) -> list[str]:
    """The names of the trial's study objectives that ``metaml.metrics`` knows (none for a stand-in trial)."""
    known = set(available_metrics())
    return [name for name in trial.objective_names if name in known]


def evaluated_metric_names(listed: Sequence[str], has_sensitive: bool, folder: Path) -> list[str]:
    """What the final evaluation scores: the listed metrics and every one the trial in ``folder`` computed."""
    return check_metric_names([*listed, *recorded_metrics(folder)], has_sensitive)


def score(
    names: Sequence[str],
    model: nn.Module,
    val: Arrays,
    usage: ResourceUsage,
    latency_batch: int,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    intervals: bool = True,
) -> dict[str, Any]:
    """Every metric in ``names`` on the validation rows (what a trial returns to the search), and their details.

    ``details`` (``DETAILS_KEY``) holds each fairness metric's group breakdown and, with
    ``intervals``, the seeded bootstrap interval of each metric that has one (see
    ``split_details``; ``front_candidate`` says when they are worth their cost).
    """
    settings = dict(settings or {})
    device = _device_of(model)
    val = val.to(device)
    example = tuple(x[: max(1, min(latency_batch, len(val)))] for x in val.inputs)
    return _compute(names, model, val, settings, "validation", seed, example=example, usage=usage,
                    intervals=intervals)  # fmt: skip


def front_candidate(trial: TrialContext) -> bool:
    """Whether the trial trains to the full fidelity: only such a trial can join the front, so only it needs intervals."""
    return trial.fidelity is None or trial.max_fidelity is None or trial.fidelity >= trial.max_fidelity


def score_test(
    names: Sequence[str],
    model: nn.Module,
    test: Arrays,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The prediction metrics among ``names`` on the test rows, keyed ``test_...`` (the final evaluation)."""
    predicted = [n for n in names if is_prediction_metric(n)]
    test_settings = {k: v for k, v in dict(settings or {}).items() if k in predicted}
    values = _compute(predicted, model, test.to(_device_of(model)), test_settings, "test", seed)
    details = values.pop(DETAILS_KEY)
    for part in ("fairness", "intervals"):  # keyed as the test metrics are: test_error, test_demographic_...
        details[part] = {held_out_name(k): v for k, v in details[part].items()}
    return {**{held_out_name(k): v for k, v in values.items()}, DETAILS_KEY: details}


def split_details(
    names: Sequence[str],
    probabilities: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None,
    settings: Mapping[str, Mapping[str, Any]],
    rng: np.random.Generator,
    intervals: bool = True,
) -> dict[str, Any]:
    """What a split's metrics are made of: ``{"fairness": {metric: breakdown}, "intervals": {metric: interval}}``.

    Computed from the predictions already made (nothing is predicted again); the intervals
    are seeded, so the same trial gives the same intervals.
    """
    fairness = compute_details(names, probabilities=probabilities, labels=labels, sensitive=groups, settings=settings)
    found = bootstrap_intervals(names, probabilities, labels, groups, rng, settings=settings) if intervals else {}
    return {"fairness": fairness, "intervals": found}


def _device_of(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _compute(
    names: Sequence[str],
    model: nn.Module,
    data: Arrays,
    settings: Mapping[str, Mapping[str, Any]],
    split: str,
    seed: int,
    example: tuple[torch.Tensor, ...] | None = None,
    usage: ResourceUsage | None = None,
    intervals: bool = True,
) -> dict[str, Any]:
    probs = predict(model, data)
    labels = data.y.cpu().numpy()
    groups = None if data.groups is None else np.asarray(data.groups)
    chosen = {k: v for k, v in settings.items() if k in names}
    try:
        values: dict[str, Any] = compute_metrics(names, probabilities=probs, labels=labels, sensitive=groups,
                                                 model=model, example_batch=example, usage=usage,
                                                 settings=chosen)  # fmt: skip
        rng = np.random.default_rng([int(seed), 0 if split == "validation" else 1, 0xB007])
        details = split_details(names, probs, labels, groups, chosen, rng, intervals)
    except MetricError as exc:
        raise PipelineError(f"computing the metrics failed: {exc}") from None
    return {**values, DETAILS_KEY: {**details, "split": split}}
