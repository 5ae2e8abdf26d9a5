"""What a fairness number is made of: each group's size and rates, and the pair of groups that sets the gap.

A between-group difference is one number decided by two groups; which two, and how many
rows each holds, says whether it can carry a decision. ``group_breakdown`` returns that,
computed with fairlearn's ``MetricFrame`` on the same predictions and groups as the metric
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

import fairlearn.metrics as fm
import numpy as np

from metaml.metrics.fairness import RATE_FUNCTIONS, GroupChoice, binary_inputs, compared_groups, ratio_of

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
    y_true = predicted if y is None else y
    rates = RATES[metric] if y is not None else ("selection_rate",)
    functions: dict[str, Any] = {"n": fm.count, **{r: RATE_FUNCTIONS[r] for r in rates}}
    if y is not None:
        functions["positives"] = _positives
        functions["error_rate"] = _error_rate
    frame = fm.MetricFrame(metrics=functions, y_true=y_true, y_pred=predicted, sensitive_features=groups)
    table = frame.by_group
    rows = [
        {"group": str(g), **{k: int(v) if k in _COUNTS else _plain(v) for k, v in table.loc[g].items()}}
        for g in sorted(table.index, key=str)
    ]
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


_COUNTS = ("n", "positives")


def _positives(y_true: Any, y_pred: Any) -> int:
    return int(np.sum(np.asarray(y_true)))


def _error_rate(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))


def _plain(value: Any) -> Any:
    """A JSON-ready number: ints stay ints, NaN becomes None."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    number = float(value)
    return None if np.isnan(number) else number
