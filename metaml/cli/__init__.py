"""The ``metaml`` command line (Typer + Rich)."""

from __future__ import annotations

import faulthandler
import logging

import typer

from metaml.cli import integration_cmds, report_cmds, steer_cmds, views
from metaml.cli.common import DEBUG
from metaml.cli.dashboard_cmd import dashboard
from metaml.cli.import_cmds import import_app
from metaml.cli.run import run
from metaml.cli.worker_cmd import worker

app = typer.Typer(
    name="metaml",
    help="Optimize a whole deep-learning pipeline jointly, cheaply and against your objectives.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what metaml does."),
) -> None:
    DEBUG["on"] = DEBUG["on"] or debug
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


app.command()(run)
app.command()(worker)
app.command()(dashboard)
app.command()(views.status)
app.command()(views.pareto)
app.command()(views.trials)
app.command()(views.studies)
app.command()(report_cmds.report)
app.command()(report_cmds.export)
app.command()(integration_cmds.tensorboard)
app.command()(integration_cmds.mlflow)
for _steer in (steer_cmds.pin, steer_cmds.unpin, steer_cmds.prior, steer_cmds.narrow, steer_cmds.limit,
               steer_cmds.note, steer_cmds.enqueue, steer_cmds.interventions, steer_cmds.choose):
    app.command()(_steer)
app.add_typer(import_app, name="import")


def main() -> None:
    """Entry point of the ``metaml`` script."""
    # A trial that crashes the interpreter (a segfault in native code) leaves its Python
    # traceback on stderr instead of a bare exit code; the next run records the lost trial.
    faulthandler.enable()
    app()


__all__ = ["app", "main"]
