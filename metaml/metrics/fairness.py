"""Group-fairness gaps of a classifier, computed with fairlearn: all 0 when fair, to be minimised.

Each metric compares one rate across the groups of a sensitive attribute and returns the
largest gap between two groups (fairlearn's ``method="between_groups"``):

- demographic parity difference: the rate of predicting the positive class;
- equal opportunity difference: the true positive rate (recall of the positive class);
- equalized odds difference: the larger of the true-positive-rate gap and the
  false-positive-rate gap (fairlearn's default, ``agg="worst_case"``).

The prediction is the most probable class. The rates are about one positive class: in a
binary problem class 1 by default (make class 1 the favourable outcome, e.g. "income
>50K", "good credit"); with more classes, name it with ``pos_label`` (one class against
the rest).

What we refuse, rather than return a number that means nothing: a sensitive attribute with
one group only (there is nothing to compare), missing group values, lengths that differ,
and, for the rates conditioned on the label, a group with no positive (or no negative)
example, whose rate is undefined; fairlearn itself would report such a rate as 0.
"""

from __future__ import annotations

from typing import Any

import fairlearn.metrics as fm
import numpy as np
import pandas as pd

from metaml.metrics.base import MetricError, as_labels, as_probabilities


def demographic_parity_difference(
    probabilities: Any, sensitive: Any, labels: Any = None, pos_label: int | None = None
) -> float:
    """The largest gap between groups in the rate of predicting ``pos_label``.

    ``labels`` are not needed (the rate ignores them) and only checked when given.
    """
    predicted, y, groups = _binary_inputs("demographic_parity_difference", probabilities, labels, sensitive, pos_label)
    y_true = predicted if y is None else y  # fairlearn wants a y_true it does not use here
    return float(fm.demographic_parity_difference(y_true, predicted, sensitive_features=groups))


def equal_opportunity_difference(
    probabilities: Any, labels: Any, sensitive: Any, pos_label: int | None = None
) -> float:
    """The largest gap between groups in the true positive rate of ``pos_label``."""
    predicted, y, groups = _binary_inputs("equal_opportunity_difference", probabilities, labels, sensitive, pos_label)
    y = _required_labels("equal_opportunity_difference", y)
    _require_each_group_has("equal_opportunity_difference", y, groups, need_negatives=False)
    # MetricFrame rather than fm.equal_opportunity_difference, which only recent fairlearn has
    frame = fm.MetricFrame(metrics=fm.true_positive_rate, y_true=y, y_pred=predicted, sensitive_features=groups)
    return float(frame.difference(method="between_groups"))


def equalized_odds_difference(probabilities: Any, labels: Any, sensitive: Any, pos_label: int | None = None) -> float:
    """The larger of the between-group gaps in true positive rate and in false positive rate."""
    predicted, y, groups = _binary_inputs("equalized_odds_difference", probabilities, labels, sensitive, pos_label)
    y = _required_labels("equalized_odds_difference", y)
    _require_each_group_has("equalized_odds_difference", y, groups, need_negatives=True)
    # fairlearn's default aggregation is the worst case; older fairlearn has no agg= argument
    return float(fm.equalized_odds_difference(y, predicted, sensitive_features=groups))


def check_sensitive(sensitive: Any, n: int, metric: str = "fairness metric") -> np.ndarray:
    """The sensitive attribute as a 1-D array of ``n`` group values with two groups or more."""
    if sensitive is None:
        raise MetricError(f"{metric} needs a sensitive attribute (one group value per example), got None")
    groups = np.asarray(sensitive)
    if groups.ndim != 1:
        raise MetricError(
            f"{metric}: the sensitive attribute must be 1-D (one group per example), got shape {groups.shape}"
        )
    if groups.shape[0] != n:
        raise MetricError(
            f"{metric}: the sensitive attribute has {groups.shape[0]} values but there are {n} predictions; "
            "pass the group of each validation example, in the same order"
        )
    missing = pd.isna(groups)
    if np.any(missing):
        raise MetricError(
            f"{metric}: the sensitive attribute has {int(missing.sum())} missing values; "
            "drop those examples or give them a group of their own"
        )
    distinct = pd.unique(groups)
    if len(distinct) < 2:
        only = distinct[0] if len(distinct) else "none"
        raise MetricError(
            f"{metric}: the sensitive attribute has one group only ({only!r}), so there is nothing to compare; "
            "check that the right column is used and that the validation split holds every group"
        )
    return groups


def _binary_inputs(
    metric: str, probabilities: Any, labels: Any, sensitive: Any, pos_label: int | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """0/1 predictions and labels (1 = ``pos_label``) and the checked groups."""
    p = as_probabilities(probabilities)
    n, k = p.shape
    if pos_label is None:
        if k > 2:
            raise MetricError(
                f"{metric} compares the rate of one positive class, and there are {k} classes; "
                "pass pos_label=<class index> to compare that class against the rest"
            )
        pos_label = 1
    if isinstance(pos_label, bool) or not isinstance(pos_label, (int, np.integer)) or not 0 <= pos_label < k:
        raise MetricError(f"{metric}: pos_label must be a class index in 0..{k - 1}, got {pos_label!r}")
    groups = check_sensitive(sensitive, n, metric)
    predicted = (np.argmax(p, axis=1) == pos_label).astype(np.int64)
    y = None if labels is None else (as_labels(labels, n_classes=k, n=n) == pos_label).astype(np.int64)
    return predicted, y, groups


def _required_labels(metric: str, y: np.ndarray | None) -> np.ndarray:
    if y is None:
        raise MetricError(f"{metric} needs the true labels, got None")
    return y


def _require_each_group_has(metric: str, y: np.ndarray, groups: np.ndarray, need_negatives: bool) -> None:
    """Refuse groups whose true (or false) positive rate is undefined for lack of examples."""
    frame = pd.DataFrame({"group": groups, "y": y})
    positives = frame.groupby("group", sort=True)["y"].agg(["sum", "count"])
    lacking = [str(g) for g, row in positives.iterrows() if row["sum"] == 0]
    kind = "positive"
    if not lacking and need_negatives:
        lacking = [str(g) for g, row in positives.iterrows() if row["sum"] == row["count"]]
        kind = "negative"
    if lacking:
        raise MetricError(
            f"{metric}: group(s) {', '.join(lacking)} have no {kind} example in the labels, so their "
            f"{'true' if kind == 'positive' else 'false'} positive rate is undefined; "
            "use a larger or stratified validation split, or merge small groups"
        )
