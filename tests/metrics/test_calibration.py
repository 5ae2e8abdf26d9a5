"""Expected calibration error on calibrated, miscalibrated and hand-computed toy cases."""

from __future__ import annotations

import numpy as np
import pytest

from metaml.metrics import MetricError, expected_calibration_error


def _binary(confidence: float, n: int, n_correct: int) -> tuple[np.ndarray, np.ndarray]:
    """n examples predicted class 0 with ``confidence``; the first n_correct are class 0."""
    p = np.tile([confidence, 1 - confidence], (n, 1))
    y = np.array([0] * n_correct + [1] * (n - n_correct))
    return p, y


def test_perfectly_calibrated_is_zero() -> None:
    p8, y8 = _binary(0.8, 10, 8)  # 80 % confident, 80 % right
    p6, y6 = _binary(0.6, 5, 3)  # 60 % confident, 60 % right
    p, y = np.vstack([p8, p6]), np.concatenate([y8, y6])
    assert expected_calibration_error(p, y) == pytest.approx(0.0, abs=1e-12)


def test_overconfident_is_the_gap() -> None:
    p, y = _binary(0.99, 10, 5)  # 99 % confident, 50 % right
    assert expected_calibration_error(p, y) == pytest.approx(0.49)


def test_two_bins_by_hand() -> None:
    # bin of 0.9: 1 of 2 right, gap 0.4; bin of 0.7: 2 of 2 right, gap 0.3; each bin half the data
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.3, 0.7]])
    y = np.array([0, 1, 1, 1])
    assert expected_calibration_error(p, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.3)
    # one bin: |accuracy - mean confidence| = |0.75 - 0.8|
    assert expected_calibration_error(p, y, n_bins=1) == pytest.approx(0.05)


def test_top_label_multiclass() -> None:
    # confidences 0.6 and 0.5 fall in different bins of 15; only the top class counts
    p = np.array([[0.6, 0.3, 0.1], [0.1, 0.5, 0.4]])
    assert expected_calibration_error(p, [0, 2]) == pytest.approx(0.5 * 0.4 + 0.5 * 0.5)
    assert expected_calibration_error(p, [1, 1]) == pytest.approx(0.5 * 0.6 + 0.5 * 0.5)
    # in one bin the right and the wrong example cancel: accuracy 0.5 = confidence 0.5
    same = np.array([[0.5, 0.3, 0.2], [0.1, 0.5, 0.4]])
    assert expected_calibration_error(same, [0, 2]) == pytest.approx(0.0)


def test_bin_edges_are_right_closed() -> None:
    # 0.6 lies on an edge of 5 bins, (0.4, 0.6]: it shares a bin with 0.5, not with 0.7
    p = np.array([[0.6, 0.4], [0.5, 0.5]])
    assert expected_calibration_error(p, [0, 0], n_bins=5) == pytest.approx(abs(1.0 - 0.55))


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True])
def test_bad_bin_counts_are_refused(n_bins: object) -> None:
    with pytest.raises(MetricError, match="n_bins"):
        expected_calibration_error([[0.5, 0.5]], [0], n_bins=n_bins)  # type: ignore[arg-type]
