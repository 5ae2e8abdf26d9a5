"""`metaml run` and the reading commands on a real (tiny) study, checked in the store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from tests.e2e.conftest import run_cli, study_yaml


def test_run_records_every_trial_and_prints_the_front(study_dir: Path) -> None:
    result = run_cli(["run", "study.yaml"], study_dir)
    assert result.returncode == 0, result.stderr
    assert "Pareto front of tiny" in result.stdout
    assert "hypervolume" in result.stdout and "per FTE" in result.stdout  # the progress measure of several objectives

    study = Study.load("tiny", study_dir / "runs" / "tiny" / "study.db")
    trials = study.trials()
    assert [t.number for t in trials] == list(range(6))
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    assert all(t.fidelity == 4 and t.cost_fte == 1.0 for t in trials)
    # the learning curve of every trial is in the store, one point per epoch
    curve = study.store.observations(study.id, 0)
    assert [o.step for o in curve] == [1, 2, 3, 4]
    kinds = {e.kind for e in study.store.events(study.id)}
    assert {"created", "proposal"} <= kinds
    assert study.record.info["study_yaml"].startswith("name: tiny")
    stored = study.store.get_study("tiny").info["reference_point"]  # fixed once, kept with the study
    assert len(stored) == 2 and study.hypervolume() > 0.0
    assert study.store.get_study("tiny").info["reference_point"] == stored

    pareto = run_cli(["pareto", "study.yaml", "--json"], study_dir)
    assert pareto.returncode == 0, pareto.stderr
    front = json.loads(pareto.stdout)["front"]
    assert {t["number"] for t in front} == {t.number for t in study.pareto_front()}
    assert all(set(t["metrics"]) >= {"loss", "size"} and t["config"] for t in front)

    table = run_cli(["trials", "study.yaml", "--csv"], study_dir)
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert len(rows) == 6 and rows[0]["status"] == "completed"

    status = json.loads(run_cli(["status", "study.yaml", "--json"], study_dir).stdout)
    assert status["trials"]["completed"] == 6 and abs(status["fte"] - 6.0) < 1e-9

    people = run_cli(["status", "study.yaml"], study_dir)
    assert people.returncode == 0 and "completed 6" in people.stdout and "6.00 FTE" in people.stdout
    listing = run_cli(["studies", "--store", str(study_dir / "runs" / "tiny" / "study.db")], study_dir)
    assert listing.returncode == 0 and listing.stdout.split() == ["tiny"]


def test_run_again_resumes_and_a_bigger_budget_adds_trials(study_dir: Path) -> None:
    assert run_cli(["run", "study.yaml"], study_dir).returncode == 0
    again = run_cli(["run", "study.yaml"], study_dir)
    assert again.returncode == 0 and "resuming: 6 trials" in again.stdout
    more = run_cli(["run", "study.yaml", "--budget", "trials=9"], study_dir)
    assert more.returncode == 0, more.stderr
    study = Study.load("tiny", study_dir / "runs" / "tiny" / "study.db")
    assert [t.number for t in study.trials()] == list(range(9))


def test_store_and_study_options_replace_the_yaml(study_dir: Path) -> None:
    url = f"sqlite:///{study_dir / 'elsewhere.db'}"
    assert run_cli(["run", "study.yaml", "--store", url, "--budget", "trials=2"], study_dir).returncode == 0
    out = run_cli(["trials", "--store", url, "--study", "tiny", "--json"], study_dir)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 2
    unknown = run_cli(["status", "--store", url, "--study", "nope"], study_dir)
    assert unknown.returncode == 1
    assert "no study named 'nope'" in unknown.stderr and "tiny" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_function_that_raises_every_other_time_is_recorded_and_the_study_goes_on(study_dir: Path) -> None:
    (study_dir / "flaky.yaml").write_text(study_yaml(name="flaky", function="tiny:flaky", trials=6))
    result = run_cli(["run", "flaky.yaml"], study_dir)
    assert result.returncode == 0, result.stderr
    study = Study.load("flaky", study_dir / "runs" / "flaky" / "study.db")
    trials = study.trials()
    assert len(trials) == 6
    failed = [t for t in trials if t.status is TrialStatus.FAILED]
    assert [t.number for t in failed] == [1, 3, 5]
    assert all("odd trial" in (t.error or "") and "Traceback" in (t.traceback or "") for t in failed)
    assert all(t.status is TrialStatus.COMPLETED for t in trials if t.number % 2 == 0)


def test_nan_and_missing_objectives_fail_the_trial_with_the_reason(study_dir: Path) -> None:
    for name in ("nan", "missing"):
        (study_dir / f"{name}.yaml").write_text(study_yaml(name=name, function=f"tiny:{name}", trials=2))
        assert run_cli(["run", f"{name}.yaml"], study_dir).returncode == 0
    nan = Study.load("nan", study_dir / "runs" / "nan" / "study.db").trials()
    assert all(t.status is TrialStatus.FAILED and "not a finite number" in (t.error or "") for t in nan)
    missing = Study.load("missing", study_dir / "runs" / "missing" / "study.db").trials()
    assert all("lack the objective 'loss'" in (t.error or "") for t in missing)


def test_pareto_of_a_study_with_no_result_says_so(study_dir: Path) -> None:
    (study_dir / "nan.yaml").write_text(study_yaml(name="nan", function="tiny:nan", trials=1))
    run_cli(["run", "nan.yaml"], study_dir)
    out = run_cli(["pareto", "nan.yaml"], study_dir)
    assert out.returncode == 0 and "no Pareto front yet" in out.stdout


@pytest.mark.slow  # over 10 s: in `make slow`
def test_report_and_export_from_the_command_line(study_dir: Path) -> None:
    assert run_cli(["run", "study.yaml"], study_dir).returncode == 0
    report = run_cli(["report", "study.yaml", "-o", "report.html"], study_dir)
    assert report.returncode == 0, report.stderr
    html = (study_dir / "report.html").read_text()
    for section in ("summary", "pareto", "trajectory", "importance", "decisions", "reproducibility"):
        assert f'id="{section}"' in html
    summary = json.loads(run_cli(["report", "study.yaml", "-o", "again.html", "--json"], study_dir).stdout)
    assert summary  # the same numbers for machines
    out = run_cli(["export", "study.yaml", "--trial", "0", "exported"], study_dir)
    assert out.returncode == 0, out.stderr
    assert {"config.json", "metrics.json", "MODEL_CARD.md"} <= {p.name for p in (study_dir / "exported").iterdir()}
    missing = run_cli(["export", "study.yaml", "--trial", "99", "nope"], study_dir)
    assert missing.returncode == 1 and "numbered 0 to 5" in missing.stderr
