"""Censored summary statistics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from benchmarks.stats import INF, median, quantile, ratio, summarize


def test_quantiles_of_complete_data_match_linear_interpolation() -> None:
    xs = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert median(xs) == 3.0
    assert quantile(xs, 0.25) == 2.0
    assert quantile(xs, 0.75) == 4.0
    # positions 0.9 * 4 = 3.6: 4 + 0.6 * (5 - 4)
    assert quantile(xs, 0.9) == pytest.approx(4.6)


def test_unreached_runs_sort_last_and_censor_what_they_touch() -> None:
    # sorted: 1, 2, 3, inf (None is a run that never reached the target)
    s = summarize([3.0, 1.0, None, 2.0])
    assert s.median == 2.5  # position 1.5: halfway between 2 and 3
    assert s.q25 == 1.75  # position 0.75
    assert s.q75 == INF  # position 2.25 lies between 3 and an unreached run
    assert (s.n, s.n_finite) == (4, 3)
    assert s.iqr == INF


def test_median_is_infinite_unless_more_than_half_reached() -> None:
    assert median([5.0, None, None]) == INF
    assert median([5.0, 6.0, None]) == 6.0
    assert median([1.0, 2.0, float("nan"), None]) == INF  # NaN counts as not reached
    assert math.isnan(median([]))


def test_ratio_is_bounded_by_the_budget_where_a_side_is_censored() -> None:
    assert ratio(10.0, 20.0, 30.0).value == 0.5
    r = ratio(10.0, INF, 30.0)
    assert (r.bound, str(r)) == ("<", "<0.33")
    r = ratio(INF, 20.0, 30.0)
    assert (r.bound, r.value) == (">", 1.5)
    assert ratio(10.0, INF, 30.0, reference_budget=100.0).value == 0.1
    assert str(ratio(INF, INF, 30.0)) == "n/a"


def test_mean_sd_says_what_it_lacks() -> None:
    from benchmarks.stats import mean_sd

    assert mean_sd([0.02, 0.04]) == "0.0300 ± 0.0141"
    assert mean_sd([0.5]) == "0.5000 ± nan"
    assert mean_sd([], "none") == "none"
