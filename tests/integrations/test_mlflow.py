"""``metaml mlflow``: each trial becomes an MLflow run, read back with MLflow's own client; a second run adds only news."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from metaml import Float, Objective, Space, Study, TrialStatus  # noqa: E402
from tests.e2e.conftest import run_cli  # noqa: E402
from tests.integrations.conftest import TinyStudy  # noqa: E402


def _client(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its folder store behind this switch
    return MlflowClient(tracking_uri=folder.resolve().as_uri())


def _runs(client: Any, experiment: str) -> dict[int, Any]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r}"
    return {int(r.data.tags["metaml.trial"]): r for r in client.search_runs([found.experiment_id], max_results=1000)}


def test_each_trial_is_a_run_with_params_metrics_per_step_and_tags(
    tiny: TinyStudy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"file:{tmp_path / 'mlruns'}"
    result = run_cli(["mlflow", str(tiny.study_file), "--tracking-uri", uri, "--json"], tiny.folder, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    trials = tiny.study.trials()
    assert out["created"] == len(trials) and out["experiment"] == "tiny"

    client = _client(tmp_path / "mlruns", monkeypatch)
    runs = _runs(client, "tiny")
    assert set(runs) == {t.number for t in trials}
    front = {t.number for t in tiny.study.pareto_front()}
    observations = tiny.study.observations()
    expected = {TrialStatus.COMPLETED: "FINISHED", TrialStatus.FAILED: "FAILED", TrialStatus.PRUNED: "KILLED"}
    for trial in trials:
        run = runs[trial.number]
        assert run.info.run_name == f"trial-{trial.number:05d}" and run.info.status == expected[trial.status]
        assert {k: v for k, v in run.data.params.items() if k != "metaml.fidelity"} == {
            k: str(v) for k, v in trial.config.items()
        }
        assert float(run.data.params["metaml.fidelity"]) == trial.fidelity
        tags = run.data.tags
        assert tags["metaml.status"] == trial.status.value and tags["metaml.study_uid"] == tiny.study.uid
        assert tags["metaml.on_front"] == str(trial.number in front)
        assert ("metaml.error" in tags) == (trial.status is TrialStatus.FAILED)
        if trial.continue_from is not None:
            assert tags["metaml.continue_from"] == str(trial.continue_from)
            assert tags["mlflow.parentRunId"] == runs[trial.continue_from].info.run_id  # nested under its parent
        curve = [(int(o.step), o.metrics["loss"]) for o in observations if o.trial_number == trial.number]
        history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")]
        if trial.status is TrialStatus.COMPLETED:
            assert run.data.metrics["size"] == trial.metrics["size"]
            end = (int(trial.fidelity), trial.metrics["loss"])
            assert history == curve + ([end] if end not in curve else [])
        else:
            assert history == curve


def test_a_second_sync_adds_nothing_and_a_running_trial_is_completed_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metaml.integrations.mlflow import log_to_mlflow

    study = Study.create("live", Space({"x": Float(0.0, 1.0)}), [Objective("loss")], store=tmp_path / "s.db")
    trial = study.ask()
    assert trial is not None
    trial.report(1, loss=0.5)
    trial.report(2, loss=0.4)
    uri = f"file:{tmp_path / 'mlruns'}"
    first = log_to_mlflow(study, uri)
    assert (first.created, first.points) == (1, 2)
    client = _client(tmp_path / "mlruns", monkeypatch)
    (run,) = _runs(client, "live").values()
    assert run.info.status == "RUNNING" and run.data.tags["metaml.status"] == "running"

    again = log_to_mlflow(study, uri)
    assert (again.created, again.updated, again.points) == (0, 0, 0)
    trial.report(3, loss=0.3)
    study.tell(trial, {"loss": 0.3})
    last = log_to_mlflow(study, uri)
    assert (last.created, last.updated, last.points) == (0, 1, 1)
    (run,) = _runs(client, "live").values()
    assert run.info.status == "FINISHED"
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")] == [(1, 0.5), (2, 0.4), (3, 0.3)]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("uri", ["ftp://example.invalid/mlruns", "databricks", "http://127.0.0.1:{port}"])
def test_a_tracking_uri_that_is_neither_local_nor_a_live_server_is_one_line(tiny: TinyStudy, uri: str) -> None:
    from typer.testing import CliRunner

    from metaml.cli import app

    result = CliRunner().invoke(app, ["mlflow", str(tiny.study_file), "--tracking-uri", uri.format(port=_closed_port())])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --tracking-uri")
