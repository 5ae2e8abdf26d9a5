"""``metaml import optuna`` and ``metaml import csv``: bring earlier results into a store as a study of their own."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.text import Text

from metaml.cli.common import console, emit_json, err_console, friendly_errors
from metaml.errors import StudyFileError
from metaml.imports import ImportReport, import_csv, import_optuna
from metaml.study import Study
from metaml.studyfile import load_study_file

import_app = typer.Typer(
    name="import",
    help="Import earlier results (an Optuna study, a CSV file) as a study that later studies can learn from.",
    no_args_is_help=True,
)

INTO_HELP = "The metaml store to write into: a SQLite path or a SQLAlchemy URL."
OBJECTIVE_OPT = typer.Option(
    None, "--objective", help="Name the objectives, in order (default: Optuna's metric names, or value, value_0, ...)."
)
CSV_ARG = typer.Argument(
    ..., help="The CSV file: one row per trial, columns named after the parameters and objectives (and optionally "
    "the fidelity and status)."
)
SPACE_OPT = typer.Option(None, "--space", help="A study YAML file whose space and objectives the rows follow.")


@import_app.command("optuna")
@friendly_errors
def optuna_cmd(
    storage: str = typer.Option(..., "--storage", help="The Optuna RDB storage URL, e.g. sqlite:///optuna.db."),
    study_name: str = typer.Option(..., "--study-name", help="The Optuna study to import."),
    into: str = typer.Option(..., "--into", help=INTO_HELP),
    name: str = typer.Option(None, "--as", help="The metaml study's name (default: the Optuna study's)."),
    objective: list[str] = OBJECTIVE_OPT,
    drop_steps: bool = typer.Option(False, "--drop-steps", help="Import a stepped range as the whole range."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Import an Optuna study: its space, objectives, trials and learning curves, each trial with its provenance."""
    with _warnings_printed_here():
        report = import_optuna(storage, study_name, into, name, objectives=objective or None, drop_steps=drop_steps)
    _show(report, f"the Optuna study {study_name!r}", json_out)


@import_app.command("csv")
@friendly_errors
def csv_cmd(
    file: Path = CSV_ARG,
    space: Path = SPACE_OPT,
    study: str = typer.Option(None, "--study", help="A stored study whose space and objectives the rows follow."),
    into: str = typer.Option(None, "--into", help=INTO_HELP + " Default: the study file's store, or --store."),
    store: str = typer.Option(None, "--store", help="The store holding --study (default: --into)."),
    name: str = typer.Option(None, "--as", help="The imported study's name (default: the CSV file's name)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Import trials from a CSV file; a row outside the space is skipped with a warning naming its line."""
    if (space is None) == (study is None):
        raise StudyFileError("say which space the rows follow: --space STUDY.yaml or --study NAME (one of them)")
    if space is not None:
        spec = load_study_file(space)
        target = into or os.environ.get("METAML_STORE") or spec.resolve_store()
        the_space, objectives, origin = spec.space, spec.objectives, {"space_from": str(spec.path)}
    else:
        where = store or into or os.environ.get("METAML_STORE")
        if where is None:
            raise StudyFileError("--study NAME needs the store that holds it: --store URL or --into URL")
        known = Study.load(study, where)
        target = into or where
        the_space, objectives, origin = known.space, known.objectives, {"space_from": f"study {study!r}"}
    with _warnings_printed_here():
        report = import_csv(file, target, name or file.stem, the_space, objectives, origin=origin)
    _show(report, str(file), json_out)


@contextmanager
def _warnings_printed_here() -> Iterator[None]:
    """Quiet the importers' log of skipped rows, which ``_show`` prints as ``warning: ...`` lines (each was said
    twice); ``-v`` keeps the log."""
    logger = logging.getLogger("metaml.imports")
    level = logger.level
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _show(report: ImportReport, what: str, json_out: bool) -> None:
    for reason in report.skipped:
        err_console.print(Text.assemble(("warning: ", "bold yellow"), reason), highlight=False, soft_wrap=True)
    if json_out:
        emit_json(report.to_dict())
        return
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.imported.items()))
    total = sum(report.imported.values())
    console.print(
        f"imported {total} trials ({counts}) from {what} into the study {report.study.name!r} in "
        f"{report.study.store.safe_url} (0 FTE: they were not trained here); {len(report.skipped)} warnings",
        highlight=False, markup=False, soft_wrap=True,
    )
