"""The metric error and the input checks that every prediction-based metric shares.

Metrics take what a trial has at hand after validation: predicted class probabilities and
the true labels (numpy arrays), and return one float. The checks live here so that every
metric refuses the same mistakes with the same words: logits passed for probabilities,
labels outside the classes, arrays of different lengths.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metaml.errors import MetamlError

# Rows of a probability matrix must sum to one within this tolerance; float32 softmax
# outputs of wide layers drift by about 1e-6, logits miss by far more.
_ROW_SUM_TOLERANCE = 1e-3


class MetricError(MetamlError, ValueError):
    """A metric got inputs it cannot be computed from; the message says which and why."""


def as_probabilities(probabilities: Any, name: str = "probabilities") -> np.ndarray:
    """A float64 matrix ``[n, k]`` of class probabilities, each row summing to one.

    A 1-D array is read as the probability of class 1 in a binary problem, as
    scikit-learn's ``predict_proba(X)[:, 1]`` and a sigmoid output give it, and becomes
    ``[1 - p, p]``.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise MetricError(
            f"{name} must be a non-empty array [n] (binary: probability of class 1) or [n, k] with k >= 2, "
            f"got shape {np.shape(probabilities)}"
        )
    if not np.all(np.isfinite(p)):
        raise MetricError(f"{name} contain {int(np.sum(~np.isfinite(p)))} NaN or infinite values")
    if p.min() < 0.0 or p.max() > 1.0:
        raise MetricError(
            f"{name} must lie in [0, 1], found values from {p.min():.4g} to {p.max():.4g}; "
            "if these are logits, apply softmax (or sigmoid) first"
        )
    sums = p.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _ROW_SUM_TOLERANCE:
        raise MetricError(
            f"each row of {name} must sum to 1, row {worst} sums to {sums[worst]:.6g}; "
            "if these are logits or scores, apply softmax first"
        )
    return p


def as_labels(labels: Any, n_classes: int | None = None, n: int | None = None) -> np.ndarray:
    """Integer labels ``[n]`` in ``0..n_classes-1``, checked against the probabilities' shape."""
    raw = np.asarray(labels)
    if raw.ndim != 1:
        raise MetricError(f"labels must be a 1-D array of class indices, got shape {raw.shape}")
    if raw.size and not np.issubdtype(raw.dtype, np.integer):
        if not (np.issubdtype(raw.dtype, np.number) or raw.dtype == bool) or not np.all(np.mod(raw, 1) == 0):
            raise MetricError(f"labels must be integer class indices, got dtype {raw.dtype}")
    y = raw.astype(np.int64)
    if n is not None and y.shape[0] != n:
        raise MetricError(f"labels and probabilities differ in length: {y.shape[0]} labels, {n} rows of probabilities")
    if y.size and y.min() < 0:
        raise MetricError(f"labels must be class indices >= 0, found {int(y.min())}")
    if n_classes is not None and y.size and y.max() >= n_classes:
        raise MetricError(
            f"label {int(y.max())} is outside the {n_classes} classes that the probabilities have columns for"
        )
    return y


def checked_inputs(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``[n, k]`` and labels ``[n]`` that agree with each other."""
    p = as_probabilities(probabilities)
    y = as_labels(labels, n_classes=p.shape[1], n=p.shape[0])
    return p, y
