"""How much a split's metric would move on another sample: seeded bootstrap confidence intervals.

The front's members often differ by a few rows of the validation split; whether that is a
difference at all depends on how many rows decided it. ``bootstrap_intervals`` resamples
the rows of one split (within each sensitive group, so every group keeps its size and a
small group is never resampled away) and returns, for each metric it knows how to
resample, the percentile interval of the metric over the resamples:

```python
{"val_error": {"low": 0.121, "high": 0.139, "level": 0.95, "resamples": 200, "n": 6512}}
```

It reuses the split's predictions: nothing is trained or predicted again. Each resample is a
row of counts ``W`` (how often each row is drawn), so every statistic is a matrix product
and 200 resamples of 10,000 rows take milliseconds. A split or a compared group too small
to resample gets ``{"reason": ...}`` instead of an interval that would mean nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from metaml.metrics.base import MetricError, checked_inputs
from metaml.metrics.classification import LOG_LOSS_EPS
from metaml.metrics.fairness import GroupChoice, binary_inputs, compared_groups, fairness_choice

#: Resamples and level of every interval metaml computes (seeded: the same study gives the same intervals).
RESAMPLES = 200
LEVEL = 0.95
#: Below this many rows a split is not resampled; below MIN_GROUP_ROWS a compared group is not.
MIN_ROWS = 20
MIN_GROUP_ROWS = 2

_FAIRNESS = {
    "demographic_parity_difference": (("selection_rate",), "difference"),
    "demographic_parity_ratio": (("selection_rate",), "ratio"),
    "equal_opportunity_difference": (("true_positive_rate",), "difference"),
    "equalized_odds_difference": (("true_positive_rate", "false_positive_rate"), "difference"),
    "equalized_odds_ratio": (("true_positive_rate", "false_positive_rate"), "ratio"),
}
#: The metrics that have intervals: the error rates and the fairness gaps.
SUPPORTED = ("val_error", "log_loss", *_FAIRNESS)


def bootstrap_intervals(
    names: Iterable[str],
    probabilities: Any,
    labels: Any,
    sensitive: Any,
    rng: np.random.Generator,
    *,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> dict[str, dict[str, Any]]:
    """The ``level`` percentile interval of each supported metric in ``names`` over ``resamples`` of the rows."""
    if not 0.0 < level < 1.0 or resamples < 2:
        raise MetricError(f"bootstrap: level must lie in (0, 1) and resamples be >= 2, got {level}, {resamples}")
    wanted = [n for n in dict.fromkeys(names) if n in SUPPORTED]
    if not wanted:
        return {}
    p, y = checked_inputs(probabilities, labels)
    n = len(y)
    if n < MIN_ROWS:
        why = f"the split has {n} rows, too few to resample (at least {MIN_ROWS})"
        return {name: {"reason": why, "n": n} for name in wanted}
    strata = None if sensitive is None else np.asarray(sensitive).astype(str)
    weights = _resample_counts(n, strata, rng, resamples)
    settings = dict(settings or {})
    out: dict[str, dict[str, Any]] = {}
    for name in wanted:
        if name == "val_error":
            draws = weights @ (np.argmax(p, axis=1) != y).astype(np.float64) / n
        elif name == "log_loss":
            p_true = np.clip(p[np.arange(n), y], float(settings.get(name, {}).get("eps", LOG_LOSS_EPS)), 1.0)
            draws = weights @ -np.log(p_true) / n
        else:
            if strata is None:
                continue  # a fairness metric without groups failed already, with its own message
            found = _fairness_draws(name, p, y, strata, weights, dict(settings.get(name, {})))
            if isinstance(found, str):
                out[name] = {"reason": found, "n": n}
                continue
            draws = found
        out[name] = _interval(draws, level, n)
    return out


def _resample_counts(n: int, strata: np.ndarray | None, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """``[resamples, n]`` draw counts: each stratum (group) resampled with replacement to its own size."""
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == g) for g in np.unique(strata)]
    offsets = (np.arange(resamples) * n)[:, None]
    drawn = [offsets + rows[rng.integers(0, len(rows), size=(resamples, len(rows)))] for rows in groups]
    flat = np.concatenate([d.ravel() for d in drawn])
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def _fairness_draws(
    name: str, p: np.ndarray, y: np.ndarray, strata: np.ndarray, weights: np.ndarray, settings: dict[str, Any]
) -> np.ndarray | str:
    """The metric on each resample, or why it cannot be resampled."""
    rates, how = _FAIRNESS[name]
    pos_label = settings.pop("pos_label", None)
    choice: GroupChoice = fairness_choice(settings)
    predicted, y01, groups = binary_inputs(name, p, y, strata, pos_label)
    # the compared rows, as a mask over all rows (the resample counts are over all rows)
    keep_pred, keep_y, keep_groups = compared_groups(name, predicted, y01, groups, choice)
    mask = _compared_mask(groups, keep_groups, choice, predicted, keep_pred)
    names, sizes = np.unique(keep_groups, return_counts=True)
    small = [f"{g} ({c} rows)" for g, c in zip(names, sizes, strict=True) if c < MIN_GROUP_ROWS]
    if small:
        return f"group(s) {', '.join(small)} too small to resample"
    assert keep_y is not None
    nums, dens = [], []
    for rate in rates:
        for g in names:
            member = keep_groups == g
            if rate == "selection_rate":
                num, den = member & (keep_pred == 1), member
            elif rate == "true_positive_rate":
                num, den = member & (keep_y == 1) & (keep_pred == 1), member & (keep_y == 1)
            else:
                num, den = member & (keep_y == 0) & (keep_pred == 1), member & (keep_y == 0)
            nums.append(num)
            dens.append(den)
    # one matrix product for every (rate, group) numerator and denominator
    sums = weights[:, mask] @ np.stack([*nums, *dens], axis=1).astype(np.float64)
    half = len(nums)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = (sums[:, :half] / sums[:, half:]).reshape(len(weights), len(rates), len(names))
    return _aggregate(table, how, None if choice.reference is None else int(np.flatnonzero(names == choice.reference)[0]))


def _compared_mask(
    groups: np.ndarray, kept: np.ndarray, choice: GroupChoice, predicted: np.ndarray, kept_pred: np.ndarray
) -> np.ndarray:
    """Which of all rows ``compared_groups`` kept (it keeps whole groups, in order)."""
    if len(kept) == len(groups):
        return np.ones(len(groups), dtype=bool)
    pooled = groups.astype(str)
    if choice.merge_below is not None:
        names, counts = np.unique(pooled, return_counts=True)
        pooled = np.where(np.isin(pooled, names[counts < choice.merge_below]), "other", pooled)
    mask = np.isin(pooled, np.unique(kept))
    assert int(mask.sum()) == len(kept) and np.array_equal(predicted[mask], kept_pred)
    return mask


def _aggregate(table: np.ndarray, how: str, reference: int | None) -> np.ndarray:
    """Per resample: the worst gap over groups and rates (NaN where a group's rate is undefined in it)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if reference is not None:
            ref = table[:, :, reference : reference + 1]
            if how == "difference":
                per_rate = np.nanmax(np.abs(table - ref), axis=2)
            else:
                low, high = np.minimum(table, ref), np.maximum(table, ref)
                per_rate = np.nanmin(np.where(high == 0, 1.0, low / high), axis=2)
        elif how == "difference":
            per_rate = np.nanmax(table, axis=2) - np.nanmin(table, axis=2)
        else:
            low, high = np.nanmin(table, axis=2), np.nanmax(table, axis=2)
            per_rate = np.where(high == 0, 1.0, low / high)
        defined = np.sum(~np.isnan(table), axis=2) >= 2
        per_rate = np.where(defined, per_rate, np.nan)
        return np.asarray(np.max(per_rate, axis=1) if how == "difference" else np.min(per_rate, axis=1))


def _interval(draws: np.ndarray, level: float, n: int) -> dict[str, Any]:
    finite = draws[np.isfinite(draws)]
    if len(finite) < 0.9 * len(draws):
        return {"reason": f"the metric is undefined in {len(draws) - len(finite)} of {len(draws)} resamples", "n": n}
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return {"low": float(low), "high": float(high), "level": level, "resamples": len(draws), "n": n}
