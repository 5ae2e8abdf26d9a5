"""Expected calibration error (ECE): how far a classifier's confidence is from its accuracy.

Definition used here (top-label ECE with equal-width bins, Guo et al. 2017, "On
Calibration of Modern Neural Networks"):

- the confidence of an example is its highest predicted probability, ``max_k p[i, k]``,
  and it is correct when that class (``argmax``) is its label;
- ``[0, 1]`` is cut into ``n_bins`` equal-width bins ``(b/B, (b+1)/B]`` (the first bin
  also holds a confidence of exactly 0);
- ``ECE = sum_b (|bin b| / n) * |accuracy(bin b) - mean confidence(bin b)|``, empty bins
  adding nothing.

It lies in ``[0, 1]``, 0 for a perfectly calibrated classifier: among the examples it gives
80 % confidence, 80 % are right. The value depends on ``n_bins`` (15 by default, as in Guo
et al.), so compare ECEs only at the same number of bins. With ``k`` classes no confidence
is below ``1/k``, so the lower bins stay empty; that is expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metaml.metrics.base import MetricError, checked_inputs

DEFAULT_BINS = 15


def expected_calibration_error(probabilities: Any, labels: Any, n_bins: int = DEFAULT_BINS) -> float:
    """The top-label expected calibration error over ``n_bins`` equal-width confidence bins."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise MetricError(f"expected_calibration_error: n_bins must be a positive integer, got {n_bins!r}")
    p, y = checked_inputs(probabilities, labels)
    confidence = p.max(axis=1)
    correct = (np.argmax(p, axis=1) == y).astype(np.float64)
    # side="left" puts a confidence in (edge_b, edge_b+1] into bin b, and 0 into bin 0.
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    bins = np.searchsorted(inner_edges, confidence, side="left")
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)
    # |sum over bin of (correct - conf)| / n  ==  (|bin| / n) * |acc(bin) - conf(bin)|
    return float(np.sum(np.abs(gap)) / count.sum())
