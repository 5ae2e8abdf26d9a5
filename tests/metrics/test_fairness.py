"""Fairness gaps: equal to fairlearn's own results and to a case computed by hand; bad groups refused."""

from __future__ import annotations

import fairlearn.metrics as fm
import numpy as np
import pytest

from metaml.metrics import (
    MetricError,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
)


def _probabilities(predicted: list[int]) -> np.ndarray:
    """Probabilities whose most probable class is ``predicted``."""
    return np.array([[0.2, 0.8] if c == 1 else [0.7, 0.3] for c in predicted])


# group a: labels 1 1 0 0, predicted 1 0 1 1 -> selection 3/4, TPR 1/2, FPR 2/2
# group b: labels 1 1 0 0 0, predicted 1 1 0 0 1 -> selection 3/5, TPR 2/2, FPR 1/3
Y = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0])
PRED = [1, 0, 1, 1, 1, 1, 0, 0, 1]
GROUP = np.array(["a"] * 4 + ["b"] * 5)
P = _probabilities(PRED)


def test_hand_computed_case() -> None:
    assert demographic_parity_difference(P, GROUP) == pytest.approx(3 / 4 - 3 / 5)
    assert equal_opportunity_difference(P, Y, GROUP) == pytest.approx(1 - 1 / 2)
    assert equalized_odds_difference(P, Y, GROUP) == pytest.approx(max(1 - 1 / 2, 1 - 1 / 3))


def test_equal_to_fairlearn_on_a_random_case() -> None:
    rng = np.random.default_rng(7)
    n = 300
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    groups = rng.choice(["x", "y", "z"], n)
    predicted = (p1 > 0.5).astype(int)
    kw = {"sensitive_features": groups}
    assert demographic_parity_difference(p1, groups, y) == pytest.approx(
        fm.demographic_parity_difference(y, predicted, **kw)
    )
    tpr = fm.MetricFrame(metrics=fm.true_positive_rate, y_true=y, y_pred=predicted, **kw)
    assert equal_opportunity_difference(p1, y, groups) == pytest.approx(tpr.difference())
    if hasattr(fm, "equal_opportunity_difference"):  # fairlearn >= 0.11
        expected = fm.equal_opportunity_difference(y, predicted, **kw)
        assert equal_opportunity_difference(p1, y, groups) == pytest.approx(expected)
    assert equalized_odds_difference(p1, y, groups) == pytest.approx(fm.equalized_odds_difference(y, predicted, **kw))


def test_a_fair_classifier_scores_zero() -> None:
    y = np.array([1, 0, 1, 0])
    groups = np.array(["a", "a", "b", "b"])
    p = _probabilities([1, 0, 1, 0])
    for gap in (equal_opportunity_difference, equalized_odds_difference):
        assert gap(p, y, groups) == 0.0
    assert demographic_parity_difference(p, groups) == 0.0


def test_multiclass_needs_a_positive_class() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]])
    y = np.array([0, 1, 2, 1])
    groups = np.array(["a", "a", "b", "b"])
    with pytest.raises(MetricError, match="pos_label"):
        equalized_odds_difference(p, y, groups)
    # class 1 against the rest: group a predicts it 1 of 2 times, group b 1 of 2 times
    assert demographic_parity_difference(p, groups, pos_label=1) == 0.0
    assert equal_opportunity_difference(p, y, groups, pos_label=1) == 0.0
    with pytest.raises(MetricError, match="pos_label"):
        demographic_parity_difference(p, groups, pos_label=3)


@pytest.mark.parametrize(
    "metric", [demographic_parity_difference, equal_opportunity_difference, equalized_odds_difference]
)
def test_one_group_is_refused(metric: object) -> None:
    one = np.array(["a"] * len(Y))
    args = (P, one) if metric is demographic_parity_difference else (P, Y, one)
    with pytest.raises(MetricError, match="one group only") as info:
        metric(*args)  # type: ignore[operator]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "metric", [demographic_parity_difference, equal_opportunity_difference, equalized_odds_difference]
)
def test_length_mismatch_is_refused(metric: object) -> None:
    short = GROUP[:-1]
    args = (P, short) if metric is demographic_parity_difference else (P, Y, short)
    with pytest.raises(MetricError, match="8 values but there are 9 predictions"):
        metric(*args)  # type: ignore[operator]


def test_missing_groups_and_labels_are_refused() -> None:
    with pytest.raises(MetricError, match="missing"):
        demographic_parity_difference(P, np.array(["a", None, "b", "b", "b", "a", "a", "b", "a"], dtype=object))
    with pytest.raises(MetricError, match="labels"):
        equal_opportunity_difference(P, None, GROUP)
    with pytest.raises(MetricError, match="sensitive"):
        demographic_parity_difference(P, None)


def test_undefined_rates_are_refused_not_reported_as_zero() -> None:
    # group b has no positive label: its true positive rate does not exist
    y = np.array([1, 0, 0, 0])
    groups = np.array(["a", "a", "b", "b"])
    p = _probabilities([1, 0, 1, 0])
    with pytest.raises(MetricError, match="group.*b.*no positive"):
        equal_opportunity_difference(p, y, groups)
    # group a has no negative label: its false positive rate does not exist
    y = np.array([1, 1, 1, 0])
    with pytest.raises(MetricError, match="group.*a.*no negative"):
        equalized_odds_difference(p, y, groups)
    assert equal_opportunity_difference(p, y, groups) == pytest.approx(0.5)
