"""``metaml import optuna`` and ``metaml import csv`` end to end: what they write, what they refuse, in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaml import Study
from metaml.core.records import TrialStatus
from tests.e2e.conftest import run_cli

optuna = pytest.importorskip("optuna")


def _optuna_study(folder: Path) -> str:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{folder / 'optuna.db'}"
    study = optuna.create_study(study_name="tune", storage=url, sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in (1, 2):
            trial.report(x * step, step)
            if trial.number == 1:
                raise optuna.TrialPruned()
        return x

    study.optimize(objective, n_trials=4)
    return url


def test_import_optuna_writes_a_study_and_says_what_it_did(study_dir: Path) -> None:
    url = _optuna_study(study_dir)
    result = run_cli(["import", "optuna", "--storage", url, "--study-name", "tune", "--into", "m.db", "--as", "earlier",
                      "--json"], study_dir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["study"] == "earlier" and out["imported"] == {"completed": 3, "pruned": 1} and out["skipped"] == []
    study = Study.load("earlier", study_dir / "m.db")
    assert study.cost_fte() == 0.0 and all(t.imported["source"] == "optuna" for t in study.trials())  # type: ignore[index]
    status = json.loads(run_cli(["status", "--store", "m.db", "--study", "earlier", "--json"], study_dir).stdout)
    assert status["imported"] == 4 and status["fte"] == 0.0 and status["throughput_per_min"] is None
    again = run_cli(["import", "optuna", "--storage", url, "--study-name", "tune", "--into", "m.db", "--as", "earlier"],
                    study_dir)  # fmt: skip
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--storage", "sqlite:///missing.db", "--study-name", "tune"], "does not exist"),
        (["--storage", "OPTUNA", "--study-name", "other"], "no Optuna study named 'other'"),
        (["--storage", "not a url", "--study-name", "tune"], "an Optuna storage is an RDB URL"),
    ],
)
def test_import_optuna_refuses_in_one_line_and_writes_nothing(study_dir: Path, args: list[str], expected: str) -> None:
    url = _optuna_study(study_dir)
    args = [url if a == "OPTUNA" else a for a in args]
    result = run_cli(["import", "optuna", *args, "--into", "m.db"], study_dir)
    assert result.returncode == 1 and expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (study_dir / "m.db").exists() and not (study_dir / "missing.db").exists()


def test_import_csv_with_a_study_file_skips_bad_rows_with_warnings(study_dir: Path) -> None:
    (study_dir / "old.csv").write_text(
        "x,n,kind,kind.b.depth,epochs,loss,size,status\n"
        "0.5,2,a,,4,0.25,10,completed\n"
        "0.7,3,b,2,2,0.4,12,pruned\n"
        "1.5,3,a,,4,0.1,10,completed\n"
        "0.2,2,c,,4,0.1,10,completed\n"
    )
    result = run_cli(["import", "csv", "old.csv", "--space", "study.yaml", "--into", "m.db", "--as", "old"], study_dir)
    assert result.returncode == 0, result.stderr
    assert "imported 2 trials" in result.stdout
    assert "old.csv line 4" in result.stderr and "old.csv line 5" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("old.csv line 4") == 1  # once, as "warning: ...", not again as a log line
    study = Study.load("old", study_dir / "m.db")
    assert [(t.status, t.fidelity) for t in study.trials()] == [(TrialStatus.COMPLETED, 4.0), (TrialStatus.PRUNED, 2.0)]
    # the same rows through --study: the stored study's space
    result = run_cli(["import", "csv", "old.csv", "--study", "old", "--into", "m.db", "--as", "again", "--json"], study_dir)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == {"completed": 1, "pruned": 1}


def test_import_csv_needs_one_space(study_dir: Path) -> None:
    (study_dir / "old.csv").write_text("x\n0.5\n")
    result = run_cli(["import", "csv", "old.csv", "--into", "m.db"], study_dir)
    assert result.returncode == 2 and "--space STUDY.yaml or --study NAME" in result.stderr
    assert not (study_dir / "m.db").exists()
