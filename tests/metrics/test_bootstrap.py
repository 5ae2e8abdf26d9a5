"""Bootstrap intervals: seeded, about 95% coverage of a known rate, and a reason where they would mean nothing."""

from __future__ import annotations

import numpy as np
import pytest

from metaml.metrics import compute_metrics
from metaml.metrics.bootstrap import bootstrap_intervals


def _data(rng: np.random.Generator, n: int, error: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities whose predictions are wrong with probability ``error`` on each row."""
    y = rng.integers(0, 2, n)
    wrong = rng.random(n) < error
    predicted = np.where(wrong, 1 - y, y)
    p1 = np.where(predicted == 1, 0.8, 0.2)
    return y, np.stack([1 - p1, p1], axis=1)


def test_the_interval_covers_a_known_error_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(200):
        y, p = _data(rng, 200, error=0.3)
        found = bootstrap_intervals(["val_error"], p, y, None, rng, resamples=200)["val_error"]
        hits += found["low"] <= 0.3 <= found["high"]
    assert 0.90 <= hits / 200 <= 0.99


def test_seeded_and_around_the_point_value_with_groups_kept_whole() -> None:
    rng = np.random.default_rng(1)
    y, p = _data(rng, 600)
    groups = rng.choice(["a", "b", "c"], 600, p=[0.6, 0.35, 0.05])
    names = ["val_error", "log_loss", "demographic_parity_difference", "equalized_odds_difference",
             "demographic_parity_ratio"]  # fmt: skip
    first = bootstrap_intervals(names, p, y, groups, np.random.default_rng(5))
    assert first == bootstrap_intervals(names, p, y, groups, np.random.default_rng(5))
    values = compute_metrics(names, probabilities=p, labels=y, sensitive=groups)
    for name in names:
        assert first[name]["low"] <= values[name] <= first[name]["high"], name
        assert first[name]["n"] == 600 and first[name]["resamples"] == 200
    # the small group widens the parity gap's interval beyond the error's
    width = {n: first[n]["high"] - first[n]["low"] for n in names}
    assert width["demographic_parity_difference"] > width["val_error"]


def test_group_choices_are_resampled_as_the_metric_computes_them() -> None:
    rng = np.random.default_rng(2)
    y, p = _data(rng, 500)
    groups = rng.choice(["a", "b", "c"], 500, p=[0.5, 0.45, 0.05])
    settings = {"demographic_parity_difference": {"groups": "two_largest", "min_group_size": 10},
                "equal_opportunity_difference": {"reference": "a", "merge_below": 40}}  # fmt: skip
    names = list(settings)
    found = bootstrap_intervals(names, p, y, groups, rng, settings=settings)
    values = compute_metrics(names, probabilities=p, labels=y, sensitive=groups, settings=settings)
    for name in names:
        assert found[name]["low"] <= values[name] <= found[name]["high"]


def test_too_small_to_resample_says_so() -> None:
    rng = np.random.default_rng(3)
    y, p = _data(rng, 12)
    assert "too few to resample" in bootstrap_intervals(["val_error"], p, y, None, rng)["val_error"]["reason"]
    y, p = _data(rng, 100)
    groups = np.array(["a"] * 99 + ["b"])
    found = bootstrap_intervals(["demographic_parity_difference", "val_error"], p, y, groups, rng)
    assert "b (1 rows)" in found["demographic_parity_difference"]["reason"]
    assert "low" in found["val_error"]
    assert bootstrap_intervals(["ece", "latency_ms"], p, y, groups, rng) == {}  # no interval for these


def test_two_hundred_resamples_of_ten_thousand_rows_are_cheap() -> None:
    rng = np.random.default_rng(4)
    y, p = _data(rng, 10_000)
    groups = rng.choice(["a", "b"], 10_000)
    found = bootstrap_intervals(["val_error", "demographic_parity_difference"], p, y, groups, rng)
    assert found["val_error"]["high"] - found["val_error"]["low"] == pytest.approx(0.018, abs=0.006)
