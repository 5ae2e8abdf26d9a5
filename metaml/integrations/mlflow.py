"""Each trial of a study as an MLflow run: its configuration as params, its curve as metrics per step, tags for the rest.

``log_to_mlflow(study, tracking_uri)`` writes into the experiment named after the study
(or ``experiment``), one run per trial that ran, named ``trial-00007``:

- params: the trial's configuration, and ``metaml.fidelity``;
- metrics: every point of its learning curve at its step and time, then the metrics it
  returned (at the step it ended);
- tags: ``metaml.study``, ``metaml.study_uid``, ``metaml.trial``, ``metaml.status``,
  ``metaml.reason`` (why it was proposed), ``metaml.cost_fte``, ``metaml.on_front``,
  ``metaml.error`` for a failure, and for a promotion ``metaml.continue_from`` plus
  ``mlflow.parentRunId``, so that MLflow's UI nests a promoted run under the run it continues;
- the run's status: RUNNING while the trial runs, then FINISHED (completed), KILLED (stopped
  early by the scheduler) or FAILED (failed or lost).

It reads only the store, so it works on running studies too; running it again finds the runs
it made before (by the study's identity and the trial's number) and adds only what is new.
``tracking_uri`` is a local folder (``file:DIR``, or a bare path), a SQLite database
(``sqlite:///PATH``) or an MLflow server (``http://host:5000``).
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from metaml.core.records import TrialRecord, TrialStatus
from metaml.integrations.base import (
    IntegrationError,
    StudySnapshot,
    finite_metrics,
    integer_step,
    plain,
    require,
    run_name,
    writable_directory,
)

if TYPE_CHECKING:
    from metaml.study import Study

FEATURE = "metaml mlflow"
#: MLflow's limits for one log_batch call.
BATCH_METRICS, BATCH_PARAMS, BATCH_TAGS = 1000, 100, 100
#: How long a server gets to answer the reachability check.
PROBE_SECONDS = 5.0
STATUSES = {
    TrialStatus.COMPLETED: "FINISHED",
    TrialStatus.PRUNED: "KILLED",
    TrialStatus.FAILED: "FAILED",
    TrialStatus.LOST: "FAILED",
}


@dataclass(frozen=True)
class MlflowSummary:
    """What ``log_to_mlflow`` did: where, which experiment, and how many runs and points it added."""

    tracking_uri: str
    experiment: str
    experiment_id: str
    created: int
    updated: int
    points: int
    runs: dict[int, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri, "experiment": self.experiment, "experiment_id": self.experiment_id,
            "created": self.created, "updated": self.updated, "points": self.points,
            "runs": {str(k): v for k, v in self.runs.items()},
        }  # fmt: skip


def log_to_mlflow(study: Study, tracking_uri: str, experiment: str | None = None) -> MlflowSummary:
    """Log every trial of ``study`` that ran as an MLflow run under ``tracking_uri``; return what was added."""
    uri, local_files = check_tracking_uri(tracking_uri)
    require("mlflow", "mlflow", FEATURE)
    client_module = require("mlflow.tracking", "mlflow", FEATURE)
    exceptions = require("mlflow.exceptions", "mlflow", FEATURE)
    snapshot = StudySnapshot.read(study)
    name = experiment or study.name
    try:
        with _file_store_allowed(local_files):
            client = client_module.MlflowClient(tracking_uri=uri)
            return _Sync(client, snapshot, uri, name).run()
    except exceptions.MlflowException as exc:
        first = str(exc.message if hasattr(exc, "message") else exc).strip().splitlines()[0]
        raise IntegrationError(f"--tracking-uri {tracking_uri}: MLflow refused the study: {first}") from None


def check_tracking_uri(tracking_uri: str) -> tuple[str, bool]:
    """The URI MLflow gets, and whether it is a local folder; a URI that is neither local nor a live server is refused."""
    text = tracking_uri.strip()
    parsed = urlparse(text)
    if text.split(":", 1)[0] in ("databricks", "databricks-uc", "uc"):
        parsed = parsed._replace(scheme="databricks")  # MLflow's hosted stores: neither a folder nor a server of ours
    if parsed.scheme in ("", "file"):
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise IntegrationError(f"--tracking-uri {tracking_uri}: a file: URI names a local folder (file:DIR), not a host")
        path = parsed.path if parsed.scheme == "file" else text
        if not path:
            raise IntegrationError("--tracking-uri: name a folder, e.g. file:mlruns")
        folder = writable_directory(path, "--tracking-uri").resolve()
        return folder.as_uri(), True
    if parsed.scheme == "sqlite":
        database = Path(text[len("sqlite:///") :]) if text.startswith("sqlite:///") else None
        if database is None or not database.name:
            raise IntegrationError(f"--tracking-uri {tracking_uri}: write a SQLite database as sqlite:///PATH/mlflow.db")
        writable_directory(database.parent if str(database.parent) else Path("."), "--tracking-uri")
        return text, False
    if parsed.scheme in ("http", "https"):
        _probe(text)
        return text.rstrip("/"), False
    raise IntegrationError(
        f"--tracking-uri {tracking_uri}: give a local folder (file:DIR), a SQLite database (sqlite:///PATH) "
        "or an MLflow server (http://HOST:PORT)"
    )


def _probe(uri: str) -> None:
    """Refuse a server that does not answer MLflow's health check within a few seconds."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_SECONDS) as response:  # noqa: S310 (http and https only)
            if response.status >= 400:
                raise IntegrationError(f"--tracking-uri {uri}: the server answered {response.status} to {url}")
    except urllib.error.HTTPError as exc:
        raise IntegrationError(f"--tracking-uri {uri}: the server answered {exc.code} to {url}; is it an MLflow server?") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise IntegrationError(f"--tracking-uri {uri}: no MLflow server answers there ({reason})") from None


@contextlib.contextmanager
def _file_store_allowed(local_files: bool) -> Iterator[None]:
    """MLflow 3 keeps its folder store in maintenance mode behind MLFLOW_ALLOW_FILE_STORE; file:DIR asks for it."""
    key = "MLFLOW_ALLOW_FILE_STORE"
    before = os.environ.get(key)
    if local_files and before is None:
        os.environ[key] = "true"
    try:
        yield
    finally:
        if local_files and before is None:
            os.environ.pop(key, None)


class _Sync:
    """One pass that brings an MLflow experiment up to date with a study."""

    def __init__(self, client: Any, snapshot: StudySnapshot, uri: str, experiment: str) -> None:
        self.client = client
        self.snapshot = snapshot
        self.uri = uri
        self.experiment = experiment
        self.entities = require("mlflow.entities", "mlflow", FEATURE)
        self.identity = snapshot.uid or snapshot.name

    def run(self) -> MlflowSummary:
        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found is not None else self.client.create_experiment(
            self.experiment, tags={"metaml.study": self.snapshot.name, "metaml.study_uid": self.identity}
        )
        existing = self._existing(experiment_id)
        runs: dict[int, str] = {}
        created = updated = points = 0
        for trial in sorted(self.snapshot.started, key=lambda t: t.number):
            run = existing.get(trial.number)
            if run is None:
                run = self._create(experiment_id, trial, runs)
                created += 1
            elif self._stale(run, trial):
                updated += 1
            runs[trial.number] = run.info.run_id
            points += self._update(run, trial)
        return MlflowSummary(self.uri, self.experiment, str(experiment_id), created, updated, points, runs)

    def _stale(self, run: Any, trial: TrialRecord) -> bool:
        """Whether an existing run lacks something the store now has (points, the end, a front membership)."""
        tags = run.data.tags
        return (
            tags.get("metaml.points") != str(len(self.snapshot.curves.get(trial.number, ())))
            or tags.get("metaml.status") != trial.status.value
            or tags.get("metaml.on_front") != str(trial.number in self.snapshot.front)
        )

    def _existing(self, experiment_id: str) -> dict[int, Any]:
        """The runs this study's earlier syncs made, by trial number."""
        out: dict[int, Any] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id], filter_string=f"tags.`metaml.study_uid` = '{self.identity}'",
                max_results=1000, page_token=token,
            )  # fmt: skip
            for run in page:
                number = run.data.tags.get("metaml.trial")
                if number is not None and number.isdigit():
                    out[int(number)] = run
            token = getattr(page, "token", None)
            if not token:
                return out

    def _create(self, experiment_id: str, trial: TrialRecord, runs: dict[int, str]) -> Any:
        tags = {"metaml.study": self.snapshot.name, "metaml.study_uid": self.identity, "metaml.trial": str(trial.number),
                "metaml.reason": self.snapshot.origin(trial)[:5000], "metaml.points": "0"}  # fmt: skip
        if trial.continue_from is not None:
            tags["metaml.continue_from"] = str(trial.continue_from)
            if trial.continue_from in runs:
                tags["mlflow.parentRunId"] = runs[trial.continue_from]
        run = self.client.create_run(
            experiment_id, start_time=_ms(trial.started_at or trial.created_at), tags=tags, run_name=run_name(trial)
        )
        params = {name: str(plain(value))[:6000] for name, value in trial.config.items()}
        if trial.fidelity is not None:
            params["metaml.fidelity"] = f"{trial.fidelity:g}"
        items = [self.entities.Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), BATCH_PARAMS):
            self.client.log_batch(run.info.run_id, params=items[i : i + BATCH_PARAMS])
        return run

    def _update(self, run: Any, trial: TrialRecord) -> int:
        """Log the curve points the run lacks, then the final metrics, tags and status; return the points added."""
        run_id = run.info.run_id
        done = int(run.data.tags.get("metaml.points", "0") or 0)
        curve = self.snapshot.curves.get(trial.number, ())
        metric = self.entities.Metric
        metrics = [metric(k, v, _ms(p.time), integer_step(p.step)) for p in curve[done:] for k, v in finite_metrics(p.metrics).items()]
        finished = trial.status.finished
        final_logged = run.data.tags.get("metaml.final") == "1"
        if finished and not final_logged:
            end = trial.end_step if trial.end_step is not None else (trial.fidelity or 0)
            last = finite_metrics(curve[-1].metrics) if curve and curve[-1].step == end else {}
            metrics += [metric(k, v, _ms(trial.ended_at), integer_step(end)) for k, v in finite_metrics(trial.metrics).items()
                        if last.get(k) != v]  # fmt: skip
        for i in range(0, len(metrics), BATCH_METRICS):
            self.client.log_batch(run_id, metrics=metrics[i : i + BATCH_METRICS])
        tags = {"metaml.status": trial.status.value, "metaml.points": str(len(curve)),
                "metaml.cost_fte": f"{trial.cost_fte:.6g}", "metaml.on_front": str(trial.number in self.snapshot.front),
                "metaml.final": "1" if finished else "0"}  # fmt: skip
        if trial.error:
            tags["metaml.error"] = trial.error[:5000]
        changed = {k: v for k, v in tags.items() if run.data.tags.get(k) != v}
        if changed:
            self.client.log_batch(run_id, tags=[self.entities.RunTag(k, v) for k, v in changed.items()])
        status = STATUSES.get(trial.status)
        if status is not None and run.info.status != status:
            self.client.set_terminated(run_id, status, end_time=_ms(trial.ended_at))
        return len(curve) - min(done, len(curve))


def _ms(seconds: float | None) -> int:
    return int((seconds if seconds is not None else time.time()) * 1000)
