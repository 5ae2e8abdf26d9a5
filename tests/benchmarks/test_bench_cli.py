"""End to end: ``python -m benchmarks run`` on a synthetic problem with random search, then ``table``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.problems.synthetic import Branin
from benchmarks.targets import load_targets


def _run(out: Path) -> list[dict]:
    rc = main(["run", "--problem", "branin", "--tasks", "moderate", "--optimizers", "random",
               "--seeds", "2", "--budget-fte", "12", "--out", str(out)])
    assert rc == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_run_writes_one_line_per_run_and_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = _run(tmp_path / "a.jsonl")
    assert [(r["problem"], r["optimizer"], r["seed"]) for r in results] == [
        ("branin-moderate", "random", 0), ("branin-moderate", "random", 1)]
    r = results[0]
    assert r["n_evaluations"] == 12 and r["fte_spent"] == 12.0 and r["stopped"] == "budget"
    assert set(r["regret"]) == {"3", "5", "10"}  # 30 FTE lies past the budget
    assert r["trajectory"][0][0] == 1.0  # random search: every trial is a full run costing 1 FTE
    assert {"metaml", "numpy", "onnxruntime", "python"} <= set(r["versions"])
    assert "--problem branin" in r["command"]
    assert r["targets"]["n"] == 5000 and r["targets"]["best"] == pytest.approx(0.397887)
    printed = capsys.readouterr().out
    assert "random" in printed and "FTE to target" in printed
    # deterministic: the same command gives the same runs (timings aside)
    again = _run(tmp_path / "b.jsonl")
    keep = ("trajectory", "fte_to_target", "regret", "n_evaluations")
    assert [{k: x[k] for k in keep} for x in again] == [{k: x[k] for k in keep} for x in results]
    capsys.readouterr()
    assert main(["table", str(tmp_path / "a.jsonl"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["optimizer"] == "random" and rows[0]["runs"] == 2


def test_unknown_optimizer_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--problem", "branin", "--optimizers", "no-such-optimizer", "--quick"]) == 2
    assert "unknown optimizer no-such-optimizer" in capsys.readouterr().err


def test_targets_are_cached_and_recomputed_when_the_problem_changes(bench_cache: Path) -> None:
    p = Branin("good")
    first = load_targets(p, n=300)
    path = bench_cache / "targets" / "branin-good.json"
    assert path.is_file()
    path.write_text(path.read_text().replace(str(first.target), "123.0"))  # proves the file is read
    assert load_targets(p, n=300).target == 123.0
    assert load_targets(p, n=400).target != 123.0  # another fingerprint: recomputed
