"""Budgets past any sensible size, or past the range of a float, are BudgetErrors that say the limit."""

from __future__ import annotations

import pytest

from metaml.budget import MAX_LIMIT, Budget, parse_budget
from metaml.errors import BudgetError


@pytest.mark.parametrize(
    "value",
    [
        10**39,
        {"trials": 10**39},
        {"fte": 10**400},
        {"seconds": 1e300},
        {"trials": 10**5000},
        "trials=1e300",
        "fte=1e999",  # inf
        {"trials": 5, 1: 2, "x": 3},  # unknown fields of mixed types
    ],
)
def test_huge_or_odd_budgets_are_budget_errors(value: object) -> None:
    with pytest.raises(BudgetError) as info:
        parse_budget(value)
    assert len(str(info.value)) < 300


def test_the_limit_itself_is_fine() -> None:
    assert Budget(trials=int(MAX_LIMIT)).trials == int(MAX_LIMIT)
    assert parse_budget({"fte": MAX_LIMIT, "seconds": 60}).fte == MAX_LIMIT
    with pytest.raises(BudgetError):
        Budget(fte=MAX_LIMIT * 1.01)
