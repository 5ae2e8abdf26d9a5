"""``metaml report`` and ``metaml export``: the HTML report of a study, and one trial as files."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from metaml.cli.common import STORE_OPT, STUDY_OPT, console, emit_json, friendly_errors, open_study
from metaml.cli.views import warn_edited_limits
from metaml.errors import StudyFileError


@friendly_errors
def report(
    study_file: str = typer.Argument(None, help="The study YAML file."),
    output: str = typer.Option(None, "--output", "-o", help="Where to write the HTML (default: <study>-report.html)."),
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
    target: int = typer.Option(None, "--target", help="The trial the ablation path leads to (default: the best)."),
    as_json: bool = typer.Option(False, "--json", help="Also print the report's numbers as JSON for machines."),
) -> None:
    """Write a self-contained HTML report that explains and audits the search (works offline)."""
    from metaml.report import write_report

    s, spec = open_study(study_file, store, study)
    warn_edited_limits(s, spec)
    path = Path(output or f"{s.name}-report.html")
    started = time.perf_counter()
    data = write_report(s, path, study_file=spec.path if spec else None, target=target)
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    if as_json:
        emit_json({"html": str(path), "bytes": size, "seconds": seconds, **data.to_json()})
        return
    note = " (the study is still running)" if data.running else ""
    console.print(f"wrote {path} ({size / 1e6:.1f} MB in {seconds:.1f} s){note}", highlight=False, markup=False)


@friendly_errors
def export(
    study_file: str = typer.Argument(None, help="The study YAML file (leave out with --study)."),
    directory: str = typer.Argument(None, help="The folder to write into."),
    trial: int = typer.Option(None, "--trial", "-t", help="The trial's number (--format trial)."),
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print the files written as JSON."),
    form: str = typer.Option("trial", "--format", help="trial (one trial's model) or deepcave (the study as a DeepCAVE run)."),
) -> None:
    """Write a trial's config.json, metrics.json, checkpoint and MODEL_CARD.md into a folder, or (--format deepcave) the study as a DeepCAVE run."""
    from metaml.report import export_trial

    if directory is None and study and study_file is not None:
        study_file, directory = None, study_file  # `export --study NAME --trial N DIR`: the one argument is DIR
    if form not in ("trial", "deepcave"):
        raise StudyFileError(f"--format {form}: export writes 'trial' (one trial's model) or 'deepcave' (the study)")
    if directory is None:
        raise StudyFileError("name the folder to write into: metaml export STUDY.yaml --trial N DIR")
    if form == "deepcave":
        if trial is not None:
            raise StudyFileError("--format deepcave exports the whole study: leave out --trial")
        from metaml.cli.integration_cmds import export_deepcave

        export_deepcave(open_study(study_file, store, study)[0], directory, as_json)
        return
    if trial is None:
        raise StudyFileError("name the trial to export: --trial N (or --format deepcave for the whole study)")
    s, spec = open_study(study_file, store, study)
    written = export_trial(s, trial, directory, study_file=spec.path if spec else None)
    if as_json:
        emit_json({"study": s.name, "trial": trial, "directory": str(directory), "files": [str(p) for p in written]})
        return
    console.print(f"exported trial {trial} of {s.name} to {directory}: " + ", ".join(p.name for p in written), highlight=False, markup=False)
