"""``metaml tensorboard``, ``metaml mlflow`` and ``metaml export --format deepcave``: a study in the tools people use.

Each reads only the store (so it works on a finished or a running study) and imports its
integration only when run, so a missing extra is one line that says what to install.
"""

from __future__ import annotations

import typer

from metaml.cli.common import FILE_ARG, JSON_OPT, STORE_OPT, STUDY_OPT, console, emit_json, friendly_errors, open_study
from metaml.study import Study


@friendly_errors
def tensorboard(
    study_file: str = FILE_ARG,
    logdir: str = typer.Option(..., "--logdir", help="Where to write the event files (a folder per study inside it)."),
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Write every trial's learning curve, its hyperparameters (HParams) and the front as TensorBoard event files."""
    from metaml.integrations.tensorboard import write_tensorboard

    s, _ = open_study(study_file, store, study)
    summary = write_tensorboard(s, logdir)
    if as_json:
        emit_json({"study": s.name, **summary.to_json()})
        return
    console.print(
        f"wrote {len(summary.runs) - 1} trials ({summary.scalars} curve values) and the front of {s.name} to "
        f"{summary.directory}; view them with: tensorboard --logdir {summary.directory}",
        highlight=False, markup=False, soft_wrap=True,
    )  # fmt: skip


@friendly_errors
def mlflow(
    study_file: str = FILE_ARG,
    tracking_uri: str = typer.Option(
        ..., "--tracking-uri", help="file:DIR (a local folder), sqlite:///PATH, or an MLflow server http://HOST:PORT."
    ),
    experiment: str = typer.Option(None, "--experiment", help="The MLflow experiment (default: the study's name)."),
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Log each trial as an MLflow run: params, metrics per step, tags for its status and the trial it continues."""
    from metaml.integrations.mlflow import check_tracking_uri, log_to_mlflow

    check_tracking_uri(tracking_uri)  # a bad URI is refused before the study is even opened
    s, _ = open_study(study_file, store, study)
    summary = log_to_mlflow(s, tracking_uri, experiment)
    if as_json:
        emit_json({"study": s.name, **summary.to_json()})
        return
    console.print(
        f"logged {s.name} to MLflow experiment {summary.experiment!r} at {summary.tracking_uri}: "
        f"{summary.created} runs created, {summary.updated} updated, {summary.points} curve points added",
        highlight=False, markup=False, soft_wrap=True,
    )  # fmt: skip


def export_deepcave(s: Study, directory: str, as_json: bool) -> None:
    """``metaml export --format deepcave DIR``: the study as a DeepCAVE run in DIR."""
    from metaml.integrations.deepcave import export_deepcave as write

    summary = write(s, directory)
    if as_json:
        emit_json({"study": s.name, "format": "deepcave", **summary.to_json()})
        return
    console.print(
        f"exported {s.name} as a DeepCAVE run to {summary.directory}: {summary.trials} trials of "
        f"{summary.configs} configurations at budgets {', '.join(f'{b:g}' for b in summary.budgets) or '-'} "
        f"({', '.join(p.name for p in summary.files)})",
        highlight=False, markup=False, soft_wrap=True,
    )  # fmt: skip
