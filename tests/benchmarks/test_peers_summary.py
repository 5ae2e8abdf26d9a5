"""The compare summary against hand-computed cases: overheads, the best peer, ratios, regret bands; CLI plumbing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.peers import compare as cmp
from benchmarks.peers import peer_class
from benchmarks.peers.plots import bands, regret_at
from benchmarks.problems.base import ProblemUnavailable
from benchmarks.runner import Evaluation, RunLog, measure
from benchmarks.summary import best_label, compare_markdown, rows
from benchmarks.targets import Targets

TARGETS = {"target": 1.0, "best": 0.0, "median": 10.0, "quantile": 0.01, "n": 5000}


def _result(optimizer: str, fte: float | None, kind: str = "peer", overhead_ms: float = 1.0, overhead_s: float = 0.1,
            continues: bool = False, final_regret: float = 0.5, trajectory: Any = None) -> dict[str, Any]:
    return {
        "problem": "p", "family": "f", "optimizer": optimizer, "kind": kind, "budget_fte": 30.0, "seed": 0,
        "optimizer_settings": {"continues": continues} if kind == "peer" else {},
        "fte_to_target": fte, "regret": {"3": 0.9, "5": 0.5, "10": 0.2, "30": final_regret},
        "final_regret": final_regret, "ask_ms": {"mean": 0.1}, "n_evaluations": 10, "fte_reused": 0.0,
        "stopped": "budget", "overhead_ms": overhead_ms, "overhead_s": overhead_s, "targets": TARGETS,
        "trajectory": trajectory or [],
    }


def test_overhead_is_wall_time_minus_problem_time_per_evaluation() -> None:
    log = RunLog([Evaluation(0, 27, 0, 1.0, 1.0, 5.0, True), Evaluation(1, 27, 0, 1.0, 2.0, 4.0, True)],
                 ask_seconds=[0.1, 0.1], wall_seconds=1.5, problem_seconds=0.5)
    t = Targets("p", "loss", 1.0, 0.0, 0.0, 10.0, 0.01, 5000, 0, "x", 0.0)
    m = measure(log, t, budget_fte=2.0, max_fidelity=27)
    assert m["overhead_s"] == pytest.approx(1.0) and m["overhead_ms"] == pytest.approx(500.0)
    assert m["wall_s"] == 1.5


def test_rows_pick_the_best_peer_and_give_ratios_against_it() -> None:
    results = [
        # metaml: reached at 6 and 10 -> median 8
        _result("priorband", 6.0, kind="metaml", overhead_ms=2.0), _result("priorband", 10.0, kind="metaml", overhead_ms=4.0),
        # peer a: 8 and 24 -> median 16; peer b: 12 and never -> median inf; peer c: never, never
        _result("a", 8.0, overhead_ms=10.0, overhead_s=1.0), _result("a", 24.0, overhead_ms=30.0, overhead_s=3.0),
        _result("b", 12.0, continues=True), _result("b", None, continues=True),
        _result("c", None, final_regret=0.1), _result("c", None, final_regret=0.2),
    ]
    ref = best_label(results, "peer")
    assert ref == "a"
    by = {r.optimizer: r for r in rows(results, reference=ref)}
    assert by["priorband"].fte_to_target.median == 8.0 and str(by["priorband"].vs_random) == "0.50"  # 8 / 16
    assert str(by["b"].vs_random) == ">1.88"  # censored: at least 30 / 16
    assert by["a"].overhead_ms == 20.0 and by["a"].overhead_s == 2.0
    assert by["priorband"].overhead_ms == 3.0
    assert [by[n].charged for n in ("priorband", "a", "b")] == ["continues", "retrains", "continues"]
    md = compare_markdown(list(by.values()), ref)
    assert "| `priorband` | continues | 2 | 8.0 [7.0, 9.0] | 2/2 | 0.50 |" in md and "vs a" in md.splitlines()[0]
    # among censored medians the larger share of reached runs wins, then the lower final regret
    assert best_label([r for r in results if r["optimizer"] in ("b", "c")]) == "b"
    assert best_label([r for r in results if r["optimizer"] == "c"]) == "c"
    assert best_label([r for r in results if r["kind"] == "metaml"]) is None


def test_regret_curves_and_bands_by_hand() -> None:
    grid = np.array([1.0, 2.0, 3.0, 4.0])
    r1 = _result("a", None, trajectory=[[2.0, 5.0], [4.0, 1.0]])  # regret 0.5 from 2 FTE, 0.1 from 4
    r2 = _result("a", None, trajectory=[[1.0, 3.0]])  # 0.3 from 1 FTE
    assert regret_at(r1, grid).tolist() == [math.inf, 0.5, 0.5, 0.1]
    b = bands([r1, r2], grid)
    assert b["median"].tolist() == [math.inf, pytest.approx(0.4), pytest.approx(0.4), pytest.approx(0.2)]
    assert b["q25"][1] == pytest.approx(0.35) and b["q75"][0] == math.inf


def test_seeds_and_time_boxes_per_peer() -> None:
    assert cmp.parse_peer_seeds("neps-bo=1, smac-mf=5") == {"neps-bo": 1, "smac-mf": 5}
    with pytest.raises(ProblemUnavailable):
        cmp.parse_peer_seeds("nope=3")
    assert cmp.seeds_for("optuna-tpe", 10, 3, {}) == 10
    assert cmp.seeds_for("smac-mf", 10, 3, {}) == 3  # slow per proposal
    assert cmp.seeds_for("smac-mf", 10, 3, {"smac-mf": 5}) == 5
    assert cmp.seeds_for("neps-bo", 2, 3, {}) == 2
    assert cmp.time_box_for("priorband", 60.0, 10.0) is None  # metaml's optimizers are never cut short
    assert cmp.time_box_for("dehb", 60.0, 10.0) == 60.0 and cmp.time_box_for("neps-bo", 60.0, 10.0) == 10.0


def test_child_arguments_keep_the_runs_and_drop_what_the_child_sets() -> None:
    argv = ["compare", "--suite", "lcbench-dev", "--seeds", "10", "--peers", "all", "--out", "x.jsonl",
            "--markdown", "--parallel", "--peer-seeds=neps-bo=1", "--metaml", "priorband", "--quick"]
    assert cmp.child_argv(argv) == ["--suite", "lcbench-dev", "--seeds", "10", "--peer-seeds=neps-bo=1", "--quick"]


def test_suites_and_hooks() -> None:
    assert cmp.suite("lcbench-dev").families[0][1] == cmp.LCBENCH_DEV
    assert cmp.METAML_DEFAULT == "bohb" and not cmp.HOOKS
    mo = cmp.suite("lcbench-mo-dev")
    assert mo.multi_objective and mo.families == (("lcbench-mo", cmp.LCBENCH_DEV),)
    assert mo.peers and all(peer_class(n).multi_objective for n in mo.peers) and mo.metaml == ("moasha", "mohb", "bo")
    assert cmp.suite("tabular").families == (("tabular", ("digits",)),) and cmp.suite("tabular").budget_fte == 10.0
    with pytest.raises(ProblemUnavailable, match="unknown suite"):
        cmp.suite("nope")


def test_plan_skips_what_is_installed_nowhere(tmp_path: Path) -> None:
    plan = cmp.plan_peers(["optuna-tpe"], peer_python=tmp_path / "no-python")
    from benchmarks.peers import missing

    if missing("optuna-tpe") is None:
        assert plan.local == ["optuna-tpe"] and not plan.skipped
    else:
        assert plan.local == [] and plan.skipped[0].startswith("optuna-tpe:")


@pytest.mark.slow  # over 10 s: in `make slow`
def test_compare_end_to_end_on_a_synthetic_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.__main__ import main
    from benchmarks.peers import missing

    if missing("optuna-random") is not None:
        pytest.skip(str(missing("optuna-random")))
    out = tmp_path / "r.jsonl"
    rc = main(["compare", "--suite", "synthetic", "--tasks", "good", "--seeds", "2", "--budget-fte", "4",
               "--peers", "optuna-random", "--no-delegate", "--out", str(out), "--plots-dir", str(tmp_path), "--json"])
    assert rc == 0
    results = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(r["problem"], r["optimizer"]) for r in results} == {
        (p, o) for p in ("branin-good", "hartmann6-good") for o in ("bohb", "bohb-scratch", "optuna-random")}
    peer = next(r for r in results if r["optimizer"] == "optuna-random")
    assert peer["kind"] == "peer" and peer["versions"]["optuna"] and peer["versions"]["metaml"]
    assert peer["optimizer_settings"]["charging"].startswith("every evaluation pays")
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"branin", "hartmann6"} and summary["branin"]["reference"] == "optuna-random"
    assert (tmp_path / "compare-synthetic-branin.png").stat().st_size > 10_000
    assert main(["compare", "--suite", "synthetic", "--peers", "no-such-peer", "--quick"]) == 2
