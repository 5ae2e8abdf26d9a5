"""`metaml run` on a tiny built-in pipeline study: default first, the front scored once on the test split."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from metaml import Study
from metaml.final_evaluation import EVENT
from tests.e2e.conftest import run_cli
from tests.pipelines.conftest import write_tiny_table

YAML = textwrap.dedent("""\
    name: tiny-table
    function: metaml.pipelines.tabular:train
    seed: 0
    space:
      dataset: {type: constant, value: tiny.csv}
      target: {type: constant, value: label}
      sensitive: {type: constant, value: group}
      metrics: {type: constant, value: [demographic_parity_difference]}
      threads: {type: constant, value: 1}
      lr: {type: float, lower: 1.0e-3, upper: 1.0e-2, log: true}
      epochs: {type: fidelity, lower: 1, upper: 2}
    objectives:
      - {name: val_error, goal: min}
      - {name: demographic_parity_difference, goal: min}
    optimizer: random
    budget: {trials: 3}
    """)


@pytest.mark.slow  # over 10 s: in `make slow`
def test_run_scores_the_front_once_on_the_test_split(tmp_path: Path) -> None:
    write_tiny_table(tmp_path / "tiny.csv")
    (tmp_path / "study.yaml").write_text(YAML)
    first = run_cli(["run", "study.yaml"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "trial 0 is the pipeline's default configuration" in first.stdout
    assert "test set (computed once, after the search)" in first.stdout

    study = Study.load("tiny-table", tmp_path / "runs" / "tiny-table" / "study.db")
    trials = study.trials()
    assert trials[0].fidelity == 2 and study.store.get_study("tiny-table").info["default_trial"]["number"] == 0
    assert not [k for t in trials for k in t.metrics or {} if k.startswith("test_")]  # the search saw none
    front = sorted(t.number for t in study.pareto_front())
    scored = study.store.events(study.id, [EVENT])
    assert sorted(e.trial_number for e in scored) == front  # type: ignore[type-var]
    assert all("test_error" in e.data["metrics"] for e in scored)

    again = run_cli(["run", "study.yaml"], tmp_path)  # a finished study: nothing is trained or scored again
    assert again.returncode == 0, again.stderr
    assert len(study.trials()) == 3 and len(study.store.events(study.id, [EVENT])) == len(front)

    pareto = json.loads(run_cli(["pareto", "study.yaml", "--json"], tmp_path).stdout)
    assert pareto["test"]["status"] == "evaluated" and pareto["test"]["front"] == front
    assert {r["number"] for r in pareto["test"]["results"] if r["metrics"]} == set(front)
    report = run_cli(["report", "study.yaml", "--json", "-o", "r.html"], tmp_path)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["test_set"]["title"] == "test set (computed once, after the search)"
    assert data["test_set"]["results"] == pareto["test"]["results"] and data["default"]["trial"] == 0
    assert "Test set (computed once, after the search)" in (tmp_path / "r.html").read_text()


def test_a_user_function_says_in_one_line_that_it_has_no_test_evaluation(study_dir: Path) -> None:
    result = run_cli(["run", "study.yaml"], study_dir)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "no test evaluation" in line]
    assert len(lines) == 1 and "tiny:train" in lines[0] and "Traceback" not in result.stderr


def test_no_default_first_leaves_the_first_trial_to_the_optimizer(tmp_path: Path) -> None:
    write_tiny_table(tmp_path / "tiny.csv")
    (tmp_path / "study.yaml").write_text(YAML.replace("{trials: 3}", "{trials: 1}"))
    result = run_cli(["run", "study.yaml", "--no-default-first"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "the pipeline's default configuration" not in result.stdout
    study = Study.load("tiny-table", tmp_path / "runs" / "tiny-table" / "study.db")
    assert "default_trial" not in study.store.get_study("tiny-table").info
    trials = study.trials()
    assert len(trials) == 1 and "default" not in json.dumps(trials[0].info)


def test_a_default_that_does_not_fit_the_fte_budget_is_skipped_and_said(tmp_path: Path) -> None:
    write_tiny_table(tmp_path / "tiny.csv")
    small = YAML.replace("budget: {trials: 3}", "budget: {fte: 0.3}").replace("upper: 2}", "upper: 4}")
    (tmp_path / "study.yaml").write_text(small.replace("optimizer: random", "optimizer: hyperband"))
    run = run_cli(["run", "study.yaml"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "note: the default configuration is not run first: a run at full fidelity costs 1 FTE" in run.stdout
    status = json.loads(run_cli(["status", "study.yaml", "--json"], tmp_path).stdout)
    assert 0 < status["budget"]["fte_spent"] <= 0.3  # it spent 1.0 before
