"""The freeze-thaw benchmark's measures: FTE to a target, PAR2, regret at a checkpoint, and its table."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from benchmarks.freeze_thaw import fte_to, par2, read, regret_at, table


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


KEPT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "freeze_thaw"


@pytest.mark.parametrize(
    "file,row",
    [  # as printed in docs/benchmarks.md ("Trained longer ...", "Trained on real curve shapes ...")
        ("net12.jsonl.gz", "| 80 | 5.45 [3.49, 9.64] | 61/80 | 8.54 | >10 | 38/80 |"),
        ("net12-30.jsonl.gz", "| 80 | 5.45 [3.49, 9.64] | 78/80 | 8.68 | 10.30 | 73/80 |"),
        ("net32.jsonl.gz", "| 80 | 6.68 [4.04, >10] | 59/80 | 9.04 | >10 | 39/80 |"),
    ],
)
def test_the_kept_result_lines_give_the_documented_figures(file: str, row: str) -> None:
    assert row in table(read(KEPT / file))


def test_the_kept_held_out_runs_give_the_shipped_networks_documented_row() -> None:
    out = table(read(KEPT / "sur-heldA.jsonl.gz", KEPT / "sur-heldB.jsonl.gz"))
    shipped = next(r for r in out.splitlines() if r.startswith("| `freeze_thaw@curve_network=true`"))
    assert "| 80 | 5.56 [3.82, 7.94] | 66/80 | 7.73 | 8.92 | 47/80 |" in shipped


def test_results_are_read_from_plain_and_gzipped_lines_alike(tmp_path: Path) -> None:
    lines = '{"a": 1}\n\n{"a": 2}\n'
    (tmp_path / "r.jsonl").write_text(lines)
    (tmp_path / "r.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    assert read(tmp_path / "r.jsonl") == read(tmp_path / "r.jsonl.gz") == [{"a": 1}, {"a": 2}]
