"""Budgets: every accepted form, and a clear BudgetError for every bad one."""

from __future__ import annotations

import pytest

from metaml.budget import Budget, parse_budget
from metaml.errors import BudgetError, MetamlError


@pytest.mark.parametrize(
    "value,expected",
    [
        ("trials=5,fte=2", Budget(trials=5, fte=2.0)),
        (" trials = 5 , fte = 2.5 ", Budget(trials=5, fte=2.5)),
        ("fte=3", Budget(fte=3.0)),
        ("seconds=600", Budget(seconds=600.0)),
        ("seconds=1e3", Budget(seconds=1000.0)),
        ("trials=40,fte=5,seconds=600,", Budget(trials=40, fte=5.0, seconds=600.0)),
        ("40", Budget(trials=40)),
        (40, Budget(trials=40)),
        ({"fte": 3}, Budget(fte=3.0)),
        ({"trials": 10, "seconds": 60}, Budget(trials=10, seconds=60.0)),
        ({"trials": "12", "fte": "1.5"}, Budget(trials=12, fte=1.5)),  # as YAML may give them
        ({"trials": 12.0}, Budget(trials=12)),
    ],
)
def test_accepted_forms(value: object, expected: Budget) -> None:
    budget = parse_budget(value)
    assert budget == expected
    if budget.trials is not None:
        assert type(budget.trials) is int


def test_a_budget_passes_through_and_round_trips() -> None:
    b = Budget(trials=3, fte=1.5)
    assert parse_budget(b) is b
    assert parse_budget(b.to_dict()) == b
    assert b.to_dict() == {"trials": 3, "fte": 1.5}
    assert b.describe() == "3 trials, 1.5 FTE"
    assert Budget(seconds=90).describe() == "90 s"


@pytest.mark.parametrize(
    "value,pattern",
    [
        ("", "needs trials, fte or seconds"),
        ({}, "needs trials, fte or seconds"),
        ("trials=", "cannot read the budget"),
        ("epochs=5", "cannot read the budget"),
        ("trials=5;fte=2", "cannot read the budget"),
        ("trials=5,trials=6", "trials twice"),
        ("fte=inf", "cannot read the budget"),
        ("fte=1e400", "positive number"),
        ("fte=1.2.3", "must be a number"),
        ("trials=2.5", "whole number"),
        ("trials=0", "positive number"),
        ("fte=-1", "positive number"),
        (0, "positive number"),
        (-3, "positive number"),
        (2.5, "number of trials or a mapping"),
        (True, "number of trials or a mapping"),
        (None, "number of trials or a mapping"),
        ([5], "number of trials or a mapping"),
        ({"fte": True}, "fte must be a number"),
        ({"trials": None}, "trials must be a number"),
        ({"trials": "many"}, "trials must be a number"),
        ({"fte": float("nan")}, "positive number"),
        ({"epochs": 3}, "unknown budget fields \\['epochs'\\]"),
    ],
)
def test_bad_budgets(value: object, pattern: str) -> None:
    with pytest.raises(BudgetError, match=pattern) as info:
        parse_budget(value)
    assert isinstance(info.value, MetamlError)


def test_budget_constructor_checks() -> None:
    with pytest.raises(BudgetError, match="needs trials, fte or seconds"):
        Budget()
    with pytest.raises(BudgetError, match="whole number"):
        Budget(trials=1.5)
    with pytest.raises(BudgetError, match="positive"):
        Budget(fte=True)


def test_merged_replaces_only_the_limits_given() -> None:
    base = Budget(trials=10, fte=2.0)
    assert base.merged(None) is base
    assert base.merged(Budget(fte=5.0)) == Budget(trials=10, fte=5.0)
    assert base.merged(Budget(seconds=30)) == Budget(trials=10, fte=2.0, seconds=30.0)
