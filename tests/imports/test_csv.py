"""Trials from a CSV file: good rows imported with their provenance, bad rows skipped with a warning naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaml import Study
from metaml.core.records import TrialStatus
from metaml.errors import StudyFileError
from metaml.imports import import_csv
from metaml.objectives import Objective
from metaml.space import Categorical, Fidelity, Float, Int, Space

SPACE = Space({
    "optimizer": Categorical(["sgd", "adam"]),
    "momentum": Float(0.5, 0.99, when={"optimizer": ["sgd"]}),
    "lr": Float(1e-4, 1e-1, log=True),
    "layers": Int(1, 4),
    "epochs": Fidelity(1, 9),
})  # fmt: skip
OBJECTIVES = (Objective("val_error"), Objective("latency_ms", "min"))

ROWS = """optimizer,momentum,lr,layers,epochs,val_error,latency_ms,status,notes
sgd,0.9,0.01,2,9,0.12,3.5,completed,good
adam,,0.001,3,3,0.2,4.0,pruned,good
adam,,0.5,3,9,0.1,4.0,completed,lr outside the range
rmsprop,,0.01,1,9,0.1,1.0,,not a choice
sgd,0.9,abc,2,9,0.1,1.0,,not a number
adam,0.9,0.01,2,9,0.1,1.0,,momentum given but inactive
adam,,0.01,2.5,9,0.1,1.0,,not a whole number
adam,,0.01,2,9,,1.0,completed,an objective missing
adam,,0.02,4,,,,failed,a failed row needs no objectives
sgd,0.8,0.03,1,20,0.3,2.0,,fidelity past its upper end
"""


def test_good_rows_come_in_and_bad_rows_are_skipped_naming_their_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(ROWS)
    report = import_csv(path, tmp_path / "m.db", "from-csv", SPACE, OBJECTIVES)
    study = Study.load("from-csv", tmp_path / "m.db")
    trials = study.trials()
    assert [(t.number, t.status, t.config, t.fidelity, t.metrics) for t in trials] == [
        (0, TrialStatus.COMPLETED, {"optimizer": "sgd", "momentum": 0.9, "lr": 0.01, "layers": 2}, 9.0,
         {"val_error": 0.12, "latency_ms": 3.5}),
        (1, TrialStatus.PRUNED, {"optimizer": "adam", "lr": 0.001, "layers": 3}, 3.0, {"val_error": 0.2, "latency_ms": 4.0}),
        (2, TrialStatus.FAILED, {"optimizer": "adam", "lr": 0.02, "layers": 4}, 9.0, None),
    ]  # fmt: skip
    assert [t.imported["line"] for t in trials] == [2, 3, 10]  # type: ignore[index]
    assert all(t.imported["source"] == "csv" and t.cost_fte == 0.0 for t in trials)  # type: ignore[index]
    lines = [s for s in report.skipped if " line " in s]
    assert [int(s.split(" line ")[1].split(":")[0]) for s in lines] == [4, 5, 6, 7, 8, 9, 11]
    assert any("'notes'" in s and "ignored" in s for s in report.skipped)
    assert "runs.csv line 5" in caplog.text  # each skipped row is a warning
    assert study.cost_fte() == 0.0 and study.metadata.imported["rows"] == 10  # type: ignore[index]


def test_a_file_without_a_needed_column_or_without_a_good_row_writes_nothing(tmp_path: Path) -> None:
    into = tmp_path / "m.db"
    path = tmp_path / "a.csv"
    path.write_text("optimizer,lr,layers\nsgd,0.01,2\n")
    with pytest.raises(StudyFileError, match="no column for 'val_error', 'latency_ms'"):
        import_csv(path, into, "s", SPACE, OBJECTIVES)
    path.write_text("optimizer,lr,layers,val_error,latency_ms\nsgd,9,2,0.1,1\n")
    with pytest.raises(StudyFileError, match="no row .* could be imported"):
        import_csv(path, into, "s", SPACE, OBJECTIVES)
    with pytest.raises(StudyFileError, match="cannot read the CSV file"):
        import_csv(tmp_path / "missing.csv", into, "s", SPACE, OBJECTIVES)
    assert not into.exists()


def test_optuna_dataframe_columns_are_read(tmp_path: Path) -> None:
    path = tmp_path / "optuna.csv"
    path.write_text("number,params_x,value,state\n0,0.25,1.5,COMPLETE\n1,0.75,,FAIL\n")
    space = Space({"x": Float(0, 1)})
    study = import_csv(path, tmp_path / "m.db", "df", space, [Objective("value")]).study
    assert [(t.config, t.status, t.metrics) for t in study.trials()] == [
        ({"x": 0.25}, TrialStatus.COMPLETED, {"value": 1.5}), ({"x": 0.75}, TrialStatus.FAILED, None),
    ]  # fmt: skip


def test_metamls_own_trial_table_imports_back(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from metaml.cli import app
    from metaml.store import Proposal

    space = Space({"lr": Float(1e-4, 1e-1, log=True), "epochs": Fidelity(1, 9)})
    study = Study.create("here", space, ["val_error"], store=tmp_path / "a.db", seed=0, optimizer="random")
    for fidelity in (3, 9):
        study.store.enqueue(study.id, Proposal({"lr": 0.01 * fidelity}, fidelity))
    study.optimize(lambda config, trial=None: {"val_error": config["lr"]}, budget=3)
    exported = CliRunner().invoke(app, ["trials", "--store", str(tmp_path / "a.db"), "--study", "here", "--csv"])
    assert exported.exit_code == 0, exported.output
    (tmp_path / "trials.csv").write_text(exported.output)
    report = import_csv(tmp_path / "trials.csv", tmp_path / "b.db", "back", space, [Objective("val_error")])
    back = [(t.config, t.fidelity, t.metrics, t.status) for t in report.study.trials()]
    assert back == [(t.config, t.fidelity, t.metrics, t.status) for t in study.trials()]
    assert report.skipped == (
        "trials.csv: the columns number, continue_from, cost_fte, error say how each trial ran where it came from "
        "and are not imported (an imported trial gets a new number and costs 0 FTE)",
    )
