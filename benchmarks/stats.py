"""Summary statistics over seeds that treat unreached runs as censored (infinite) values.

A run that never reaches the target within its budget has an FTE-to-target of +inf: we only
know it is above the budget. Sorting puts such runs last, so order statistics stay exact
while they fall among the reached runs: the median is finite exactly when more than half of
the runs reached the target, and a quartile is +inf when its position touches an unreached
run. Quantiles interpolate linearly between order statistics (numpy's default "linear"
method), except that interpolating towards +inf gives +inf rather than NaN.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

INF = float("inf")


def _clean(values: Iterable[float | None]) -> list[float]:
    """Values as floats, None and NaN read as +inf (not reached / nothing found)."""
    out = []
    for v in values:
        f = INF if v is None else float(v)
        out.append(INF if math.isnan(f) else f)
    return sorted(out)


def quantile(values: Iterable[float | None], q: float) -> float:
    """The ``q``-quantile (0..1) with unreached runs as +inf; NaN for no values."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must lie in [0, 1], got {q}")
    xs = _clean(values)
    if not xs:
        return math.nan
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    frac = pos - lo
    if frac == 0.0 or xs[lo] == xs[hi]:
        return xs[lo]
    if math.isinf(xs[hi]):
        return INF
    return xs[lo] + frac * (xs[hi] - xs[lo])


def median(values: Iterable[float | None]) -> float:
    return quantile(values, 0.5)


@dataclass(frozen=True)
class Summary:
    """Median and interquartile range over runs, and how many runs gave a finite value."""

    median: float
    q25: float
    q75: float
    n: int
    n_finite: int

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25 if math.isfinite(self.q75) else INF


def summarize(values: Iterable[float | None]) -> Summary:
    xs = _clean(values)
    return Summary(
        median=quantile(xs, 0.5),
        q25=quantile(xs, 0.25),
        q75=quantile(xs, 0.75),
        n=len(xs),
        n_finite=sum(math.isfinite(x) for x in xs),
    )


@dataclass(frozen=True)
class Ratio:
    """``value / reference`` of two medians; ``bound`` says the truth is below (``<``) or above (``>``)."""

    value: float
    bound: str = ""  # "", "<" or ">"

    def __str__(self) -> str:
        if math.isnan(self.value):
            return "n/a"
        return f"{self.bound}{self.value:.2f}"


def ratio(value: float, reference: float, budget: float, reference_budget: float | None = None) -> Ratio:
    """Ratio of two median FTE-to-target, bounded by the budget where one is censored.

    An infinite median means "more than the budget", so against a censored reference the
    ratio is at most ``value / reference_budget``, and a censored value against a finite
    reference is at least ``budget / reference``; both censored say nothing.
    """
    if reference_budget is None:
        reference_budget = budget
    v_inf, r_inf = math.isinf(value), math.isinf(reference)
    if math.isnan(value) or math.isnan(reference) or (v_inf and r_inf):
        return Ratio(math.nan)
    if r_inf:
        return Ratio(value / reference_budget, "<")
    if v_inf:
        return Ratio(budget / reference, ">")
    return Ratio(value / reference)


def mean_sd(values: Iterable[float], missing: str = "-") -> str:
    """``mean ± sd`` over seeds at 4 decimals (sd ``nan`` for one value), or ``missing`` for none."""
    xs = [float(x) for x in values]
    if not xs:
        return missing
    sd = statistics.stdev(xs) if len(xs) > 1 else math.nan
    return f"{statistics.fmean(xs):.4f} ± {sd:.4f}"
