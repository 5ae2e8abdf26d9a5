"""The screening bound's arithmetic: what a perfect judge and an oracle-timed promotion would pay."""

from __future__ import annotations

import pytest

from benchmarks.screening_bound import gp_against_best, screening_costs, table


def test_a_perfect_judge_pays_every_screen_then_the_rest_of_one_run() -> None:
    # proposals 1-4 after 2 of 10 epochs; the third is the first under the target (0.1)
    judge, best = screening_costs(at_k=[0.5, 0.3, 0.4, 0.2], final=[0.3, 0.2, 0.05, 0.08], target=0.1, k=2, full=10)
    assert judge == pytest.approx(3 * 2 / 10 + 8 / 10)
    # by its 2-epoch error the third is not the best so far (0.4 > 0.3); the fourth is, and it is a hit
    assert best == pytest.approx(4 * 2 / 10 + 8 / 10)


def test_a_target_no_proposal_meets_is_unreached_for_both() -> None:
    assert screening_costs([0.1, 0.2], [0.5, 0.6], target=0.1, k=2, full=10) == (None, None)


def test_the_table_counts_unreached_runs_as_above_every_budget() -> None:
    rows = [{"proposer": "random", "epochs": 2, "judge_fte": 2.0, "best_at_k_fte": None, "tops_20": 1, "deep": 8,
             "deep_share": 0.0, "two_stage_fte": None},
            {"proposer": "random", "epochs": 2, "judge_fte": None, "best_at_k_fte": None, "tops_20": 0, "deep": 8,
             "deep_share": 0.0, "two_stage_fte": None}]
    out = table(rows)
    assert "| `random` | 2 | 2 | >max | 1 | >max | 0 | 8 | 0.00 | >max | 0 | - | - | - | 0.50 |" in out


def test_two_stages_pay_the_deepening_of_every_proposal_in_the_best_third_so_far() -> None:
    from benchmarks.screening_bound import two_stage_cost

    # 1st: best so far, deepened (2 -> 8 of 16); 2nd: worse at 2, not in the best third of 2 (1 slot); 3rd: best
    # at 2, deepened, better at 8 and a hit: 3 screens + 2 deepenings + the rest of one run
    cost = two_stage_cost(at_k=[0.5, 0.6, 0.4], at_deep=[0.3, 0.2, 0.1], final=[0.3, 0.05, 0.08], target=0.1,
                          k=2, deep=8, full=16, share=1 / 3)
    assert cost == pytest.approx(3 * 2 / 16 + 2 * 6 / 16 + 8 / 16)


def test_a_share_of_zero_deepens_only_a_new_best_at_the_screen() -> None:
    from benchmarks.screening_bound import two_stage_cost

    # the 2nd is worse at 2 than the 1st and not deepened though it is a hit; the 3rd is a new best, deepened, a hit
    cost = two_stage_cost(at_k=[0.5, 0.6, 0.4], at_deep=[0.3, 0.2, 0.1], final=[0.3, 0.05, 0.08], target=0.1,
                          k=2, deep=8, full=16, share=0.0)
    assert cost == pytest.approx(3 * 2 / 16 + 2 * 6 / 16 + 8 / 16)
    assert two_stage_cost([0.5, 0.6], [0.3, 0.2], [0.3, 0.05], target=0.1, k=2, deep=8, full=16, share=0.0) is None


def test_the_gp_judge_pays_the_screens_up_to_the_hit_it_picks_and_never_beats_the_perfect_judge() -> None:
    import numpy as np

    from benchmarks.problems.synthetic import Branin
    from benchmarks.screening_bound import gp_judge_cost

    problem = Branin("good", max_fidelity=27)
    rng = np.random.default_rng(0)
    configs = [problem.space.sample(rng) for _ in range(8)]
    final = problem.evaluate_batch(configs, 27)["loss"].tolist()
    at_k = problem.evaluate_batch(configs, 3)["loss"].tolist()
    target = sorted(final)[1]  # two hits among the eight
    cost = gp_judge_cost(problem, configs, final, target, k=3, metric="loss")
    judge, _ = screening_costs(at_k, final, target, k=3, full=27)
    assert cost is not None and judge is not None and cost >= judge - 1e-12
    n = round((cost - 24 / 27) * 27 / 3)  # screens paid: a whole number of them, at most all eight
    assert 1 <= n <= 8 and cost == pytest.approx(n * 3 / 27 + 24 / 27)
    assert gp_judge_cost(problem, configs[:4], final[:4], min(final) - 1.0, k=3, metric="loss") is None


def test_the_gp_is_earlier_later_or_the_same_as_the_screens_best_run_by_run_with_unreached_last() -> None:
    rows = [{"best_at_k_fte": 2.0, "gp_judge_fte": 1.5},   # earlier
            {"best_at_k_fte": 2.0, "gp_judge_fte": None},  # later: unreached
            {"best_at_k_fte": None, "gp_judge_fte": 3.0},  # earlier: reached where the screen's best is not
            {"best_at_k_fte": 2.0, "gp_judge_fte": 2.0},   # same
            {"best_at_k_fte": None, "gp_judge_fte": None}]  # same: neither
    assert gp_against_best(rows) == (2, 1, 2)


def test_the_table_shows_the_gp_judge_beside_the_screens_best_when_every_run_had_it() -> None:
    base = {"proposer": "bo", "epochs": 4, "judge_fte": 1.0, "tops_20": 1, "deep": 16, "deep_share": 0.0,
            "two_stage_fte": None, "gp_judge": True}
    rows = [{**base, "best_at_k_fte": 2.0, "gp_judge_fte": 1.5}, {**base, "best_at_k_fte": None, "gp_judge_fte": None}]
    assert "| >max | 0 | >max | 1 | 1 / 0 / 1 | 1.00 |" in table(rows)


def test_every_n_promotes_the_best_not_yet_promoted_and_pays_each_promotion_in_full() -> None:
    from benchmarks.screening_bound import every_n_cost

    # screens of 2 of 10 epochs, a promotion after every 2: first the 1st (0.1 at the screen, final 0.5: no hit),
    # then after the 4th screen the best not yet promoted, the 4th (0.2), a hit
    est, final = [0.1, 0.3, 0.4, 0.2], [0.5, 0.05, 0.6, 0.08]
    cost = every_n_cost(est, final, target=0.1, k=2, full=10, every=2)
    assert cost == pytest.approx(4 * 2 / 10 + 2 * 8 / 10)
    # the hit among the first two (the 2nd) is never the best remaining by the estimate before the proposals run out
    assert every_n_cost(est[:3], final[:3], target=0.1, k=2, full=10, every=2) is None


def test_the_policy_table_puts_the_trend_beside_the_screen_with_and_without_an_oracle() -> None:
    from benchmarks.screening_bound import policy_table

    base = {"proposer": "bo", "epochs": 4}
    rows = [{**base, "best_at_k_fte": 3.0, "trend_fte": 2.0, "every_n_fte": {"screen@5": 4.0, "trend@5": None}},
            {**base, "best_at_k_fte": None, "trend_fte": 2.5, "every_n_fte": {"screen@5": 6.0, "trend@5": 3.0}}]
    out = policy_table(rows)
    assert "screen's best every 5, no oracle" in out and "trend's best every 5, no oracle" in out
    assert "| `bo` | 4 | 2 | >max | 1 | 2.25 | 2 | 5.00 | 2 | >max | 1 |" in out
