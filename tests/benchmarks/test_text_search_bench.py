"""benchmarks.text_search: the seeded copy of the example, the verdict against the standard recipe, the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.text_search import render, seeded_example, verdict


def _side(val_error: float, val_ece: float, test_error: float, test_ece: float, **extra: Any) -> dict[str, Any]:
    return {"val_error": val_error, "val_ece": val_ece, "test_error": test_error, "test_ece": test_ece, **extra}


def _row(best: dict[str, Any], calibrated: dict[str, Any]) -> dict[str, Any]:
    full = _side(0.30, 0.10, 0.28, 0.12, seconds=37.0)
    probe = _side(0.40, 0.06, 0.39, 0.06, seconds=4.0)
    return {"seed": 0, "fte": 5.0, "seconds": 230.0, "baselines": {"full": full, "probe": probe},
            "most_accurate": {"trial": 5, **best}, "best_calibrated": {"trial": 0, **calibrated}}  # fmt: skip


def test_the_seed_sets_the_training_rows_and_the_study(tmp_path: Path) -> None:
    spec = seeded_example(2, tmp_path)
    assert spec.seed == 2
    assert spec.space.default()["seed"] == 2
    assert [o.name for o in spec.objectives] == ["val_error", "ece", "latency_ms"]


def test_the_verdict_compares_with_the_standard_recipe_on_dev_and_on_test() -> None:
    won = verdict(_row(_side(0.20, 0.05, 0.20, 0.03), _side(0.22, 0.04, 0.21, 0.07)))
    assert won == {"more_accurate_val": True, "more_accurate_test": True,
                   "better_calibrated_val": True, "better_calibrated_test": True}  # fmt: skip
    lost = verdict(_row(_side(0.20, 0.05, 0.29, 0.03), _side(0.22, 0.11, 0.21, 0.13)))
    assert lost == {"more_accurate_val": True, "more_accurate_test": False,
                    "better_calibrated_val": False, "better_calibrated_test": False}  # fmt: skip
    assert verdict({"baselines": {}, "most_accurate": None}) == {}


def test_the_table_has_a_line_per_side_and_seed_and_the_spread() -> None:
    rows = [_row(_side(0.20, 0.05, 0.20, 0.03), _side(0.22, 0.04, 0.21, 0.07)),
            {**_row(_side(0.18, 0.05, 0.19, 0.03), _side(0.22, 0.04, 0.23, 0.05)), "seed": 1}]  # fmt: skip
    table = render(rows)
    assert sum(line.startswith("| 0 | ") for line in table.splitlines()) == 4
    assert sum(line.startswith("| 1 | ") for line in table.splitlines()) == 4
    assert "| front: most accurate | 0.1900 ± 0.0141 |" in table
