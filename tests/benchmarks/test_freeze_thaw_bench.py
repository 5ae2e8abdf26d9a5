"""The freeze-thaw benchmark's measures: FTE to a target, PAR2, regret at a checkpoint, and its table."""

from __future__ import annotations

import math

import pytest

from benchmarks.freeze_thaw import fte_to, par2, regret_at, table


def test_fte_to_target_par2_and_regret_read_the_incumbent_trajectory() -> None:
    trajectory = [[1.5, 0.30], [2.0, 0.20], [4.0, 0.10]]
    assert fte_to(trajectory, 0.2) == 2.0 and fte_to(trajectory, 0.05) is None
    assert par2([2.0, None, 4.0], budget=30) == pytest.approx((2 + 60 + 4) / 3)
    assert regret_at(trajectory, 1.0, best=0.0, median=0.5) == math.inf  # nothing at full fidelity yet
    assert regret_at(trajectory, 3.0, best=0.0, median=0.5) == pytest.approx(0.4)


def test_the_table_has_one_row_per_optimizer_with_both_targets() -> None:
    line = {"problem": "lcbench-1", "budget_fte": 10.0, "fte_to_target": 2.0, "fte_to_strict": None,
            "first_full_fte": 1.0, "regret_at": {"2": 0.1, "5": 0.05}, "ask_ms": {"mean": 3.0, "max": 9.0}}
    out = table([{**line, "optimizer": "freeze_thaw"}, {**line, "optimizer": "bohb", "fte_to_target": None}],
                per_task=True)
    rows = [r for r in out.splitlines() if r.startswith("| `")]
    assert rows[0].startswith("| `freeze_thaw` | 1 | 2.00") and rows[1].startswith("| `bohb` | 1 | >10")
    assert "| 20.00 |" in rows[0]  # PAR2 of the strict target: never reached, twice the budget
    assert "lcbench-1" in out
