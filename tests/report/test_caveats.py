"""Caveats: small groups, limits only near-constant models meet, front members within each other's intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from metaml import Objective, Study
from metaml.core.records import TrialRecord, TrialStatus
from metaml.metrics import group_breakdown
from metaml.pipelines.base import PipelineError
from metaml.pipelines.groups import check_groups, count_groups
from metaml.report.caveats import front_caveats, group_size_caveats, study_caveats

OBJECTIVES = [Objective("val_error"), Objective("demographic_parity_difference", limit=0.1)]


def _trial(number: int, error: float, gap: float, *, positive_rate: float = 0.4, small: tuple[str, ...] = (),
           width: float = 0.01) -> TrialRecord:  # fmt: skip
    details: dict[str, Any] = {
        "fairness": {"demographic_parity_difference": {
            "value": gap, "groups": [{"group": "a", "n": 500}, {"group": "b", "n": 8}], "small_groups": list(small),
            "min_group_size": 30, "pair": {"low": "b", "high": "a"}, "positive_rate": positive_rate,
        }},
        "intervals": {"val_error": {"low": error - width, "high": error + width, "level": 0.95},
                      "demographic_parity_difference": {"low": gap - width, "high": gap + width, "level": 0.95}},
    }  # fmt: skip
    return TrialRecord(0, number, {}, None, None, TrialStatus.COMPLETED,
                       metrics={"val_error": error, "demographic_parity_difference": gap},
                       info={"details": details})  # fmt: skip


def test_small_groups_are_named_with_their_rows_in_a_constructed_data_set() -> None:
    rng = np.random.default_rng(0)
    groups = np.array(["big"] * 300 + ["small"] * 12)
    y = rng.integers(0, 2, len(groups))
    p = rng.uniform(size=len(groups))
    breakdown = group_breakdown("demographic_parity_difference", p, y, groups)
    assert breakdown["small_groups"] == ["small"]
    trial = TrialRecord(0, 1, {}, None, None, TrialStatus.COMPLETED,
                        metrics={"val_error": 0.3, "demographic_parity_difference": breakdown["value"]},
                        info={"details": {"fairness": {"demographic_parity_difference": breakdown}}})  # fmt: skip
    found = [c for c in front_caveats(OBJECTIVES, [trial], [trial]) if c.kind == "small_groups"]
    assert len(found) == 1 and "'small' (12 rows)" in found[0].message and "1/12" in found[0].message
    sizes = count_groups({"training": groups, "validation": groups, "test": groups[:305]})
    assert sizes["test"] == {"big": 300, "small": 5}
    checked = check_groups("race", sizes, ["demographic_parity_difference"], {})
    before = group_size_caveats(checked.compared, checked.minimum, "race")
    assert [c.kind for c in before] == ["small_groups", "small_groups"] and "'small' (5 rows)" in before[1].message
    assert "validation split" in before[0].message  # the training split decides no number: not warned about


def test_the_warning_before_training_applies_the_group_choice() -> None:
    sizes = {"validation": {"a": 600, "b": 400, "c": 9, "d": 4}}
    metrics = ["demographic_parity_difference", "equal_opportunity_difference"]
    settings = {"demographic_parity_difference": {"groups": "two_largest"},
                "equal_opportunity_difference": {"merge_below": 10, "min_group_size": 13}}  # fmt: skip
    checked = check_groups("race", sizes, metrics, settings)
    assert checked.compared["demographic_parity_difference"]["validation"] == {"a": 600, "b": 400}
    assert checked.compared["equal_opportunity_difference"]["validation"] == {"a": 600, "b": 400, "other": 13}
    assert group_size_caveats(checked.compared, checked.minimum, "race") == []
    with pytest.raises(PipelineError, match="metric_settings.demographic_parity_difference: groups must be"):
        check_groups("race", sizes, metrics, {"demographic_parity_difference": {"groups": "largest"}})


def test_a_limit_only_constant_models_meet_is_said() -> None:
    useful = _trial(1, 0.2, 0.3)  # over the limit
    constant = _trial(2, 0.45, 0.0, positive_rate=0.0)
    almost = _trial(3, 0.44, 0.05, positive_rate=0.99)
    found = [c for c in front_caveats(OBJECTIVES, [useful, constant, almost], [constant, almost])
             if c.kind == "degenerate"]  # fmt: skip
    assert found[0].trials == (2, 3) and "only near-constant models meet the limit" in found[0].message
    assert found[1].trials == (2, 3)  # and each front member is named
    fair_and_useful = _trial(4, 0.25, 0.05, positive_rate=0.35)
    found = front_caveats(OBJECTIVES, [useful, constant, fair_and_useful], [fair_and_useful, constant])
    assert [c.trials for c in found if c.kind == "degenerate"] == [(2,)]  # the limit is met by a useful model too


def test_front_members_within_each_others_intervals() -> None:
    a, b = _trial(1, 0.20, 0.05, width=0.02), _trial(2, 0.21, 0.04, width=0.02)
    c = _trial(3, 0.30, 0.0, width=0.02)
    found = [x for x in front_caveats(OBJECTIVES, [a, b, c], [a, b, c]) if x.kind == "within_uncertainty"]
    assert len(found) == 1 and found[0].trials == (1, 2) and "1 and 2" in found[0].message
    apart = [_trial(1, 0.20, 0.05, width=0.001), _trial(2, 0.21, 0.04, width=0.001)]
    assert not [x for x in front_caveats(OBJECTIVES, apart, apart) if x.kind == "within_uncertainty"]
    bare = TrialRecord(0, 9, {}, None, None, TrialStatus.COMPLETED, metrics={"val_error": 0.2,
                       "demographic_parity_difference": 0.05})  # fmt: skip
    assert [c.kind for c in front_caveats(OBJECTIVES, [bare], [bare])] == ["limit_price"]  # nothing stored: no warning


def test_groups_no_metric_can_compare_are_refused_with_the_groups_listed() -> None:
    with pytest.raises(PipelineError, match=r"one group only in the validation split \(a \(40\)\)"):
        check_groups("sex", {"validation": {"a": 40}}, ["demographic_parity_difference"], {})
    with pytest.raises(PipelineError, match=r"group 'c' is not in the test split .* a \(40\), b \(3\)"):
        check_groups("race", {"test": {"a": 40, "b": 3}}, ["demographic_parity_difference"],
                     {"demographic_parity_difference": {"reference": "c"}})  # fmt: skip
    found = check_groups("race", {"test": {"a": 40, "b": 3}}, ["val_error", "demographic_parity_difference"],
                         {"demographic_parity_difference": {"min_group_size": 50}})  # fmt: skip
    assert found.minimum == {"demographic_parity_difference": 50} and found.sizes["test"]["b"] == 3


def test_study_caveats_read_the_store(tmp_path: Any) -> None:
    study = Study.create("c", {"x": {"type": "float", "lower": 0.0, "upper": 1.0}}, OBJECTIVES,
                         store=tmp_path / "s.db")  # fmt: skip
    for error, gap in ((0.2, 0.05), (0.21, 0.04)):
        trial = study.ask()
        assert trial is not None
        stored = _trial(trial.number, error, gap, width=0.05)
        study.tell(trial, {**(stored.metrics or {}), "details": stored.details})
    assert study.trials()[0].details["intervals"]["val_error"]["high"] == pytest.approx(0.25)
    kinds = [c.kind for c in study_caveats(study)]
    assert kinds == ["within_uncertainty", "limit_price"]


def test_the_price_of_a_limit_is_said_with_its_uncertainty() -> None:
    best, fair = _trial(1, 0.20, 0.30, width=0.01), _trial(2, 0.26, 0.05, width=0.01)
    found = [c for c in front_caveats(OBJECTIVES, [best, fair], [best, fair]) if c.kind == "limit_price"]
    assert len(found) == 1 and found[0].trials == (2, 1)
    assert "costs 0.06 of val_error" in found[0].message and "beyond the uncertainty" in found[0].message
    close = _trial(3, 0.205, 0.05, width=0.01)
    found = [c for c in front_caveats(OBJECTIVES, [best, close], [best, close]) if c.kind == "limit_price"]
    assert "within the uncertainty" in found[0].message
    constant = _trial(4, 0.45, 0.0, positive_rate=0.0)
    found = [c for c in front_caveats(OBJECTIVES, [best, constant], [best, constant]) if c.kind == "limit_price"]
    assert found[0].message.startswith("no model that meets demographic_parity_difference <= 0.1 was found")
