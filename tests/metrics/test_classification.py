"""Error metrics against cases computed by hand, and the inputs they refuse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm

from metaml.errors import MetamlError
from metaml.metrics import MetricError, balanced_error, log_loss, predicted_classes, validation_error

P = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
Y = np.array([0, 1, 1, 0])  # predicted 0, 1, 0, 1: rows 2 and 3 wrong


def test_validation_error_by_hand() -> None:
    assert validation_error(P, Y) == 0.5
    assert validation_error(P, [0, 1, 0, 1]) == 0.0


def test_log_loss_by_hand_and_as_sklearn() -> None:
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.3)) / 4
    assert log_loss(P, Y) == pytest.approx(expected, abs=1e-12)
    assert log_loss(P, Y) == pytest.approx(skm.log_loss(Y, P), abs=1e-12)


def test_log_loss_clips_a_zero_probability() -> None:
    assert log_loss([[1.0, 0.0]], [1]) == pytest.approx(-math.log(1e-15))


def test_balanced_error_weighs_classes_equally() -> None:
    majority = np.array([[0.9, 0.1]] * 4)
    y = np.array([0, 0, 0, 1])
    assert validation_error(majority, y) == 0.25
    assert balanced_error(majority, y) == 0.5  # recall 1 for class 0, 0 for class 1
    assert balanced_error(P, Y) == pytest.approx(1 - skm.balanced_accuracy_score(Y, P.argmax(1)))


def test_multiclass_and_binary_vector_inputs() -> None:
    p3 = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    assert validation_error(p3, [1, 2, 1]) == pytest.approx(1 / 3)
    assert balanced_error(p3, [1, 2, 1]) == pytest.approx(0.25)  # recalls: class 1 1/2, class 2 1
    p1 = P[:, 1]
    assert validation_error(p1, Y) == validation_error(P, Y)
    assert log_loss(p1, Y) == pytest.approx(log_loss(P, Y))
    assert list(predicted_classes(p1)) == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("probabilities", "labels", "words"),
    [
        ([[2.0, -1.0], [0.5, 0.5]], [0, 1], "softmax"),
        ([[0.5, 0.2], [0.5, 0.5]], [0, 1], "sum to 1"),
        ([[0.5, 0.5], [0.5, 0.5]], [0, 1, 1], "differ in length"),
        ([[0.5, 0.5], [0.5, 0.5]], [0, 2], "outside the 2 classes"),
        ([[np.nan, 0.5], [0.5, 0.5]], [0, 1], "NaN"),
        ([[0.5, 0.5]], [0.5], "integer"),
        (np.zeros((0, 2)), [], "non-empty"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(probabilities: object, labels: object, words: str) -> None:
    for metric in (validation_error, log_loss, balanced_error):
        with pytest.raises(MetricError, match=words) as info:
            metric(probabilities, labels)
        assert isinstance(info.value, MetamlError) and isinstance(info.value, ValueError)
