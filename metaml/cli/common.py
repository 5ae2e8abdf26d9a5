"""What every command shares: finding the study, printing for people or machines, clean errors."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from metaml.errors import BudgetError, MetamlError, StudyFileError, UsageError
from metaml.store import TrialRecord
from metaml.study import Study
from metaml.studyfile import StudyFile, load_study_file

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

#: The options every command that reads a study shares: its YAML file, or --store and --study.
FILE_ARG = typer.Argument(None, help="The study YAML file.")
STORE_OPT = typer.Option(None, "--store", help="SQLAlchemy URL or SQLite path of the store.")
STUDY_OPT = typer.Option(None, "--study", help="The study's name (instead of its YAML file).")
JSON_OPT = typer.Option(False, "--json", help="Print JSON for machines.")

#: Set by the --debug option of the top-level command.
DEBUG = {"on": os.environ.get("METAML_DEBUG") == "1"}
#: Mistakes in what the user wrote, which exit 2 (docs/cli.md): the study file, and a --budget (a
#: budget in the file is reported as a StudyFileError; a BudgetError reaches the CLI only from an option).
USAGE_ERRORS = (StudyFileError, BudgetError, UsageError)


def friendly_errors(fn: F) -> F:
    """Turn a MetamlError into one red line and exit 2 (usage) or 1 (failure); --debug shows the traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MetamlError as exc:
            if DEBUG["on"]:
                raise
            # the message holds the user's own text (names, values, a trial's error): print it as text, never
            # as Rich markup, in which "[/]" would raise MarkupError
            err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
            raise typer.Exit(2 if isinstance(exc, USAGE_ERRORS) else 1) from None

    return wrapper  # type: ignore[return-value]


def open_study(study_file: str | None, store: str | None, name: str | None) -> tuple[Study, StudyFile | None]:
    """The study a command names: by its YAML file, or by --store and --study."""
    spec = load_study_file(study_file) if study_file else None
    if spec is None and not name:
        raise StudyFileError("name a study: give its YAML file, or --study NAME (with --store URL)")
    study_name = name or spec.name  # type: ignore[union-attr]
    url = store or os.environ.get("METAML_STORE") or (spec.resolve_store() if spec else None)
    if url is None:
        url = f"runs/{study_name}/study.db"
    return Study.load(study_name, url), spec


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def trial_dict(t: TrialRecord) -> dict[str, Any]:
    """A trial as plain data for --json output."""
    return {
        "number": t.number,
        "status": t.status.value,
        "config": t.config,
        "fidelity": t.fidelity,
        "continue_from": t.continue_from,
        "metrics": t.metrics,
        "cost_fte": t.cost_fte,
        "started_at": t.started_at,
        "ended_at": t.ended_at,
        "duration_s": t.duration,
        "error": t.error,
        "retries": t.retries,
        "worker": t.worker,
    }


def fmt(value: Any) -> str:
    """A compact cell for tables."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "-"
    return str(value)


def fmt_metrics(metrics: dict[str, Any] | None) -> str:
    """``name=value`` pairs of a trial's metrics."""
    return ", ".join(f"{k}={fmt(v)}" for k, v in (metrics or {}).items()) or "-"
