"""The curve's own trend (``metaml.optimizers.curve_trend``): the estimate one_epoch's ``rank_by: trend`` uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metaml.optimizers.curve_trend import shrink, trend_estimate, trend_estimates


def test_the_trend_continues_a_falling_curve_and_leaves_a_flat_or_rising_one_at_its_value() -> None:
    # a power law e(t) = 0.8 t^-0.5 over epochs 1..4, a flat curve, and one that rises
    t = np.arange(1, 5, dtype=float)
    curves = np.stack([0.8 * t ** -0.5, np.full(4, 0.3), 0.2 * t ** 0.3])
    est = trend_estimates(curves, full=52)
    factor = 1 - 0.2 * math.log(52 / 4)
    assert est[0] == pytest.approx(0.8 * 4 ** -0.5 * (52 / 4) ** (-0.5 * factor))
    assert est[1] == pytest.approx(0.3)
    assert est[2] == pytest.approx(0.2 * 4 ** 0.3)
    # the falling curve, worse than the flat one at epoch 4 (0.4 > 0.3), is estimated better at the end
    assert curves[0, -1] > curves[1, -1] and est[0] < est[1]


def test_a_single_point_or_a_curve_at_the_full_fidelity_has_no_trend() -> None:
    assert trend_estimates(np.array([[0.4], [0.2]]), full=52).tolist() == [0.4, 0.2]
    assert trend_estimate([50, 51, 52], [0.3, 0.2, 0.1], full=52) == 0.1
    assert math.isnan(trend_estimate([], [], full=52))


def test_only_the_last_points_set_the_line_and_steps_may_be_irregular() -> None:
    # the first points fall steeply, the last three (steps 4, 6, 9) not at all: the trend is the last value
    assert trend_estimate([1, 2, 4, 6, 9], [0.9, 0.6, 0.3, 0.3, 0.3], full=52) == pytest.approx(0.3)
    # on irregular steps a power law is still continued exactly (up to the shrink)
    steps = [2, 3, 5]
    losses = [0.5 * s ** -0.4 for s in steps]
    expected = losses[-1] * (52 / 5) ** (-0.4 * shrink(5, 52))
    assert trend_estimate(steps, losses, full=52) == pytest.approx(expected)


def test_a_loss_that_is_not_positive_is_continued_on_its_own_scale() -> None:
    # a negated accuracy (maximized): -0.5, -0.6, -0.7 at steps 1, 2, 4 falls along log(step)
    steps, losses = [1.0, 2.0, 4.0], [-0.5, -0.6, -0.7]
    est = trend_estimate(steps, losses, full=16)
    x = np.log(steps)
    slope = float(np.polyfit(x, losses, 1)[0])
    assert est == pytest.approx(-0.7 + shrink(4, 16) * slope * math.log(16 / 4))
    assert est < -0.7


def test_the_shrink_is_zero_far_from_the_end_and_one_at_it() -> None:
    assert shrink(4, 52) == pytest.approx(1 - 0.2 * math.log(13))
    assert shrink(1, 52 ** 3) == 0.0
    assert shrink(52, 52) == 0.0  # nothing is left to continue
