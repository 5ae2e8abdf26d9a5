"""Error metrics of a classifier from its predicted probabilities: all to be minimised.

The predicted class is the column of highest probability (ties go to the lower class
index, as ``numpy.argmax`` breaks them); in a binary problem that is "class 1 when its
probability is above 0.5".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metaml.metrics.base import MetricError, as_probabilities, checked_inputs

# Probabilities are clipped away from 0 before the log so that one confident mistake costs
# -log(1e-15) = 34.5 nats instead of infinity, the convention of most libraries.
LOG_LOSS_EPS = 1e-15


def predicted_classes(probabilities: Any) -> np.ndarray:
    """The class index of highest probability for each row."""
    return np.argmax(as_probabilities(probabilities), axis=1)


def validation_error(probabilities: Any, labels: Any) -> float:
    """The fraction of examples whose most probable class is not their label (1 - accuracy)."""
    p, y = checked_inputs(probabilities, labels)
    return float(np.mean(np.argmax(p, axis=1) != y))


def log_loss(probabilities: Any, labels: Any, eps: float = LOG_LOSS_EPS) -> float:
    """The mean negative log-probability of the true class, in nats (cross-entropy)."""
    if not 0.0 < eps < 1.0:
        raise MetricError(f"log_loss: eps must lie in (0, 1), got {eps}")
    p, y = checked_inputs(probabilities, labels)
    p_true = np.clip(p[np.arange(y.shape[0]), y], eps, 1.0)
    return float(-np.mean(np.log(p_true)))


def balanced_error(probabilities: Any, labels: Any) -> float:
    """One minus the mean per-class recall, over the classes present in ``labels``.

    Unlike the plain error it weighs each class equally, so predicting the majority class
    of an imbalanced set scores ``1 - 1/k`` rather than looking good. Classes with no
    example in ``labels`` are left out (their recall is undefined), as scikit-learn's
    ``balanced_accuracy_score`` does.
    """
    p, y = checked_inputs(probabilities, labels)
    predicted = np.argmax(p, axis=1)
    recalls = [np.mean(predicted[y == c] == c) for c in np.unique(y)]
    return float(1.0 - np.mean(recalls))
