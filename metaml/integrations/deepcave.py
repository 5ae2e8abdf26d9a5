"""A study in DeepCAVE's own run format, so that DeepCAVE opens it as one of its runs.

``export_deepcave(study, directory)`` writes the five files of a DeepCAVE run:

- ``configspace.json``: the search space as a ConfigSpace space (ranges, log scales, the
  choices of each categorical with their defaults, constants, and the conditions of nested
  choices); the fidelity is not a parameter there but the budget of each trial;
- ``configs.json``: each distinct configuration once, by its id (a promoted trial keeps the
  id of the configuration it continues, so DeepCAVE sees one configuration at several budgets);
- ``origins.json``: per configuration, why the optimizer proposed it (its decision log);
- ``meta.json``: the objectives (name, observed bounds, ``lower`` or ``upper`` is better), the
  budgets (the fidelities trained to), the seeds, and the study's name, identity and optimizer;
- ``history.jsonl``: one line per finished trial, ``[config_id, budget, seed, costs,
  cpu_time, start_time, end_time, status, additional]``: the costs are the objectives' values
  in the study's order, the times are seconds since the study's first trial, the status is
  DeepCAVE's (1 success, 4 crashed, 5 aborted: a lost trial, 8 pruned: stopped early by the
  scheduler), and ``additional`` holds the trial's number, what it continued, its cost in FTE,
  its other metrics and, for a failure, its error.

It reads only the store; exporting again overwrites those five files and nothing else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metaml.core.records import TrialRecord, TrialStatus
from metaml.integrations.base import IntegrationError, StudySnapshot, finite_metrics, require, writable_directory
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

if TYPE_CHECKING:
    from metaml.study import Study

FEATURE = "metaml export --format deepcave"
FILES = ("configspace.json", "configs.json", "origins.json", "meta.json", "history.jsonl")
#: DeepCAVE's trial statuses (deepcave.runs.status.Status).
SUCCESS, CRASHED, ABORTED, PRUNED = 1, 4, 5, 8
STATUS = {TrialStatus.COMPLETED: SUCCESS, TrialStatus.FAILED: CRASHED, TrialStatus.LOST: ABORTED, TrialStatus.PRUNED: PRUNED}
#: The seed of every trial: a metaml trial has none of its own (DeepCAVE's recorder writes -1 the same way).
NO_SEED = -1


@dataclass(frozen=True)
class DeepCaveSummary:
    """What ``export_deepcave`` wrote: the run's folder, its files, and how many configurations and trials."""

    directory: Path
    files: tuple[Path, ...]
    configs: int
    trials: int
    budgets: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "files": [str(p) for p in self.files], "configs": self.configs,
                "trials": self.trials, "budgets": list(self.budgets)}  # fmt: skip


def export_deepcave(study: Study, directory: str | Path) -> DeepCaveSummary:
    """Write ``study`` as a DeepCAVE run into ``directory``; return what was written."""
    configspace = _configspace(study.space)
    folder = writable_directory(directory, "DIR")
    snapshot = StudySnapshot.read(study)
    names = set(configspace.keys())

    configs: dict[int, dict[str, Any]] = {}
    origins: dict[int, str] = {}
    ids: dict[str, int] = {}
    rows: list[list[Any]] = []
    for trial in sorted(snapshot.finished, key=lambda t: t.number):
        config = _config(trial.config, names, study.space)
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in ids:
            ids[key] = len(configs)
            configs[ids[key]] = config
            origins[ids[key]] = snapshot.origin(trial)
        rows.append(_row(ids[key], trial, snapshot))

    budgets = sorted({row[1] for row in rows})
    meta = {
        "objectives": _objectives(snapshot, rows),
        "budgets": budgets,
        "seeds": [NO_SEED] if rows else [],
        "name": study.name,
        "metaml_study_uid": study.uid,
        "optimizer": study.optimizer.name,
        "fidelity": study.space.fidelity_name,
    }
    paths = [folder / name for name in FILES]
    try:
        configspace.to_json(paths[0])
        paths[1].write_text(json.dumps({str(k): v for k, v in configs.items()}, indent=2, default=str))
        paths[2].write_text(json.dumps({str(k): v for k, v in origins.items()}, indent=2))
        paths[3].write_text(json.dumps(meta, indent=2, default=str))
        paths[4].write_text("".join(json.dumps(row, default=str) + "\n" for row in rows))
    except OSError as exc:
        raise IntegrationError(f"DIR {folder}: writing the DeepCAVE run failed ({exc.strerror or exc})") from None
    return DeepCaveSummary(folder, tuple(paths), len(configs), len(rows), tuple(budgets))


def _row(config_id: int, trial: TrialRecord, snapshot: StudySnapshot) -> list[Any]:
    """One line of history.jsonl, in DeepCAVE's order."""
    metrics = finite_metrics(trial.metrics)
    ok = trial.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED)
    costs = [metrics.get(o.name) if ok else None for o in snapshot.objectives]
    start = (trial.started_at or trial.created_at or snapshot.created_at) - snapshot.created_at
    end = (trial.ended_at or trial.started_at or snapshot.created_at) - snapshot.created_at
    additional: dict[str, Any] = {
        "trial": trial.number,
        "continue_from": trial.continue_from,
        "cost_fte": trial.cost_fte,
        "end_step": trial.end_step,
        "metaml_status": trial.status.value,
        "metrics": {k: v for k, v in metrics.items() if k not in {o.name for o in snapshot.objectives}},
    }
    if trial.error:
        additional["traceback"] = trial.traceback or trial.error
    return [config_id, _budget(trial), NO_SEED, costs, 0.0, round(start, 2), round(end, 2),
            STATUS.get(trial.status, CRASHED), additional]  # fmt: skip


def _budget(trial: TrialRecord) -> float | int:
    """The fidelity a trial trained to (a study without one: every trial is a full run, budget 1)."""
    value = trial.fidelity if trial.fidelity is not None else 1
    return int(value) if float(value).is_integer() else float(value)


def _objectives(snapshot: StudySnapshot, rows: list[list[Any]]) -> list[dict[str, Any]]:
    """DeepCAVE's objectives: the bounds seen among the successful trials, unlocked (DeepCAVE widens them)."""
    out = []
    for i, objective in enumerate(snapshot.objectives):
        seen = [row[3][i] for row in rows if row[7] == SUCCESS and row[3][i] is not None]
        out.append({
            "name": objective.name, "lower": min(seen) if seen else None, "upper": max(seen) if seen else None,
            "lock_lower": False, "lock_upper": False, "optimize": "lower" if objective.goal == "min" else "upper",
        })  # fmt: skip
    return out


def _config(config: Mapping[str, Any], names: set[str], space: Space) -> dict[str, Any]:
    """A trial's configuration as DeepCAVE keys it: the parameters of the space, each value as ConfigSpace holds it."""
    out = {}
    for name, value in config.items():
        if name not in names:
            continue
        param = space.parameters.get(name)
        out[name] = _item(value) if isinstance(param, (Categorical, Constant)) else value
    return out


def _item(value: Any) -> Any:
    """A choice as a ConfigSpace item: numbers, text and booleans as they are, anything else as text."""
    if isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return str(value)


def _configspace(space: Space) -> Any:
    """The study's space as a ConfigSpace ``ConfigurationSpace``, with its conditions; the fidelity left out."""
    cs = require("ConfigSpace", "deepcave", FEATURE)
    params: dict[str, Any] = {}
    for name in space.order:
        param = space.parameters[name]
        if isinstance(param, Fidelity):
            continue
        if isinstance(param, Categorical):
            items = [_item(c) for c in param.choices]
            params[name] = cs.Categorical(name, items, default=_item(param.default()))
        elif isinstance(param, Constant):
            params[name] = cs.Constant(name, _item(param.value))
        elif isinstance(param, Int):
            params[name] = cs.Integer(name, (int(param.lower), int(param.upper)), log=param.log, default=int(param.default()))
        elif isinstance(param, Float):
            params[name] = cs.Float(name, (float(param.lower), float(param.upper)), log=param.log, default=float(param.default()))
        else:
            raise IntegrationError(f"{FEATURE}: the parameter {name!r} ({type(param).__name__}) has no ConfigSpace form")
    configspace = cs.ConfigurationSpace()
    configspace.add(list(params.values()))
    conditions = []
    for name in params:
        parts = []
        for parent, values in space.conditions.get(name, {}).items():
            if parent not in params or isinstance(space.parameters[parent], Constant):
                continue  # a constant parent always holds its one value: nothing to condition on
            vals = [_item(v) for v in values]
            parts.append(cs.EqualsCondition(params[name], params[parent], vals[0]) if len(vals) == 1
                         else cs.InCondition(params[name], params[parent], vals))  # fmt: skip
        if parts:
            conditions.append(parts[0] if len(parts) == 1 else cs.AndConjunction(*parts))
    if conditions:
        configspace.add(conditions)
    return configspace
