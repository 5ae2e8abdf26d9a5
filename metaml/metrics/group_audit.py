"""What a fairness number is made of: each group's size and rates, and the pair of groups that sets the gap.

A between-group difference is one number decided by two groups; which two, and how many
rows each holds, says whether it can carry a decision. ``group_breakdown`` returns that,
counted on the same predictions and groups as the metric (and checked against fairlearn's ``MetricFrame``)
(``metaml.metrics.fairness``), as a JSON-ready dict:

```python
{"metric": "demographic_parity_difference", "value": 0.31, "rates": ["selection_rate"],
 "groups": [{"group": "A", "n": 412, "positives": 130, "selection_rate": 0.42, "error_rate": 0.2}, ...],
 "pair": {"rate": "selection_rate", "low": "B", "high": "A", "difference": 0.31},
 "small_groups": ["C"], "min_group_size": 30, "positive_rate": 0.38, "n": 900}
```

``small_groups`` are those with fewer than ``min_group_size`` rows (default
``MIN_GROUP_SIZE``): a rate over a handful of rows moves by a large step when one of them
changes, so a gap that such a group sets says little. ``positive_rate`` is the share of
rows predicted positive overall, which tells a near-constant predictor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metaml.metrics.fairness import GroupChoice, binary_inputs, compared_groups, ratio_of

#: Fewer rows than this in a group of a split and its rates are flagged as too few to decide on.
MIN_GROUP_SIZE = 30

#: The per-group rates each fairness metric compares.
RATES: dict[str, tuple[str, ...]] = {
    "demographic_parity_difference": ("selection_rate",),
    "demographic_parity_ratio": ("selection_rate",),
    "equal_opportunity_difference": ("true_positive_rate",),
    "equalized_odds_difference": ("true_positive_rate", "false_positive_rate"),
    "equalized_odds_ratio": ("true_positive_rate", "false_positive_rate"),
}


def group_breakdown(
    metric: str,
    probabilities: Any,
    labels: Any,
    sensitive: Any,
    *,
    pos_label: int | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    choice: GroupChoice | None = None,
) -> dict[str, Any]:
    """Per-group sizes and rates behind ``metric``, the pair of groups that sets it, and the small groups.

    ``choice`` (which groups are compared) is applied as the metric applies it, so the
    breakdown shows the groups the number was computed on.
    """
    if metric not in RATES:
        raise KeyError(f"no group breakdown for {metric!r}; known: {', '.join(sorted(RATES))}")
    predicted, y, groups = binary_inputs(metric, probabilities, labels, sensitive, pos_label)
    predicted, y, groups = compared_groups(metric, predicted, y, groups, choice or GroupChoice())
    rates = RATES[metric] if y is not None else ("selection_rate",)
    rows = group_table(predicted, y, groups, rates)
    ratio = metric.endswith("_ratio")
    pair = _deciding_pair(rows, rates, choice or GroupChoice(), ratio)
    return {
        "metric": metric,
        "value": (pair["ratio"] if ratio else pair["difference"]) if pair else (1.0 if ratio else 0.0),
        "rates": list(rates),
        "groups": rows,
        "pair": pair,
        "small_groups": [r["group"] for r in rows if int(r["n"]) < min_group_size],
        "min_group_size": int(min_group_size),
        "positive_rate": float(np.mean(predicted)),
        "n": int(len(predicted)),
        "compared": (choice or GroupChoice()).describe(),
    }


def _deciding_pair(
    rows: list[dict[str, Any]], rates: tuple[str, ...], choice: GroupChoice, ratio: bool
) -> dict[str, Any] | None:
    """The rate and the two groups with the worst gap (against the reference group when one is named).

    The worst is the largest difference, or for a ratio metric the smallest ratio.
    """
    best: dict[str, Any] | None = None
    for rate in rates:
        values = {r["group"]: float(r[rate]) for r in rows if r.get(rate) is not None}
        if len(values) < 2:
            continue
        if choice.reference is not None and choice.reference in values:
            ref = values[choice.reference]
            others = [g for g in values if g != choice.reference]
            other = (min(others, key=lambda g: ratio_of(ref, values[g])) if ratio
                     else max(others, key=lambda g: abs(values[g] - ref)))  # fmt: skip
            low, high = sorted((choice.reference, other), key=lambda g: values[g])
        else:
            low, high = min(values, key=values.__getitem__), max(values, key=values.__getitem__)
        found = {"rate": rate, "low": low, "high": high, "difference": values[high] - values[low],
                 "ratio": ratio_of(values[low], values[high]), "low_rate": values[low], "high_rate": values[high]}  # fmt: skip
        worse = best is None or (found["ratio"] < best["ratio"] if ratio else found["difference"] > best["difference"])
        if worse:
            best = found
    return best


def group_table(
    predicted: np.ndarray, y: np.ndarray | None, groups: np.ndarray, rates: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One row per group (sorted by name): ``n``, the ``rates``, and with labels ``positives`` and ``error_rate``.

    Counted with numpy in one pass rather than a ``MetricFrame`` per metric, which costs a
    quarter of a second per call: the values are the same (the tests check them against
    fairlearn's); a rate whose denominator is empty in a group is None.
    """
    names, codes = np.unique(groups.astype(str), return_inverse=True)
    k = len(names)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes[mask], minlength=k).astype(np.int64)

    everyone = np.ones(len(codes), dtype=bool)
    n = count(everyone)
    pos_pred = predicted == 1
    columns: dict[str, tuple[np.ndarray, np.ndarray]] = {"selection_rate": (count(pos_pred), n)}
    if y is not None:
        truly = y == 1
        columns["true_positive_rate"] = (count(pos_pred & truly), count(truly))
        columns["false_positive_rate"] = (count(pos_pred & ~truly), count(~truly))
    rows = []
    for i, name in enumerate(names):
        row: dict[str, Any] = {"group": str(name), "n": int(n[i])}
        for rate in rates:
            num, den = columns[rate]
            row[rate] = float(num[i] / den[i]) if den[i] else None
        if y is not None:
            row["positives"] = int(count(y == 1)[i])
            row["error_rate"] = float(count(predicted != y)[i] / n[i])
        rows.append(row)
    return rows
