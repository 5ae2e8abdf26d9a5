"""A study as TensorBoard event files: every trial's learning curve, its hyperparameters (HParams) and the front.

``write_tensorboard(study, logdir)`` writes into ``logdir/<study name>/``:

- one run per trial that ran, ``trial-00007``: its learning curve as scalars ``curve/<metric>``
  (one point per reported step, at the time it was reported), its final metrics as
  ``final/<metric>`` (at its fidelity), and its configuration as an HParams session, with
  ``metaml/status``, ``metaml/fidelity``, ``metaml/continue_from`` and ``metaml/on_front``
  beside the searched parameters (so the HParams table filters on the front);
- the HParams experiment (every parameter, with the choices of each categorical, and every
  final metric) and a text summary of the study in the study's own folder;
- a run ``front`` whose text is the Pareto front as a table.

It reads only the store, so it works on running studies too; writing again replaces the
event files it wrote before (they end in ``.metaml``) and leaves any other file alone.
``tensorboard --logdir LOGDIR/<study name>`` shows one study, ``--logdir LOGDIR`` all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from metaml.core.records import TrialRecord, TrialStatus
from metaml.integrations.base import (
    IntegrationError,
    StudySnapshot,
    ensure_inside,
    finite_metrics,
    integer_step,
    plain,
    require,
    run_name,
    writable_directory,
)
from metaml.space import Categorical, Constant, Fidelity

if TYPE_CHECKING:
    from metaml.study import Study

FEATURE = "metaml tensorboard"
#: The end of every event file metaml writes: what a second run replaces, and nothing else.
SUFFIX = ".metaml"
FRONT_RUN = "front"


@dataclass(frozen=True)
class TensorBoardSummary:
    """What ``write_tensorboard`` wrote: the study's folder, the runs in it, the curves' scalars, and the front."""

    directory: Path
    runs: tuple[str, ...]
    scalars: int
    front: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"logdir": str(self.directory), "runs": list(self.runs), "scalars": self.scalars, "front": list(self.front)}


def write_tensorboard(study: Study, logdir: str | Path) -> TensorBoardSummary:
    """Write the study's curves, hyperparameters and front as TensorBoard event files under ``logdir/<name>``."""
    writer_module = require("torch.utils.tensorboard", "tensorboard", FEATURE)
    _protos()
    root = writable_directory(logdir, "--logdir")
    folder = ensure_inside(root / study.name, root)
    snapshot = StudySnapshot.read(study)
    hparams = _HParams.of(study, snapshot)
    _clear(folder)
    SummaryWriter = writer_module.SummaryWriter

    runs, scalars = [], 0
    try:
        with SummaryWriter(log_dir=str(folder), filename_suffix=SUFFIX) as top:
            top.file_writer.add_summary(hparams.experiment())
            top.add_text("study", _study_text(study, snapshot))
        for trial in snapshot.started:
            name = run_name(trial)
            with SummaryWriter(log_dir=str(folder / name), filename_suffix=SUFFIX) as w:
                scalars += _write_trial(w, trial, snapshot, hparams)
            runs.append(name)
        with SummaryWriter(log_dir=str(folder / FRONT_RUN), filename_suffix=SUFFIX) as w:
            w.add_text("front", _front_text(snapshot))
        runs.append(FRONT_RUN)
    except OSError as exc:
        raise IntegrationError(f"--logdir {root}: writing the event files failed ({exc.strerror or exc})") from None
    return TensorBoardSummary(folder, tuple(runs), scalars, tuple(sorted(snapshot.front)))


def _write_trial(writer: Any, trial: TrialRecord, snapshot: StudySnapshot, hparams: _HParams) -> int:
    """One trial's run: its curve, final metrics and HParams session; return the curve's scalars written."""
    points = 0
    for point in snapshot.curves.get(trial.number, ()):
        step = integer_step(point.step)
        for key, value in finite_metrics(point.metrics).items():
            writer.add_scalar(f"curve/{key}", value, step, walltime=point.time)
            points += 1
    end = trial.end_step if trial.end_step is not None else trial.fidelity
    for key, value in finite_metrics(trial.metrics).items():
        writer.add_scalar(f"final/{key}", value, integer_step(end or 0), walltime=trial.ended_at)
    writer.file_writer.add_summary(hparams.session_start(trial, snapshot))
    if trial.status.finished:
        writer.file_writer.add_summary(hparams.session_end(trial))
    return points


def _clear(folder: Path) -> None:
    """Remove the event files an earlier write left (ours only: they end in SUFFIX)."""
    if not folder.exists():
        return
    for path in folder.rglob(f"events.out.tfevents.*{SUFFIX}"):
        try:
            path.unlink()
        except OSError as exc:
            raise IntegrationError(f"cannot replace {path} ({exc.strerror or exc})") from None


class _HParams:
    """The HParams plugin's records for one study: the experiment, and one session per trial."""

    def __init__(self, kinds: Mapping[str, str], domains: Mapping[str, list[Any]], metrics: Sequence[str]) -> None:
        self.kinds = dict(kinds)  # name -> "string" | "number" | "bool"
        self.domains = dict(domains)
        self.metrics = list(metrics)

    @classmethod
    def of(cls, study: Study, snapshot: StudySnapshot) -> _HParams:
        kinds: dict[str, str] = {}
        domains: dict[str, list[Any]] = {}
        for name in study.space.order:
            param = study.space.parameters[name]
            if isinstance(param, Fidelity):
                continue
            values = list(param.choices) if isinstance(param, Categorical) else (
                [param.value] if isinstance(param, Constant) else None
            )
            if values is None:
                kinds[name] = "number"
                continue
            kind = _kind_of(values)
            kinds[name] = kind
            domains[name] = [_as(kind, v) for v in values]
        kinds.update({"metaml/status": "string", "metaml/fidelity": "number", "metaml/continue_from": "string",
                      "metaml/on_front": "bool"})  # fmt: skip
        domains["metaml/status"] = [s.value for s in TrialStatus]
        domains["metaml/on_front"] = [False, True]
        tags: list[str] = []
        for trial in snapshot.trials:
            tags += [f"final/{k}" for k in finite_metrics(trial.metrics) if f"final/{k}" not in tags]
        first = [f"final/{o.name}" for o in snapshot.objectives if f"final/{o.name}" in tags]
        metrics = first + [t for t in tags if t not in first]  # the objectives first, then the other metrics
        return cls(kinds, domains, metrics)

    def values(self, trial: TrialRecord, snapshot: StudySnapshot) -> dict[str, Any]:
        out = {name: _as(self.kinds.get(name, "string"), value) for name, value in trial.config.items()}
        out["metaml/status"] = trial.status.value
        out["metaml/fidelity"] = float(trial.fidelity) if trial.fidelity is not None else 0.0
        out["metaml/continue_from"] = _continued(trial.continue_from)
        out["metaml/on_front"] = trial.number in snapshot.front
        return out

    def experiment(self) -> Any:
        api = _protos().api
        infos = []
        for name, kind in self.kinds.items():
            info = api.HParamInfo(name=name, type=api.DataType.Value(_DATA_TYPES[kind]))
            if name in self.domains:
                info.domain_discrete.extend(self.domains[name])
            infos.append(info)
        experiment = api.Experiment(
            hparam_infos=infos, metric_infos=[api.MetricInfo(name=api.MetricName(tag=m)) for m in self.metrics]
        )
        return _plugin_summary("experiment", experiment)

    def session_start(self, trial: TrialRecord, snapshot: StudySnapshot) -> Any:
        info = _protos().data.SessionStartInfo(group_name=run_name(trial), start_time_secs=trial.started_at or 0.0)
        for name, value in self.values(trial, snapshot).items():
            if isinstance(value, bool):
                info.hparams[name].bool_value = value
            elif isinstance(value, (int, float)):
                info.hparams[name].number_value = float(value)
            else:
                info.hparams[name].string_value = str(value)
        return _plugin_summary("session_start_info", info)

    def session_end(self, trial: TrialRecord) -> Any:
        api, data = _protos().api, _protos().data
        status = "STATUS_SUCCESS" if trial.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED) else "STATUS_FAILURE"
        info = data.SessionEndInfo(status=api.Status.Value(status), end_time_secs=trial.ended_at or 0.0)
        return _plugin_summary("session_end_info", info)


_DATA_TYPES = {"string": "DATA_TYPE_STRING", "number": "DATA_TYPE_FLOAT64", "bool": "DATA_TYPE_BOOL"}


def _kind_of(values: Sequence[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def _as(kind: str, value: Any) -> Any:
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return str(plain(value)) if kind == "string" else plain(value)


def _continued(number: int | None) -> str:
    return "-" if number is None else f"trial-{number:05d}"


@cache
def _protos() -> SimpleNamespace:
    """TensorBoard's HParams protocol buffers (no TensorFlow needed), or the error that names the extra."""
    return SimpleNamespace(
        api=require("tensorboard.plugins.hparams.api_pb2", "tensorboard", FEATURE),
        data=require("tensorboard.plugins.hparams.plugin_data_pb2", "tensorboard", FEATURE),
        meta=require("tensorboard.plugins.hparams.metadata", "tensorboard", FEATURE),
        summary=require("tensorboard.compat.proto.summary_pb2", "tensorboard", FEATURE),
    )


def _plugin_summary(field: str, message: Any) -> Any:
    """One HParams plugin record (experiment, session start or end) as a Summary for the event file."""
    meta, data, summary_pb2 = _protos().meta, _protos().data, _protos().summary
    content = data.HParamsPluginData(version=meta.PLUGIN_DATA_VERSION)
    getattr(content, field).CopyFrom(message)
    tag = {"experiment": meta.EXPERIMENT_TAG, "session_start_info": meta.SESSION_START_INFO_TAG,
           "session_end_info": meta.SESSION_END_INFO_TAG}[field]  # fmt: skip
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=meta.PLUGIN_NAME, content=content.SerializeToString())
    )
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata)])


def _study_text(study: Study, snapshot: StudySnapshot) -> str:
    objectives = ", ".join(f"{o.name} ({o.goal})" for o in snapshot.objectives)
    counts: dict[str, int] = {}
    for t in snapshot.trials:
        counts[t.status.value] = counts.get(t.status.value, 0) + 1
    return (
        f"**{study.name}**: optimizer {study.optimizer.name}, objectives {objectives}; "
        f"{len(snapshot.trials)} trials ({json.dumps(counts)}), {sum(t.cost_fte for t in snapshot.trials):.3g} FTE spent"
    )


def _front_text(snapshot: StudySnapshot) -> str:
    """The front as a Markdown table (TensorBoard's text dashboard renders it)."""
    names = [o.name for o in snapshot.objectives]
    rows = [f"| trial | {' | '.join(names)} | config |", "|" + "---|" * (len(names) + 2)]
    for trial in sorted((t for t in snapshot.trials if t.number in snapshot.front), key=lambda t: t.number):
        values = " | ".join(f"{(trial.metrics or {}).get(n, float('nan')):.6g}" for n in names)
        config = ", ".join(f"{k}={plain(v)}" for k, v in trial.config.items())
        rows.append(f"| {trial.number} | {values} | {config.replace('|', '/')} |")
    if len(rows) == 2:
        return "The front is empty: no completed full-fidelity trial respects every limit yet."
    return "\n".join(rows)
