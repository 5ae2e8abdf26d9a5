"""Group-fairness gaps of a classifier, computed with fairlearn: the differences are 0 when fair, to be minimised.

Each metric compares one rate across the groups of a sensitive attribute and returns the
largest gap between two groups (fairlearn's ``method="between_groups"``):

- demographic parity difference: the rate of predicting the positive class;
- equal opportunity difference: the true positive rate (recall of the positive class);
- equalized odds difference: the larger of the true-positive-rate gap and the
  false-positive-rate gap (fairlearn's default, ``agg="worst_case"``).

The ``_ratio`` twins (demographic parity ratio, equalized odds ratio) divide the smallest
rate by the largest instead: 1 when fair, to be maximised.

Which groups are compared is a choice (``GroupChoice``, passed as the metric's settings):
all of them (the default), the two largest (``groups: two_largest``), each against a named
``reference`` group, with groups under ``merge_below`` rows pooled as ``"other"`` first.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fairlearn.metrics as fm
import numpy as np
import pandas as pd

from metaml.metrics.base import MetricError, as_labels, as_probabilities

RATE_FUNCTIONS = {
    "selection_rate": fm.selection_rate,
    "true_positive_rate": fm.true_positive_rate,
    "false_positive_rate": fm.false_positive_rate,
}


@dataclass(frozen=True)
class GroupChoice:
    """Which groups a fairness metric compares: every group, the two largest, or each against a reference.

    ``groups``: ``all`` (the default: the gap between any two groups) or ``two_largest``
    (only the two groups with most rows in the split: when small groups would decide the
    gap by a handful of rows). ``reference``: a group every other is compared against
    (e.g. the majority or the historically favoured group) instead of all pairs.
    ``merge_below``: groups with fewer rows than this in the split are pooled as ``other``
    before comparing (applied first).
    """

    groups: str = "all"
    reference: str | None = None
    merge_below: int | None = None

    def __post_init__(self) -> None:
        if self.groups not in GROUP_CHOICES:
            raise MetricError(f"groups must be one of {', '.join(GROUP_CHOICES)}, got {self.groups!r}")
        if self.merge_below is not None and (isinstance(self.merge_below, bool) or not isinstance(self.merge_below, int)
                                             or self.merge_below < 1):  # fmt: skip
            raise MetricError(f"merge_below must be a whole number of rows >= 1, got {self.merge_below!r}")

    def describe(self) -> str:
        """In words, for the breakdown and the report: ``all groups``, ``the two largest groups``, ..."""
        text = "the two largest groups" if self.groups == "two_largest" else "all groups"
        if self.reference is not None:
            text += f", each against {self.reference!r}"
        if self.merge_below is not None:
            text += f" (groups under {self.merge_below} rows pooled as 'other')"
        return text


GROUP_CHOICES = ("all", "two_largest")
OTHER = "other"


def demographic_parity_difference(
    probabilities: Any, sensitive: Any, labels: Any = None, pos_label: int | None = None, **choice: Any
) -> float:
    """The largest gap between groups in the rate of predicting ``pos_label``.

    ``labels`` are not needed (the rate ignores them) and only checked when given;
    ``choice`` are ``GroupChoice``'s fields (``groups``, ``reference``, ``merge_below``).
    """
    rates = _group_rates("demographic_parity_difference", probabilities, labels, sensitive, pos_label, choice,
                         ("selection_rate",), need_labels=False)  # fmt: skip
    return _aggregate(rates, "difference", fairness_choice(choice).reference)


def demographic_parity_ratio(
    probabilities: Any, sensitive: Any, labels: Any = None, pos_label: int | None = None, **choice: Any
) -> float:
    """The smallest ratio between groups' rates of predicting ``pos_label`` (1 when equal; to be maximised).

    The "four-fifths rule" of US employment law reads this ratio against 0.8: use it when a
    relative gap is what matters (rates of 0.02 and 0.04 are far apart by ratio, close by difference).
    """
    rates = _group_rates("demographic_parity_ratio", probabilities, labels, sensitive, pos_label, choice,
                         ("selection_rate",), need_labels=False)  # fmt: skip
    return _aggregate(rates, "ratio", fairness_choice(choice).reference)


def equal_opportunity_difference(
    probabilities: Any, labels: Any, sensitive: Any, pos_label: int | None = None, **choice: Any
) -> float:
    """The largest gap between groups in the true positive rate of ``pos_label``."""
    rates = _group_rates("equal_opportunity_difference", probabilities, labels, sensitive, pos_label, choice,
                         ("true_positive_rate",))  # fmt: skip
    return _aggregate(rates, "difference", fairness_choice(choice).reference)


def equalized_odds_difference(
    probabilities: Any, labels: Any, sensitive: Any, pos_label: int | None = None, **choice: Any
) -> float:
    """The larger of the between-group gaps in true positive rate and in false positive rate."""
    rates = _group_rates("equalized_odds_difference", probabilities, labels, sensitive, pos_label, choice,
                         ("true_positive_rate", "false_positive_rate"))  # fmt: skip
    return _aggregate(rates, "difference", fairness_choice(choice).reference)


def equalized_odds_ratio(
    probabilities: Any, labels: Any, sensitive: Any, pos_label: int | None = None, **choice: Any
) -> float:
    """The smaller of the between-group ratios of true positive rate and of false positive rate (to be maximised)."""
    rates = _group_rates("equalized_odds_ratio", probabilities, labels, sensitive, pos_label, choice,
                         ("true_positive_rate", "false_positive_rate"))  # fmt: skip
    return _aggregate(rates, "ratio", fairness_choice(choice).reference)


def fairness_choice(settings: Mapping[str, Any]) -> GroupChoice:
    """The group choice a fairness metric's settings name (``pos_label`` aside); unknown settings are refused."""
    unknown = sorted(set(settings) - {"groups", "reference", "merge_below", "min_group_size"})
    if unknown:
        raise MetricError(
            f"unknown fairness setting(s) {', '.join(unknown)}; known: pos_label, groups, reference, merge_below, "
            "min_group_size"
        )
    kept = {k: v for k, v in settings.items() if k != "min_group_size"}  # only the breakdown reads it
    return GroupChoice(**kept)


def _group_rates(
    metric: str,
    probabilities: Any,
    labels: Any,
    sensitive: Any,
    pos_label: int | None,
    settings: dict[str, Any],
    rates: tuple[str, ...],
    need_labels: bool = True,
) -> pd.DataFrame:
    """Each compared group's rates (a frame: one row per group, one column per rate), computed by fairlearn."""
    choice = fairness_choice(settings)
    predicted, y, groups = binary_inputs(metric, probabilities, labels, sensitive, pos_label)
    predicted, y, groups = compared_groups(metric, predicted, y, groups, choice)
    if need_labels:
        y = _required_labels(metric, y)
        _require_each_group_has(metric, y, groups, need_negatives="false_positive_rate" in rates)
    y_true = predicted if y is None else y  # fairlearn wants a y_true the selection rate does not use
    functions = {r: RATE_FUNCTIONS[r] for r in rates}
    frame = fm.MetricFrame(metrics=functions, y_true=y_true, y_pred=predicted, sensitive_features=groups)
    by_group: pd.DataFrame = frame.by_group
    return by_group


def _aggregate(rates: pd.DataFrame, how: str, reference: str | None) -> float:
    """The worst gap (difference: largest minus smallest; ratio: smallest over largest) over the rates."""
    values = []
    for column in rates.columns:
        r = rates[column].astype(float)
        if reference is not None:
            ref = float(r.loc[reference])
            others = r.drop(index=reference)
            if how == "difference":
                values.append(float(np.max(np.abs(others - ref))))
            else:
                pairs = [ratio_of(ref, float(v)) for v in others]
                values.append(min(pairs))
        elif how == "difference":
            values.append(float(r.max() - r.min()))
        else:
            values.append(ratio_of(float(r.min()), float(r.max())))
    return max(values) if how == "difference" else min(values)


def ratio_of(a: float, b: float) -> float:
    """The smaller of two rates over the larger (1 when both are 0)."""
    low, high = min(a, b), max(a, b)
    return 1.0 if high == 0.0 else low / high


def compared_sizes(sizes: Mapping[str, int], choice: GroupChoice) -> dict[str, int]:
    """The rows of each group a metric with ``choice`` compares, given every group's rows in a split.

    The same rule as ``compared_groups``, on counts: for warning about small groups before
    any prediction exists.
    """
    counts = {str(g): int(n) for g, n in sizes.items()}
    if choice.merge_below is not None:
        small = [g for g, n in counts.items() if n < choice.merge_below]
        if small:
            counts = {g: n for g, n in counts.items() if g not in small}
            counts[OTHER] = counts.get(OTHER, 0) + sum(int(sizes[g]) for g in small)
    if choice.groups == "two_largest":
        top = [g for g, _ in sorted(counts.items(), key=lambda gn: (-gn[1], gn[0]))[:2]]
        if choice.reference is not None and choice.reference not in top and choice.reference in counts:
            top = [choice.reference, top[0]]
        counts = {g: counts[g] for g in sorted(top)}
    return counts


def compared_groups(
    metric: str, predicted: np.ndarray, y: np.ndarray | None, groups: np.ndarray, choice: GroupChoice
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The rows and group values the metric compares, after pooling small groups and keeping the chosen ones."""
    groups = groups.astype(str)
    names, counts = np.unique(groups, return_counts=True)
    if choice.merge_below is not None:
        small = names[counts < choice.merge_below]
        if len(small):
            groups = np.where(np.isin(groups, small), OTHER, groups)
            names, counts = np.unique(groups, return_counts=True)
    keep = np.ones(len(groups), dtype=bool)
    if choice.groups == "two_largest":
        order = sorted(zip(names, counts, strict=True), key=lambda nc: (-nc[1], nc[0]))
        top = [n for n, _ in order[:2]]
        if choice.reference is not None and choice.reference not in top and choice.reference in names:
            top = [choice.reference, top[0]]
        keep = np.isin(groups, top)
    if choice.reference is not None and choice.reference not in names:
        raise MetricError(
            f"{metric}: the reference group {choice.reference!r} is not among the groups of this split "
            f"({', '.join(map(str, names))})"
        )
    groups = groups[keep]
    check_sensitive(groups, len(groups), metric)
    return predicted[keep], None if y is None else y[keep], groups


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


def binary_inputs(
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
