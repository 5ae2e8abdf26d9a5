"""``metaml run``: run (or resume) the study a YAML file describes, with a live progress line."""

from __future__ import annotations

import os
import time

import typer
from rich.markup import escape
from rich.text import Text

from metaml.budget import Budget, parse_budget
from metaml.cli.common import console, err_console, friendly_errors
from metaml.cli.views import group_caveats, print_caveats, print_front, print_test_front
from metaml.errors import MetamlError, StudyFileError
from metaml.execution.dispatch import execute
from metaml.execution.local import FunctionRef
from metaml.execution.outcome import RunOutcome, run_outcome
from metaml.execution.settings import ExecutionSettings
from metaml.execution.signals import Terminated, exit_code, sigterm_as_interrupt
from metaml.final_evaluation import evaluate_front
from metaml.optimizers.steering import single_objective_warning
from metaml.pipelines.baseline import check_pipeline_parameters, check_sensitive_groups, enqueue_default
from metaml.progress import live_progress, optimizer_choice, progress_line
from metaml.report.provenance import git_commit, installed_versions
from metaml.store import TrialRecord, TrialStatus
from metaml.study import Study
from metaml.studyfile import load_study_file


@friendly_errors
def run(
    study_file: str = typer.Argument(..., help="The study YAML file."),
    store: str = typer.Option(None, "--store", help="SQLAlchemy URL or SQLite path (overrides METAML_STORE and the file)."),
    budget: str = typer.Option(None, "--budget", help="e.g. 'trials=40', 'fte=5', 'seconds=600' (overrides the file)."),
    workers: int = typer.Option(None, "--workers", "-w", help="Trials at once, each in its own process (overrides the file)."),
    executor: str = typer.Option(None, "--executor", help="inline, local or ray (default: from the file, else auto)."),
    ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster to join, e.g. 'auto' (default: start a local one)."),
    gpus_per_trial: float = typer.Option(
        None, "--gpus-per-trial", help="GPUs per local worker (0.5: two workers share a GPU; overrides the file).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    default_first: bool = typer.Option(
        True, "--default-first/--no-default-first",
        help="For a built-in pipeline, train its default configuration first as the baseline (new studies only).",
    ),
) -> None:
    """Run or resume a study until its budget is spent, then print its Pareto front.

    A built-in pipeline's study trains the pipeline's default first, and ends by scoring
    each front model once on the test split (skipped for models already scored).
    """
    spec = load_study_file(study_file)
    try:
        settings = spec.execution.with_overrides(workers=workers, executor=executor, ray_address=ray_address,
                                                 gpus_per_trial=gpus_per_trial)
    except MetamlError as exc:
        raise StudyFileError(str(exc)) from None
    chosen = spec.budget.merged(parse_budget(budget)) if spec.budget and budget else (
        parse_budget(budget) if budget else spec.budget
    )
    if chosen is None:
        raise StudyFileError(f"{spec.path}: no budget: add 'budget: {{trials: 40}}' to the file or pass --budget")
    fn_ref = spec.function_ref()
    try:  # refused here, before anything is stored
        check_pipeline_parameters(spec.function, spec.space)
    except StudyFileError as exc:
        raise StudyFileError(f"{spec.path}: {exc}") from None
    groups = check_sensitive_groups(spec.function, spec.space)
    study = Study.create(
        spec.name,
        spec.space,
        spec.objectives,
        store=spec.resolve_store(store),
        optimizer=spec.optimizer,
        seed=spec.seed,
        artifacts=spec.artifacts,
        info={
            "study_file": str(spec.path), "study_yaml": spec.text, "description": spec.description,
            "packages": installed_versions(), "git": git_commit(spec.path.parent.resolve()),
            **({"schedule": spec.schedule.to_dict()} if spec.schedule is not None else {}),
        },
        load_if_exists=True,
        warm_start=[{"study": w.study, "store": w.store, "objectives": dict(w.objectives)} for w in spec.warm_start],
    )
    stored, wanted = study.schedule, spec.schedule
    if (None if stored is None else stored.to_dict()) != (None if wanted is None else wanted.to_dict()):
        raise StudyFileError(
            f"{spec.path}: field 'schedule': study {study.name!r} was created "
            f"{'without a schedule' if stored is None else 'with another schedule'}, and every trial of a study "
            "replays the same one: give the study another name to replay this schedule"
        )
    # What `metaml worker` needs to join this study from another process or machine.
    study.update_metadata(function=spec.function, function_dir=str(spec.path.parent.resolve()),
                          budget=chosen.to_dict(), execution=settings.to_dict())
    already = len(study.trials())
    default = enqueue_default(study, spec.function, chosen) if default_first and study.created_now else None
    skipped = study.events(["default_skipped"]) if default is None and default_first and study.created_now else []
    if not quiet:
        note = f" (resuming: {already} trials in the store)" if already else ""
        how = settings.resolved_executor + (f", {settings.workers} workers" if settings.workers > 1 else "")
        how += f", {settings.gpus_per_trial:g} GPU per trial" if settings.gpus_per_trial is not None else ""
        console.print(
            f"[bold]{escape(study.name)}[/]: optimizer {escape(_optimizer_text(study))}, budget {chosen.describe()}, "
            f"executor {how}, store {escape(study.store_url)}{note}",
            highlight=False,
        )
        legacy = None if (store or os.environ.get("METAML_STORE")) else spec.legacy_store()
        if legacy is not None and not already:
            console.print(Text(
                f"note: {legacy} (the old default, relative to the working folder) holds a store; the default "
                f"is now beside the study file. Pass --store {legacy} to go on with the study in it.",
                style="yellow",
            ))
        for note in spec.deprecations:
            console.print(Text(f"deprecated: {note}", style="yellow"))
        if default is not None:
            console.print(f"trial {default.number} is the pipeline's default configuration at full fidelity "
                          "(the baseline to beat)", highlight=False)  # fmt: skip
        for event in skipped:
            console.print(Text(f"note: {event.message}", style="yellow"), soft_wrap=True)
        for caveat in group_caveats(groups):
            console.print(f"warning: {caveat.message}", style="yellow", markup=False, highlight=False, soft_wrap=True)
        steering = single_objective_warning(study.optimizer)
        if steering:
            console.print(f"warning: {steering}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    started = time.time()
    try:
        with sigterm_as_interrupt():
            _run_with_progress(study, fn_ref, chosen, settings, quiet)
    except KeyboardInterrupt as interrupt:
        how = "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
        console.print(
            f"\n[yellow]{how}[/]: the running trial went back to the queue; {len(study.trials())} trials "
            "are in the store. Run the same command again to resume.",
            highlight=False,
        )
        raise typer.Exit(exit_code(interrupt)) from None
    outcome = run_outcome(study, chosen, settings, started)
    try:
        with sigterm_as_interrupt():
            final = evaluate_front(study, spec.function)
    except KeyboardInterrupt as interrupt:
        console.print("\n[yellow]interrupted[/] while scoring the front on the test split; the search is complete "
                      "and stored. Run the same command again to score the rest.", highlight=False)  # fmt: skip
        raise typer.Exit(exit_code(interrupt)) from None
    if not quiet:
        print_front(study)
        print_test_front(study, final)
        print_caveats(study)
    _say_outcome(study, outcome, quiet)


def _optimizer_text(study: Study) -> str:
    """The optimizer's name; for ``auto`` the one it chose and why."""
    choice = optimizer_choice(study.optimizer)
    return f"auto chose {choice['chosen']} ({choice['why']})" if choice["name"] == "auto" else choice["name"]


def _say_outcome(study: Study, outcome: RunOutcome, quiet: bool) -> None:
    """Say why the run ended; a run that did not spend its budget or finish the study exits 1."""
    if outcome.complete:
        if not quiet:
            console.print(Text(f"done: {outcome.reason}", style="green"))
        return
    if outcome.first_traceback:
        err_console.print(Text("no trial completed; the first failure was:\n" + outcome.first_traceback.rstrip()))
    err_console.print(Text.assemble(("stopped: ", "bold red"), outcome.reason))
    raise typer.Exit(1)


def _run_with_progress(study: Study, fn: FunctionRef, budget: Budget, settings: ExecutionSettings, quiet: bool) -> None:
    started = time.time()
    if quiet:
        execute(study, fn, budget, settings)
        return
    if not console.is_terminal:
        # Logs and CI get one line per trial instead of a live display.
        # (a line holds a trial's error, the user's text: printed as text, never as Rich markup)
        execute(study, fn, budget, settings,
                on_trial=lambda r: console.print(_line(study, r, started, budget), markup=False, highlight=False))  # fmt: skip
        return
    live_progress(study, budget, started, console, lambda on_trial: execute(study, fn, budget, settings, on_trial=on_trial))


def _line(study: Study, record: TrialRecord, started: float, budget: Budget) -> str:
    what = record.error if record.status in (TrialStatus.FAILED, TrialStatus.LOST) else ", ".join(
        f"{o.name}={(record.metrics or {}).get(o.name, float('nan')):.4g}" for o in study.objectives
    )
    fid = f" @ {record.fidelity:g}" if record.fidelity is not None else ""
    return f"trial {record.number}{fid} {record.status.value}: {what} | {progress_line(study, budget, started)}"

