"""``metaml worker``: join a study from any process or machine that reaches its store."""

from __future__ import annotations

import time

import typer
from rich.text import Text

from metaml.budget import Budget, parse_budget
from metaml.cli.common import console, err_console, friendly_errors, open_study
from metaml.errors import StudyFileError
from metaml.execution.local import FunctionRef, run_local
from metaml.execution.outcome import run_outcome
from metaml.execution.settings import ExecutionSettings
from metaml.execution.signals import exit_code, sigterm_as_interrupt
from metaml.execution.worker import work
from metaml.store import TrialRecord
from metaml.study import worker_id


@friendly_errors
def worker(
    study_file: str = typer.Argument(None, help="The study YAML file (or give --store and --study)."),
    store: str = typer.Option(None, "--store", help="SQLAlchemy URL or SQLite path of the store."),
    study: str = typer.Option(None, "--study", help="The study's name."),
    function: str = typer.Option(None, "--function", help="module:function, if not the one the study was run with."),
    budget: str = typer.Option(None, "--budget", help="e.g. 'trials=40' (default: the study's own budget)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No output per trial."),
) -> None:
    """Claim and run trials of an existing study until its budget is spent (start as many as you like)."""
    given: Budget | None = parse_budget(budget) if budget else None  # a usage error before the store is opened
    s, spec = open_study(study_file, store, study)
    info = s.metadata
    if function:
        ref = FunctionRef(spec=function)
    elif spec is not None:
        ref = spec.function_ref()
    elif info.function:
        ref = FunctionRef(spec=info.function, base_dir=info.function_dir)
    else:
        raise StudyFileError("this study does not say which function it runs: pass --function module:function")
    chosen = given or (parse_budget(dict(info.budget)) if info.budget else None)
    if chosen is None:
        raise StudyFileError("this study has no stored budget: pass --budget (e.g. trials=40)")
    settings = ExecutionSettings.from_dict(dict(info.execution)) if info.execution else ExecutionSettings()
    me = worker_id()
    if not quiet:
        console.print(f"worker {me} joins {s.name} in {s.store_url} (budget {chosen.describe()})",
                      markup=False, highlight=False)  # fmt: skip

    ran: list[int] = []

    def on_trial(r: TrialRecord) -> None:
        ran.append(r.number)
        if not quiet:
            # a trial's error is the user's text: as text, never as Rich markup ("[/]" would crash the worker)
            console.print(f"trial {r.number} {r.status.value}" + (f": {r.error}" if r.error else ""),
                          markup=False, highlight=False)  # fmt: skip

    started = time.time()
    try:
        with sigterm_as_interrupt():
            if settings.timeout is not None or settings.memory_mb is not None or settings.gpus_per_trial is not None:
                # A limit needs a process to kill, a GPU a process started with its CUDA_VISIBLE_DEVICES:
                # this worker supervises one worker process.
                run_local(s, ref, chosen, settings.with_overrides(workers=1), on_trial=on_trial)
            else:
                work(s, ref.load(), chosen, settings, worker=me, on_trial=on_trial)
    except KeyboardInterrupt as interrupt:
        console.print("interrupted: the running trial went back to the queue", highlight=False)
        raise typer.Exit(exit_code(interrupt)) from None
    outcome = run_outcome(s, chosen, settings, started)
    if not outcome.complete:
        err_console.print(Text.assemble(("stopped: ", "bold red"), f"worker {me} ran {len(ran)} trials; {outcome.reason}"))
        raise typer.Exit(1)
    if not quiet:
        console.print(Text(f"worker {me} ran {len(ran)} trials; done: {outcome.reason}"))
