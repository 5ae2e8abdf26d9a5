"""The group breakdown behind a fairness number, and the choices of which groups to compare."""

from __future__ import annotations

import json

import fairlearn.metrics as fm
import numpy as np
import pytest

from metaml.metrics import (
    GroupChoice,
    MetricError,
    compute_details,
    compute_metrics,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    group_breakdown,
)


def _probabilities(predicted: list[int] | np.ndarray) -> np.ndarray:
    return np.array([[0.2, 0.8] if c == 1 else [0.7, 0.3] for c in predicted])


# a: labels 1 1 0 0, predicted 1 0 1 1 -> n 4, selection 3/4, TPR 1/2, FPR 2/2, error 2/4
# b: labels 1 1 0 0 0, predicted 1 1 0 0 1 -> n 5, selection 3/5, TPR 2/2, FPR 1/3, error 1/5
# c: labels 1 0, predicted 0 0 -> n 2, selection 0, TPR 0, FPR 0, error 1/2
Y = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0])
PRED = [1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0]
GROUP = np.array(["a"] * 4 + ["b"] * 5 + ["c"] * 2)
P = _probabilities(PRED)


def test_breakdown_by_hand() -> None:
    out = group_breakdown("demographic_parity_difference", P, Y, GROUP, min_group_size=3)
    rows = {r["group"]: r for r in out["groups"]}
    assert {g: r["n"] for g, r in rows.items()} == {"a": 4, "b": 5, "c": 2}
    assert all(isinstance(r["n"], int) and isinstance(r["positives"], int) for r in rows.values())
    assert {g: r["positives"] for g, r in rows.items()} == {"a": 2, "b": 2, "c": 1}
    assert rows["a"]["selection_rate"] == pytest.approx(3 / 4) and rows["c"]["selection_rate"] == 0.0
    assert rows["b"]["error_rate"] == pytest.approx(1 / 5)
    assert out["pair"] == {"rate": "selection_rate", "low": "c", "high": "a", "difference": pytest.approx(0.75),
                           "ratio": 0.0, "low_rate": 0.0, "high_rate": pytest.approx(0.75)}  # fmt: skip
    assert out["value"] == pytest.approx(demographic_parity_difference(P, GROUP))
    assert out["small_groups"] == ["c"] and out["positive_rate"] == pytest.approx(6 / 11) and out["n"] == 11
    json.dumps(out)  # JSON-ready: it goes to the store as is


def test_breakdown_equals_fairlearn_on_a_random_case() -> None:
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    groups = rng.choice(["x", "y", "z"], n, p=[0.6, 0.3, 0.1])
    predicted = (p1 > 0.5).astype(int)
    out = group_breakdown("equalized_odds_difference", p1, y, groups)
    frame = fm.MetricFrame(metrics={"tpr": fm.true_positive_rate, "fpr": fm.false_positive_rate, "n": fm.count},
                           y_true=y, y_pred=predicted, sensitive_features=groups)  # fmt: skip
    for row in out["groups"]:
        assert row["true_positive_rate"] == pytest.approx(frame.by_group.loc[row["group"], "tpr"])
        assert row["false_positive_rate"] == pytest.approx(frame.by_group.loc[row["group"], "fpr"])
        assert row["n"] == frame.by_group.loc[row["group"], "n"]
    assert out["value"] == pytest.approx(fm.equalized_odds_difference(y, predicted, sensitive_features=groups))
    assert out["pair"]["difference"] == pytest.approx(out["value"])


def test_ratios_equal_fairlearn() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, 300), 0, 1)
    groups = rng.choice(["x", "y"], 300)
    predicted = (p1 > 0.5).astype(int)
    kw = {"sensitive_features": groups}
    assert demographic_parity_ratio(p1, groups) == pytest.approx(fm.demographic_parity_ratio(y, predicted, **kw))
    assert equalized_odds_ratio(p1, y, groups) == pytest.approx(fm.equalized_odds_ratio(y, predicted, **kw))
    out = group_breakdown("equalized_odds_ratio", p1, y, groups)
    assert out["value"] == pytest.approx(equalized_odds_ratio(p1, y, groups))


def test_two_largest_groups_leave_the_small_one_out() -> None:
    # without c the gap is a vs b: 3/4 - 3/5
    assert demographic_parity_difference(P, GROUP, groups="two_largest") == pytest.approx(3 / 4 - 3 / 5)
    out = group_breakdown("demographic_parity_difference", P, Y, GROUP, choice=GroupChoice("two_largest"))
    assert [r["group"] for r in out["groups"]] == ["a", "b"] and out["compared"] == "the two largest groups"


def test_reference_group_and_merging() -> None:
    # against b: |3/4 - 3/5| and |0 - 3/5| -> 3/5
    assert demographic_parity_difference(P, GROUP, reference="b") == pytest.approx(3 / 5)
    out = group_breakdown("demographic_parity_difference", P, Y, GROUP, choice=GroupChoice(reference="b"))
    assert {out["pair"]["low"], out["pair"]["high"]} == {"b", "c"}
    # c (2 rows) pooled with nothing else is "other": same gap, another name
    merged = group_breakdown("demographic_parity_difference", P, Y, GROUP, choice=GroupChoice(merge_below=3))
    assert [r["group"] for r in merged["groups"]] == ["a", "b", "other"] and merged["pair"]["low"] == "other"
    # a (4) and c (2) pooled: selection 3/6 against b's 3/5
    assert demographic_parity_difference(P, GROUP, merge_below=5) == pytest.approx(3 / 5 - 3 / 6)


def test_bad_choices_are_refused_with_the_groups_listed() -> None:
    with pytest.raises(MetricError, match=r"reference group 'd' is not among .*a, b, c"):
        demographic_parity_difference(P, GROUP, reference="d")
    with pytest.raises(MetricError, match="groups must be one of"):
        demographic_parity_difference(P, GROUP, groups="largest")
    with pytest.raises(MetricError, match="unknown fairness setting"):
        demographic_parity_difference(P, GROUP, group="all")
    with pytest.raises(MetricError, match="one group only"):
        demographic_parity_difference(P, GROUP, merge_below=100)  # everything pooled: nothing to compare


def test_registry_computes_details_with_the_same_settings() -> None:
    settings = {"equalized_odds_difference": {"groups": "two_largest", "min_group_size": 5}}
    names = ["val_error", "equalized_odds_difference"]
    values = compute_metrics(names, probabilities=P, labels=Y, sensitive=GROUP, settings=settings)
    details = compute_details(names, probabilities=P, labels=Y, sensitive=GROUP, settings=settings)
    assert list(details) == ["equalized_odds_difference"]
    assert details["equalized_odds_difference"]["value"] == pytest.approx(values["equalized_odds_difference"])
    assert details["equalized_odds_difference"]["small_groups"] == ["a"]
    assert values["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(P, Y, GROUP, groups="two_largest"))
