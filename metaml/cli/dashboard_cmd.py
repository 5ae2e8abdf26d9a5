"""``metaml dashboard``: serve the live dashboard of a study on this machine (loopback only unless told)."""

from __future__ import annotations

import secrets

import typer
from rich.markup import escape

from metaml.cli.common import STORE_OPT, STUDY_OPT, console, err_console, friendly_errors, open_study
from metaml.integrations.base import require


@friendly_errors
def dashboard(
    study_file: str = typer.Argument(None, help="The study YAML file."),
    port: int = typer.Option(8765, "--port", "-p", help="The port to serve on."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to bind (default: this machine only)."),
    store: str = STORE_OPT,
    study: str = STUDY_OPT,
) -> None:
    """Serve a live page of the study: progress, running trials, the front, the log, and the interventions as forms."""
    require("starlette", "dashboard", "metaml dashboard")
    uvicorn = require("uvicorn", "dashboard", "metaml dashboard")
    require("multipart", "dashboard", "metaml dashboard")
    from metaml.dashboard.app import make_app

    s, _ = open_study(study_file, store, study)
    token = secrets.token_urlsafe(24)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]warning:[/] serving on {escape(host)}: anyone who can reach it and has the token "
                          "can steer the study", highlight=False)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"dashboard of {escape(s.name)}: http://{escape(shown)}:{port}/?token={token}", highlight=False,
                  soft_wrap=True)
    uvicorn.run(make_app(s, token), host=host, port=port, log_level="warning")
