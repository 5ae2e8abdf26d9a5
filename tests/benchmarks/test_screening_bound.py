"""The screening bound's arithmetic: what a perfect judge and an oracle-timed promotion would pay."""

from __future__ import annotations

import pytest

from benchmarks.screening_bound import screening_costs, table


def test_a_perfect_judge_pays_every_screen_then_the_rest_of_one_run() -> None:
    # proposals 1-4 after 2 of 10 epochs; the third is the first under the target (0.1)
    judge, best = screening_costs(at_k=[0.5, 0.3, 0.4, 0.2], final=[0.3, 0.2, 0.05, 0.08], target=0.1, k=2, full=10)
    assert judge == pytest.approx(3 * 2 / 10 + 8 / 10)
    # by its 2-epoch error the third is not the best so far (0.4 > 0.3); the fourth is, and it is a hit
    assert best == pytest.approx(4 * 2 / 10 + 8 / 10)


def test_a_target_no_proposal_meets_is_unreached_for_both() -> None:
    assert screening_costs([0.1, 0.2], [0.5, 0.6], target=0.1, k=2, full=10) == (None, None)


def test_the_table_counts_unreached_runs_as_above_every_budget() -> None:
    rows = [{"proposer": "random", "epochs": 2, "judge_fte": 2.0, "best_at_k_fte": None, "tops_20": 1},
            {"proposer": "random", "epochs": 2, "judge_fte": None, "best_at_k_fte": None, "tops_20": 0}]
    out = table(rows)
    assert "| `random` | 2 | 2 | >max | 1 | >max | 0 | 0.50 |" in out
