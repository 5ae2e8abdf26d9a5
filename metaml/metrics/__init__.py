"""Metrics a study can optimize: error, calibration, fairness, latency, size and energy.

Use them by name with ``compute_metrics`` (see ``registry``) or call the functions directly.
Every metric here is to be minimised.
"""

from __future__ import annotations

from metaml.metrics.base import MetricError
from metaml.metrics.calibration import expected_calibration_error
from metaml.metrics.classification import balanced_error, log_loss, predicted_classes, validation_error
from metaml.metrics.efficiency import (
    Latency,
    ResourceMeter,
    ResourceUsage,
    measure_latency,
    model_size_bytes,
    parameter_count,
    state_dict_bytes,
    training_energy_wh,
)
from metaml.metrics.fairness import (
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
)
from metaml.metrics.registry import (
    MetricInputs,
    MetricSpec,
    available_metrics,
    compute_metrics,
    get_metric,
    register_metric,
)

__all__ = [
    "Latency",
    "MetricError",
    "MetricInputs",
    "MetricSpec",
    "ResourceMeter",
    "ResourceUsage",
    "available_metrics",
    "balanced_error",
    "compute_metrics",
    "demographic_parity_difference",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "expected_calibration_error",
    "get_metric",
    "log_loss",
    "measure_latency",
    "model_size_bytes",
    "parameter_count",
    "predicted_classes",
    "register_metric",
    "state_dict_bytes",
    "training_energy_wh",
    "validation_error",
]
