"""Metrics by name: same values as the functions, every missing input named, settings passed on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metaml.metrics import (
    MetricError,
    MetricSpec,
    ResourceUsage,
    available_metrics,
    compute_metrics,
    efficiency,
    expected_calibration_error,
    get_metric,
    log_loss,
    register_metric,
    validation_error,
)
from metaml.metrics.registry import _REGISTRY

P = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.55, 0.45], [0.1, 0.9]])
Y = np.array([0, 1, 1, 0, 0, 1])
S = np.array(["a", "a", "a", "b", "b", "b"])

BUILTINS = [
    "val_error",
    "log_loss",
    "balanced_error",
    "ece",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "latency_ms",
    "batch_latency_ms",
    "n_parameters",
    "trainable_parameters",
    "model_size_bytes",
    "energy_wh",
]


def test_trainable_parameters_leave_out_the_frozen_ones() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model[0].requires_grad_(False)  # a fine-tune's frozen encoder
    values = compute_metrics(["n_parameters", "trainable_parameters"], model=model)
    assert values == {"n_parameters": 16 + 10, "trainable_parameters": 10}


def test_every_builtin_is_registered_and_minimised() -> None:
    assert set(BUILTINS) <= set(available_metrics())
    assert all(get_metric(name).goal == "min" for name in BUILTINS)


def test_everything_at_once() -> None:
    model = torch.nn.Linear(3, 2)
    values = compute_metrics(
        BUILTINS,
        probabilities=P,
        labels=Y,
        sensitive=S,
        model=model,
        example_batch=torch.zeros(4, 3),
        usage=ResourceUsage(cpu_seconds=36, wall_seconds=40),
        settings={"latency_ms": {"repeats": 3}, "batch_latency_ms": {"repeats": 3}},
    )
    assert list(values) == BUILTINS
    assert values["val_error"] == validation_error(P, Y)
    assert values["log_loss"] == log_loss(P, Y)
    assert values["ece"] == expected_calibration_error(P, Y)
    assert values["n_parameters"] == 8
    assert values["energy_wh"] == pytest.approx(36 * 12 / 3600)
    assert values["latency_ms"] == pytest.approx(values["batch_latency_ms"] / 4)
    assert all(isinstance(v, float) for v in values.values())


def test_missing_inputs_are_all_named_before_anything_runs() -> None:
    with pytest.raises(MetricError) as info:
        compute_metrics(["val_error", "equalized_odds_difference", "latency_ms", "energy_wh"], probabilities=P)
    message = str(info.value)
    assert "'val_error' needs labels" in message
    assert "'equalized_odds_difference' needs labels, sensitive" in message
    assert "'latency_ms' needs model, example_batch" in message
    assert "'energy_wh' needs usage" in message


def test_demographic_parity_needs_no_labels() -> None:
    assert compute_metrics(["demographic_parity_difference"], probabilities=P, sensitive=S)[
        "demographic_parity_difference"
    ] == pytest.approx(2 / 3 - 1 / 3)


def test_unknown_names_and_settings_are_refused() -> None:
    with pytest.raises(MetricError, match="unknown metric 'accuracy'; choose one of .*val_error"):
        compute_metrics(["accuracy"], probabilities=P, labels=Y)
    with pytest.raises(MetricError, match="not asked for: ece"):
        compute_metrics(["val_error"], probabilities=P, labels=Y, settings={"ece": {"n_bins": 5}})
    with pytest.raises(MetricError, match="'ece'.*bins"):
        compute_metrics(["ece"], probabilities=P, labels=Y, settings={"ece": {"bins": 5}})


def test_settings_reach_the_metric() -> None:
    values = compute_metrics(["ece"], probabilities=P, labels=Y, settings={"ece": {"n_bins": 1}})
    assert values["ece"] == expected_calibration_error(P, Y, n_bins=1)


def test_latency_is_measured_once_for_both_names(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = efficiency.measure_latency

    def counting(*args: object, **kwargs: object) -> efficiency.Latency:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(efficiency, "measure_latency", counting)
    compute_metrics(["latency_ms", "batch_latency_ms"], model=torch.nn.Linear(2, 2), example_batch=torch.zeros(2, 2))
    assert len(calls) == 1


def test_register_a_metric_of_ones_own() -> None:
    spec = MetricSpec("top_probability", ("probabilities",), lambda i: float(np.max(i.probabilities)), goal="max")
    register_metric(spec)
    try:
        assert compute_metrics(["top_probability"], probabilities=P) == {"top_probability": 0.9}
        with pytest.raises(MetricError, match="exists already"):
            register_metric(spec)
    finally:
        _REGISTRY.pop("top_probability")
    with pytest.raises(MetricError, match="unknown inputs"):
        MetricSpec("bad", ("predictions",), lambda i: 0.0)
