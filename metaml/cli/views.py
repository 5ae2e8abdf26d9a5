"""Commands that read a study: ``status``, ``pareto``, ``trials``, ``studies``."""

from __future__ import annotations

import copy
import csv
import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from metaml.budget import parse_budget
from metaml.cli.common import (
    FILE_ARG,
    JSON_OPT,
    STORE_OPT,
    STUDY_OPT,
    console,
    emit_json,
    err_console,
    fmt,
    fmt_metrics,
    friendly_errors,
    open_study,
    trial_dict,
)
from metaml.errors import StudyFileError
from metaml.final_evaluation import TITLE, FinalEvaluation, stored_evaluation
from metaml.progress import budget_dict, optimizer_choice
from metaml.report.caveats import Caveat, group_size_caveats, interval_of, study_caveats
from metaml.store import TrialRecord, TrialStatus, open_store
from metaml.study import Study
from metaml.studyfile import StudyFile

if TYPE_CHECKING:  # the groups module imports the metrics (torch, scikit-learn): not at every CLI start
    from metaml.pipelines.groups import GroupSizes


@dataclasses.dataclass(frozen=True)
class EditedLimit:
    """An objective whose limit in the study file is not the one stored with the study."""

    objective: str
    stored: float | None
    in_file: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "stored": self.stored, "file": self.in_file}


def edited_limits(s: Study, spec: StudyFile | None) -> list[EditedLimit]:
    """The objectives whose limit the study file changed since the study was created (same names and goals)."""
    if spec is None or [(o.name, o.goal) for o in spec.objectives] != [(o.name, o.goal) for o in s.objectives]:
        return []
    return [EditedLimit(o.name, o.limit, f.limit) for o, f in zip(s.objectives, spec.objectives) if o.limit != f.limit]


def warn_edited_limits(s: Study, spec: StudyFile | None, applied: bool = False) -> list[EditedLimit]:
    """Say on stderr which limits the file changed, which one counts, and how to rank with the file's."""
    edited = edited_limits(s, spec)
    steered = {o.name for o, b in zip(s.objectives, s.base_objectives) if o.limit != b.limit}
    for e in edited:
        stored = "no limit" if e.stored is None else f"the limit {e.stored:g}"
        if e.objective in steered:
            stored += " (set by `metaml limit`: `metaml interventions` says who and why)"
        in_file = "no limit" if e.in_file is None else f"the limit {e.in_file:g}"
        if applied:
            err_console.print(f"[yellow]warning:[/] objective {escape(e.objective)}: ranked with {in_file} from the study file "
                              f"(--limits-from-file); the study stores {stored}, which stays as it is", highlight=False)
        else:
            err_console.print(
                f"[yellow]warning:[/] objective {escape(e.objective)}: the study file sets {in_file}, but the study stores "
                f"{stored}; what the study stores counts here. To rank with the file's limits, run "
                "`metaml pareto STUDY.yaml --limits-from-file` (nothing stored changes)", highlight=False)
    return edited


def with_file_limits(s: Study, spec: StudyFile | None) -> Study:
    """The study seen with the study file's limits (same objectives otherwise); the store is not touched."""
    if spec is None:
        raise StudyFileError("--limits-from-file needs the study's YAML file")
    if [(o.name, o.goal) for o in spec.objectives] != [(o.name, o.goal) for o in s.objectives]:
        raise StudyFileError(
            f"{spec.path}: its objectives {[o.name for o in spec.objectives]} (or their goals) are not the study's "
            f"{[o.name for o in s.objectives]}: only limits can be taken from the file")
    s.view()  # take in the study's interventions first, so that none arriving later overrides the file's limits
    view = copy.copy(s)
    view.objectives = tuple(spec.objectives)
    return view


def hypervolume_dict(s: Study) -> dict[str, Any]:
    """The front's hypervolume and its reference point, as the progress line and the report measure them."""
    if len(s.objectives) < 2:
        return {"hypervolume": None, "reference_point": None}
    ref = s.reference()
    point = None if ref.point is None else {o.name: o.sign * v for o, v in zip(s.objectives, ref.point)}
    return {"hypervolume": s.hypervolume(), "reference_point": point}


@friendly_errors
def status(
    study_file: str = FILE_ARG,
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Trials by status, cost spent in FTE, the best result, and the trials running now."""
    s, spec = open_study(study_file, store, study)
    edited = warn_edited_limits(s, spec)
    trials = s.trials()
    counts = {st.value: sum(1 for t in trials if t.status is st) for st in TrialStatus}
    now = time.time()
    running = [t for t in trials if t.status is TrialStatus.RUNNING]
    finished = [t for t in trials if t.ended_at is not None and t.imported is None]  # imported ones ran elsewhere
    span = (max(t.ended_at for t in finished) - min(t.started_at or t.ended_at for t in finished)) if finished else 0.0  # type: ignore[type-var,operator]
    best = s.best()
    running_rows = [
        {"number": t.number, "worker": t.worker, "age_s": now - (t.started_at or now), "heartbeat_age_s": now - (t.heartbeat or now)}
        for t in running
    ]
    data: dict[str, Any] = {
        "study": s.name,
        "store": s.store_url,
        "optimizer": s.optimizer.name,
        "optimizer_choice": optimizer_choice(s.optimizer),
        "budget": budget_dict(parse_budget(dict(s.metadata.budget)) if s.metadata.budget else None, trials),
        "objectives": [o.to_dict() for o in s.objectives],
        "trials": counts,
        "fte": s.cost_fte(),
        "retried": sum(1 for t in trials if t.retries),
        "imported": sum(1 for t in trials if t.imported is not None),
        "throughput_per_min": (len(finished) / span * 60.0) if span > 0 else None,
        "running": running_rows,
        "workers_alive": sorted({t.worker for t in running if t.worker and now - (t.heartbeat or 0) < 60}),
        "best": None if best is None else {"number": best.number, "metrics": best.metrics},
        "front_size": len(s.pareto_front()),
        **hypervolume_dict(s),
        "edited_limits": [e.to_dict() for e in edited],
    }
    if as_json:
        emit_json(data)
        return
    console.print(f"[bold]{escape(s.name)}[/] in {escape(s.store_url)} — optimizer {escape(s.optimizer.name)}", highlight=False)
    console.print("trials: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "trials: none yet", highlight=False, markup=False)
    console.print(f"cost: {data['fte']:.2f} FTE; retried trials: {data['retried']}", highlight=False)
    if data["imported"]:
        source = (s.metadata.imported or {}).get("source", "elsewhere")
        console.print(f"imported: {data['imported']} trials from {source} (0 FTE: not trained here)", highlight=False,
                      markup=False)
    if data["throughput_per_min"]:
        console.print(f"throughput: {data['throughput_per_min']:.1f} trials/min", highlight=False)
    if best is not None:
        console.print(f"best: trial {best.number}: {fmt_metrics(best.metrics)}", highlight=False, markup=False)
    _print_hypervolume(data)
    for r in running_rows:
        console.print(f"running: trial {r['number']} on {r['worker']} for {r['age_s']:.0f} s (heartbeat {r['heartbeat_age_s']:.0f} s ago)", highlight=False, markup=False)


def _print_hypervolume(data: dict[str, Any]) -> None:
    if data["hypervolume"] is None or data["reference_point"] is None:
        return
    ref = ", ".join(f"{k} {fmt(v)}" for k, v in data["reference_point"].items())
    console.print(f"front: {data['front_size']} trials, hypervolume {data['hypervolume']:.4g} (reference point {ref})",
                  highlight=False)


def print_front(s: Study) -> None:
    """The Pareto front as a table (or why it is empty)."""
    front = s.pareto_front()
    if not front:
        console.print(f"[yellow]no Pareto front yet[/]: {escape(s.front_note() or '')}", highlight=False)
        return
    names = [o.name for o in s.objectives]
    table = Table(title=escape(f"Pareto front of {s.name} ({len(front)} trials)"))
    table.add_column("trial", justify="right")
    for n, o in zip(names, s.objectives):
        table.add_column(escape(f"{n} ({o.goal})"), justify="right")
    table.add_column("config")
    for t in sorted(front, key=lambda r: (r.metrics or {})[names[0]] * s.objectives[0].sign):
        table.add_row(str(t.number), *(interval_text(t, n) for n in names),
                      escape(", ".join(f"{k}={fmt(v)}" for k, v in t.config.items())))
    console.print(table)


def print_test_front(s: Study, final: FinalEvaluation | None = None) -> None:
    """The front's test metrics, computed once after the search, as a table of their own (or one line why not)."""
    final = final if final is not None else stored_evaluation(s)
    if final.status in ("not_builtin", "no_front"):
        console.print(f"[dim]{TITLE}: {escape(final.message)}[/]", highlight=False)
        return
    names = final.metric_names()
    table = Table(title=f"{TITLE}: {len(final.results)} of {len(final.front)} front trials")
    table.add_column("trial", justify="right")
    for n in names:
        table.add_column(escape(n), justify="right")
    table.add_column("note")
    intervals = {n: d.get("intervals") or {} for n, d in final.details.items()}
    for number in final.front:
        metrics = final.results.get(number)
        note = "" if metrics else final.errors.get(number, "not scored yet")
        table.add_row(str(number), *(_with_interval((metrics or {}).get(n), intervals.get(number, {}).get(n))
                                     for n in names), escape(note))  # fmt: skip
    console.print(table)
    if final.status == "not_evaluated":
        console.print(f"[yellow]{escape(final.message)}[/]", highlight=False)


def _with_interval(value: Any, interval: Any) -> str:
    if isinstance(interval, dict) and "low" in interval and "high" in interval:
        return f"{fmt(value)} [{fmt(interval['low'])}, {fmt(interval['high'])}]"
    return fmt(value)


def group_caveats(groups: GroupSizes | None) -> list[Caveat]:
    """The run banner's warnings about sensitive groups too small to decide on (before any trial)."""
    if groups is None:
        return []
    return group_size_caveats(groups.compared, groups.minimum, groups.column)


def print_caveats(s: Study, caveats: list[Caveat] | None = None) -> None:
    """The reasons a front number cannot carry a decision, one yellow line each."""
    for caveat in study_caveats(s) if caveats is None else caveats:
        note = caveat.kind == "limit_price"
        console.print(f"{'note' if note else 'warning'}: {caveat.message}", style=None if note else "yellow",
                      markup=False, highlight=False, soft_wrap=True)  # fmt: skip


def print_breakdown(s: Study, front: list[TrialRecord]) -> None:
    """Each fairness objective's groups on the front: rows, rates, and the pair that sets the gap."""
    for t in sorted(front, key=lambda r: r.number):
        for metric, b in (t.details.get("fairness") or {}).items():
            pair = b.get("pair") or {}
            rates = list(b.get("rates") or [])
            table = Table(title=escape(f"trial {t.number}: {metric} = {fmt(b.get('value'))} on the "
                                       f"{t.details.get('split', 'validation')} split, {b.get('compared', '')}"))  # fmt: skip
            table.add_column("group")
            table.add_column("rows", justify="right")
            for rate in rates:
                table.add_column(escape(rate.replace("_", " ")), justify="right")
            table.add_column("error", justify="right")
            table.add_column("note")
            small = set(b.get("small_groups") or [])
            for g in b.get("groups", []):
                sets = g["group"] in (pair.get("low"), pair.get("high"))
                note = ", ".join(n for n, on in (("sets the gap", sets), (f"under {b.get('min_group_size')} rows",
                                                 g["group"] in small)) if on)  # fmt: skip
                table.add_row(escape(g["group"]), str(g["n"]), *(fmt(g.get(r)) for r in rates),
                              fmt(g.get("error_rate")), note)  # fmt: skip
            console.print(table)


def interval_text(t: TrialRecord, name: str) -> str:
    """``0.125 [0.09, 0.16]``: a metric with its stored bootstrap interval (the value alone when it has none)."""
    value = fmt((t.metrics or {}).get(name))
    found = interval_of(t, name)
    return value if found is None else f"{value} [{fmt(found[0])}, {fmt(found[1])}]"


def front_dict(t: TrialRecord) -> dict[str, Any]:
    """A front trial for ``--json``: the trial, its metrics' intervals and its fairness breakdowns."""
    return {**trial_dict(t), "intervals": t.details.get("intervals") or {}, "fairness": t.details.get("fairness") or {}}


@friendly_errors
def pareto(
    study_file: str = FILE_ARG,
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
    as_json: bool = JSON_OPT,
    limits_from_file: bool = typer.Option(
        False, "--limits-from-file",
        help="Rank with the limits the YAML file sets now, not those stored with the study (nothing is stored).",
    ),
) -> None:
    """The non-dominated trials at full fidelity that respect every limit, then their test metrics (computed once)."""
    s, spec = open_study(study_file, store, study)
    edited = warn_edited_limits(s, spec, applied=limits_from_file)
    if limits_from_file:
        s = with_file_limits(s, spec)
    front = s.pareto_front()
    if as_json:
        emit_json({
            "study": s.name,
            "objectives": [o.to_dict() for o in s.objectives],
            "limits_from": "file" if limits_from_file else "store",
            "edited_limits": [e.to_dict() for e in edited],
            "front": [front_dict(t) for t in front],
            "note": s.front_note(),
            **hypervolume_dict(s),
            "test": stored_evaluation(s, front).to_dict(),
            "caveats": [c.to_dict() for c in study_caveats(s)],
        })
        return
    print_front(s)
    _print_hypervolume({"front_size": len(front), **hypervolume_dict(s)})
    print_breakdown(s, front)
    print_test_front(s, stored_evaluation(s, front))
    print_caveats(s)



@friendly_errors
def trials(
    study_file: str = FILE_ARG,
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (one row per trial)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Every trial with its configuration, fidelity, status, metrics and cost."""
    s, _ = open_study(study_file, store, study)
    records = s.trials()
    if as_json:
        emit_json([trial_dict(t) for t in records])
        return
    params = list(s.space.searchable)
    metric_names = sorted({k for t in records for k in (t.metrics or {})})
    header = ["number", "status", "fidelity", "continue_from", "cost_fte", *metric_names, *params, "error"]
    rows = [
        [t.number, t.status.value, t.fidelity, t.continue_from, round(t.cost_fte, 6),
         *((t.metrics or {}).get(m) for m in metric_names), *(t.config.get(p) for p in params), t.error or ""]
        for t in records
    ]
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        writer.writerows(rows)
        return
    shown = 5 + len(metric_names)
    failed = any(t.error for t in records)
    table = Table(title=escape(f"{s.name}: {len(records)} trials"),
                  caption="whole configurations and tracebacks: --csv or --json")
    for h in [*header[:shown], "configuration", *(["error"] if failed else [])]:
        table.add_column(escape(h))
    for t, row in zip(records, rows):
        config = ", ".join(f"{p}={fmt(t.config[p])}" for p in params if t.config.get(p) is not None)
        table.add_row(*(escape(fmt(c)) for c in row[:shown]), escape(config),
                      *([escape(_error_line(t.error))] if failed else []))
    console.print(table)


def _error_line(error: str | None) -> str:
    """The line of a stored traceback that says what went wrong (its last non-empty line), cut to 100 characters."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= 100 else line[:99] + "…"


@friendly_errors
def studies(store: str = typer.Option(..., "--store", help="SQLAlchemy URL or SQLite path of the store.")) -> None:
    """The studies a store holds."""
    db = open_store(store, create=False)
    names = db.list_studies()
    console.print("\n".join(names) if names else "this store holds no study yet", highlight=False, markup=False)
