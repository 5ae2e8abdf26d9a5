"""Metrics a study can optimize: error, calibration, fairness, latency, size and energy.

Use them by name with ``compute_metrics`` (see ``registry``) or call the functions directly.
Every metric here is to be minimised, except the fairness ratios (1 when fair).
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
    GroupChoice,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from metaml.metrics.group_audit import MIN_GROUP_SIZE, group_breakdown
from metaml.metrics.registry import (
    MetricInputs,
    MetricSpec,
    available_metrics,
    compute_details,
    compute_metrics,
    get_metric,
    register_metric,
)

__all__ = [
    "MIN_GROUP_SIZE",
    "GroupChoice",
    "Latency",
    "MetricError",
    "MetricInputs",
    "MetricSpec",
    "ResourceMeter",
    "ResourceUsage",
    "available_metrics",
    "balanced_error",
    "compute_details",
    "compute_metrics",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "expected_calibration_error",
    "get_metric",
    "group_breakdown",
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
