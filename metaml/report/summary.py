"""Everything the report shows, gathered from the store alone, as plain data.

``gather`` reads a study once (trials, learning curves, events) and computes the numbers
that both the HTML report and ``metaml report --json`` show, so the two never disagree.
It works for a study that is still running or has no completed trial yet: each part then
says what is missing instead of failing.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from metaml.budget import Budget, parse_budget
from metaml.core.interventions import Intervention
from metaml.core.records import Event, Observation, TrialRecord, TrialStatus
from metaml.errors import MetamlError
from metaml.final_evaluation import stored_evaluation
from metaml.objectives import Reference, hypervolume, to_loss_matrix
from metaml.optimizers.steering import single_objective_warning
from metaml.report.ablation import AblationPath, ablation_path, same_config
from metaml.report.caveats import Caveat, front_caveats
from metaml.report.importance import MIN_TRIALS, Importance, Surrogate, fit_surrogate, importance, training_data
from metaml.report.provenance import provenance, reproduce_snippet
from metaml.report.transfer import warm_start_summary
from metaml.study import Study

#: Why a user would pick each built-in optimizer, in plain words.
OPTIMIZER_WHY = {
    "random": "makes no assumption about the problem and is the baseline every other method must beat",
    "successive_halving": "trains many configurations briefly and continues only the best, so poor ones cost little",
    "hyperband": "runs successive halving at several aggressiveness levels, hedging against misleading short runs",
    "asha": "promotes the best configurations as soon as results arrive, so many workers never wait for each other",
    "priorband": "combines Hyperband's cheap short runs with the expert priors given in the space",
    "bo": "learns a model of how the configuration drives the objectives and spends each trial where it expects the most improvement",
    "bohb": "runs Hyperband's cheap short runs, but draws new configurations from a model fitted on the highest rung with enough results",
    "moasha": "ranks each rung by Pareto dominance (and hypervolume contribution), so that several objectives are served while workers never wait",
    "mohb": "ranks each rung of Hyperband by Pareto dominance (and hypervolume contribution), so that several objectives are served",
}


@dataclass(frozen=True)
class FailureGroup:
    """Failed or lost trials that share one reason (numbers and addresses blanked out)."""

    reason: str
    count: int
    trials: list[int]
    example: str
    traceback: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "trials": self.trials, "example": self.example}


@dataclass
class ReportData:
    """The report's content, as numbers and records (``to_json`` gives the machine-readable part)."""

    study: Study
    generated_at: float
    trials: list[TrialRecord]
    final: list[TrialRecord]  # completed at full fidelity with every objective
    front: list[TrialRecord]
    front_note: str | None
    counts: dict[str, int]
    fte: float
    budget: Budget | None
    wall_s: float | None
    compute_s: float
    optimizer: dict[str, Any]
    default: dict[str, Any]
    best: dict[str, TrialRecord | None]
    trajectory: list[dict[str, Any]]
    observations: list[Observation]
    surrogates: dict[str, Surrogate | None]
    importance: dict[str, Importance]
    ablation: AblationPath | None
    ablation_trial: TrialRecord | None
    ablation_note: str
    reference: Reference
    failures: list[FailureGroup]
    events: list[Event]
    provenance: dict[str, Any]
    reproduce: dict[int, str] = field(default_factory=dict)
    #: The front's test metrics, computed once after the search (``metaml.final_evaluation``): shown apart.
    test_set: dict[str, Any] = field(default_factory=dict)
    #: Where a front number cannot carry a decision (``metaml.report.caveats``).
    caveats: list[Caveat] = field(default_factory=list)
    #: The experts' interventions (pins, priors, ranges, limits, queued configurations, notes), oldest first.
    interventions: tuple[Intervention, ...] = ()

    def steered_after(self, intervention: Intervention) -> int:
        """How many trials were created after ``intervention``: the decisions it applied to."""
        return sum(1 for t in self.trials if t.created_at is not None and t.created_at > intervention.time)
    #: The earlier studies it was warm-started from and the transfer's weights over time (``report.transfer``).
    warm_start: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return bool(self.counts.get("running") or self.counts.get("pending"))

    def to_json(self) -> dict[str, Any]:
        s = self.study
        names = [o.name for o in s.objectives]
        return {
            "study": s.name,
            "description": s.record.metadata.description or "",
            "store": s.store_url,
            "generated_at": self.generated_at,
            "still_running": self.running,
            "objectives": [o.to_dict() for o in s.objectives],
            "optimizer": self.optimizer,
            "trials": self.counts,
            "fte": self.fte,
            "budget": self.budget.to_dict() if self.budget else None,
            "wall_s": self.wall_s,
            "compute_s": self.compute_s,
            "front": [_trial_json(t, names) for t in self.front],
            "front_note": self.front_note,
            "reference_point": None if self.reference.point is None else list(self.reference.point),
            "reference_changes": [
                {"trial": c.trial, "before": None if c.before is None else list(c.before), "after": list(c.after),
                 "objectives": [names[j] for j in c.columns]} for c in self.reference.changes
            ],
            "test_set": self.test_set,
            "caveats": [c.to_dict() for c in self.caveats],
            "warm_start": self.warm_start,
            "best": {k: (None if t is None else _trial_json(t, names)) for k, t in self.best.items()},
            "default": self.default,
            "trajectory": self.trajectory,
            "importance": {k: v.to_dict() for k, v in self.importance.items()},
            "ablation": None if self.ablation is None else {
                **self.ablation.to_dict(), "trial": self.ablation_trial.number if self.ablation_trial else None
            },
            "ablation_note": self.ablation_note,
            "failures": [f.to_dict() for f in self.failures],
            "events": len(self.events),
            "interventions": [{**i.data(), "trial": i.trial, "time": i.time, "trials_after": self.steered_after(i)}
                              for i in self.interventions],
            "provenance": {k: v for k, v in self.provenance.items() if k != "study_yaml"},
        }


def _trial_json(t: TrialRecord, names: Sequence[str]) -> dict[str, Any]:
    return {
        "number": t.number,
        "metrics": {n: (t.metrics or {}).get(n) for n in names},
        "config": t.config,
        "fidelity": t.fidelity,
        "cost_fte": t.cost_fte,
        "intervals": {n: v for n, v in (t.details.get("intervals") or {}).items() if n in names},
        "fairness": t.details.get("fairness") or {},
    }


# ------------------------------------------------------------------ pieces
def trajectory(study: Study, trials: Sequence[TrialRecord], ref: Reference | None = None) -> list[dict[str, Any]]:
    """Best value (one objective) or hypervolume (several) after each finished trial, against cumulative FTE.

    The hypervolume is measured against the study's one reference (``Study.reference``), the
    same that ``study.hypervolume()`` and the progress line use: so the curve ends at the
    number they show, and every point of it is measured against the same point.
    """
    finished = sorted((t for t in trials if t.status.finished), key=lambda t: (t.ended_at or 0.0, t.number))
    final_ids = {t.number for t in study.results(finished).final}
    objs = study.objectives
    point = (ref if ref is not None else study.reference(trials)).array()
    points, seen, fte = [], [], 0.0
    for t in finished:
        fte += t.cost_fte
        if t.number in final_ids and study.feasible(t):
            seen.append(to_loss_matrix(objs, [t.metrics or {}])[0])
        value: float | None = None
        if seen:
            losses = np.array(seen)
            if len(objs) == 1:
                value = float(objs[0].sign * losses[:, 0].min())
            else:
                assert point is not None
                value = hypervolume(losses, point)
        own = (t.metrics or {}).get(objs[0].name) if t.status is TrialStatus.COMPLETED else None
        points.append({"trial": t.number, "fte": fte, "value": value, "trial_value": own, "fidelity": t.fidelity,
                       "status": t.status.value})
    return points


_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!x)")
_HEX = re.compile(r"0x[0-9a-fA-F]+")


def normalize_error(text: str) -> str:
    """An error message with what varies between trials (numbers, addresses) blanked out."""
    line = " ".join(str(text).split())
    line = _HEX.sub("0x…", line)
    line = _NUMBER.sub("N", line)
    return line[:300] + ("…" if len(line) > 300 else "")


def failures(trials: Sequence[TrialRecord]) -> list[FailureGroup]:
    """Failed and lost trials grouped by their normalized reason, largest group first."""
    groups: dict[str, list[TrialRecord]] = defaultdict(list)
    for t in trials:
        if t.status in (TrialStatus.FAILED, TrialStatus.LOST):
            groups[normalize_error(t.error or t.status.value)].append(t)
    out = [
        FailureGroup(reason, len(ts), [t.number for t in ts], ts[0].error or ts[0].status.value, _tail(ts[0].traceback))
        for reason, ts in groups.items()
    ]
    return sorted(out, key=lambda g: (-g.count, g.trials[0]))


def _tail(text: str | None, lines: int = 25) -> str | None:
    if not text:
        return None
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _budget(study: Study) -> Budget | None:
    """The budget the study ran with (``metaml run`` stores it, ``--budget`` included), else its file's."""
    ran = study.metadata.budget
    if isinstance(ran, dict) and ran:
        return parse_budget(ran)
    text = study.record.metadata.study_yaml
    if not isinstance(text, str):
        return None
    try:
        data = yaml.safe_load(text)
        return parse_budget(data["budget"]) if isinstance(data, dict) and data.get("budget") else None
    except (yaml.YAMLError, MetamlError, TypeError, KeyError):
        return None


def _optimizer(study: Study) -> dict[str, Any]:
    doc = (type(study.optimizer).__doc__ or "").strip().splitlines()
    name = study.optimizer.name
    return {
        "name": name,
        "settings": study.record.optimizer_settings,
        "what": doc[0] if doc else "",
        "why": _why(study),
        "warning": _steering_warning(study),
    }


def _steering_warning(study: Study) -> str | None:
    """The run banner's warning when only the first of several objectives steers the search (from the store alone)."""
    return single_objective_warning(study.optimizer)


def _why(study: Study) -> str:
    """Why this optimizer; for ``auto``, what it picked and why."""
    settings = study.record.optimizer_settings
    if study.optimizer.name == "auto" and settings.get("chosen"):
        chosen = str(settings["chosen"])
        return f"auto picked {chosen}: {settings.get('why', '')}. {chosen} {OPTIMIZER_WHY.get(chosen, '')}".strip()
    return OPTIMIZER_WHY.get(study.optimizer.name, "")


def _default(study: Study, trials: Sequence[TrialRecord], surrogates: dict[str, Surrogate | None]) -> dict[str, Any]:
    recorded = study.metadata.default_trial or {}
    # a built-in pipeline's study runs the pipeline's own default first; else the space's middle
    config = dict(recorded["config"]) if recorded.get("config") else study.space.default()
    full = study.full_fidelity
    runs = [t for t in trials if t.status is TrialStatus.COMPLETED and same_config(t.config, config)]
    runs.sort(key=lambda t: (-(t.fidelity or 0.0), t.number))
    run = runs[0] if runs else None
    predicted = {k: float(s.predict([config])[0]) for k, s in surrogates.items() if s is not None}
    return {
        "config": config,
        "recorded_trial": recorded.get("number") if recorded.get("config") else None,
        "trial": None if run is None else run.number,
        "fidelity": None if run is None else run.fidelity,
        "full_fidelity": run is not None and (full is None or (run.fidelity or 0) >= full),
        "metrics": None if run is None else {o.name: (run.metrics or {}).get(o.name) for o in study.objectives},
        "predicted": predicted,
        "pipeline": recorded.get("pipeline"),
    }


def _ablation(study: Study, data_best: TrialRecord | None, surrogates: dict[str, Surrogate | None],
              target: int | None, trials: Sequence[TrialRecord],
              default: dict[str, Any]) -> tuple[AblationPath | None, TrialRecord | None, str]:
    """The path from the default (``_default``: the pipeline's, trained as its own trial, else the space's) to the target."""
    obj = study.objectives[0]
    chosen = data_best
    if target is not None:
        chosen = next((t for t in trials if t.number == target), None)
        if chosen is None:
            raise MetamlError(_range_message(study, target, trials))
    surrogate = surrogates.get(obj.name)
    if chosen is None:
        return None, None, "no completed full-fidelity trial respects every limit yet: there is no target to explain"
    if surrogate is None:
        n = len(training_data(study.space, trials, obj.name)[1])
        return None, chosen, f"the surrogate needs at least {MIN_TRIALS} completed trials reporting {obj.name} ({n} so far)"
    # the pipeline's default as its trial trained it; else the space's default, and the trial that ran it if one did
    start_trial = default["recorded_trial"] if default["recorded_trial"] is not None else default["trial"]
    ran = next((t for t in trials if t.number == start_trial), None)
    start = dict(ran.config) if ran is not None else dict(default["config"])
    path = ablation_path(study.space, start, chosen.config, surrogate.predict, objective=obj.name, sign=obj.sign,
                         start_trial=start_trial)
    return path, chosen, ""


def _range_message(study: Study, number: int, trials: Sequence[TrialRecord]) -> str:
    if not trials:
        return f"study {study.name!r} has no trial yet, so there is no trial {number}"
    return (f"study {study.name!r} has no trial {number}: its trials are numbered "
            f"{trials[0].number} to {trials[-1].number}")


def find_trial(study: Study, number: int, trials: Sequence[TrialRecord] | None = None) -> TrialRecord:
    """The trial numbered ``number``, or a MetamlError that lists the range of trial numbers."""
    trials = study.trials() if trials is None else trials
    found = next((t for t in trials if t.number == number), None)
    if found is None:
        raise MetamlError(_range_message(study, number, trials))
    return found


# ------------------------------------------------------------------ gather
def gather(study: Study, *, study_file: str | Path | None = None, target: int | None = None) -> ReportData:
    """Read the study from its store and compute every number the report shows."""
    now = time.time()
    trials = study.trials()
    results = study.results(trials)
    final, front = results.final, results.front
    counts = {st.value: sum(1 for t in trials if t.status is st) for st in TrialStatus}
    started = [t.started_at for t in trials if t.started_at is not None]
    ended = [t.ended_at for t in trials if t.ended_at is not None]
    wall = None
    if started:
        last = now if any(t.status is TrialStatus.RUNNING for t in trials) else max(ended, default=max(started))
        wall = max(0.0, last - min(started))
    best = {o.name: results.best(o.name) for o in study.objectives}
    reference = results.reference
    surrogates = {o.name: fit_surrogate(study.space, trials, o.name, study.seed) for o in study.objectives}
    importances = importance(study.space, trials, study.objectives, study.seed, surrogates)
    default = _default(study, trials, surrogates)
    path, chosen, note = _ablation(study, best[study.objectives[0].name], surrogates, target, trials, default)
    data = ReportData(
        study=study,
        generated_at=now,
        trials=trials,
        final=final,
        front=front,
        front_note=results.front_note(),
        counts=counts,
        fte=results.cost_fte,
        budget=_budget(study),
        wall_s=wall,
        compute_s=float(sum(t.duration or 0.0 for t in trials)),
        optimizer=_optimizer(study),
        default=default,
        best=best,
        trajectory=trajectory(study, trials, reference),
        observations=study.observations(),
        surrogates=surrogates,
        importance=importances,
        ablation=path,
        ablation_trial=chosen,
        ablation_note=note,
        reference=reference,
        failures=failures(trials),
        events=study.events(),
        provenance=provenance(study, study_file, trials),
        interventions=study.interventions(),
    )
    data.test_set = stored_evaluation(study, front).to_dict()
    tested = {r["number"]: r for r in data.test_set.get("results", []) if r.get("metrics")}
    data.caveats = front_caveats(study.objectives, final, front, tested)
    data.warm_start = warm_start_summary(study, trials)
    for t in {t.number: t for t in [*front, *(b for b in best.values() if b is not None),
                                    *([chosen] if chosen else [])]}.values():
        data.reproduce[t.number] = reproduce_snippet(study, t)
    return data
