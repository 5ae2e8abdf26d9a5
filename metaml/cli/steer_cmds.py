"""The expert in the loop on the command line: ``pin``, ``unpin``, ``prior``, ``narrow``, ``limit``, ``note``, ``enqueue``.

Each command writes one intervention event (``metaml.interventions``) with its author (the
login name unless ``--author``) and ``--reason``, or refuses with one line and writes
nothing. A running ``metaml run`` takes it in at its next decision; ``metaml interventions``
lists what was done, and the report and the model card show it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from metaml.cli.common import JSON_OPT, STORE_OPT, STUDY_OPT, console, emit_json, friendly_errors, open_study
from metaml.core.interventions import Intervention
from metaml.errors import SpaceError, UsageError
from metaml.interventions import default_author
from metaml.safe_yaml import read_yaml
from metaml.study import Study

AUTHOR_OPT = typer.Option(None, "--author", help="Who intervenes (default: your login name).")
REASON_OPT = typer.Option("", "--reason", "-r", help="Why, in a few words: it goes into the decision log and the report.")
FIRST_ARG = typer.Argument(..., help="The study YAML file (or, with --study, the operation's argument).")


def _study_and_argument(first: str, second: str | None, store: str | None, name: str | None,
                        what: str) -> tuple[Study, str]:
    """The study the command names and its one argument: ``FILE ARG``, or ``ARG`` with ``--study``."""
    if second is None:
        if not name:
            raise UsageError(f"give the study's YAML file and {what}, e.g. `metaml pin study.yaml optimizer=adam`")
        return open_study(None, store, name)[0], first
    return open_study(first, store, name)[0], second


def _assignment(text: str, example: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise UsageError(f"expected PARAM=VALUE (e.g. {example}), got {text!r}")
    return name.strip(), value.strip()


def _done(study: Study, intervention: Intervention, as_json: bool) -> None:
    if as_json:
        emit_json({"study": study.name, **intervention.data(), "trial": intervention.trial})
        return
    when = "" if intervention.action == "note" else "; it applies from the next decision on"
    console.print(f"{escape(study.name)}: {escape(intervention.describe())}{when}", highlight=False)


@friendly_errors
def pin(
    first: str = FIRST_ARG,
    second: str = typer.Argument(None, help="PARAM=VALUE, e.g. optimizer=adam."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Fix a parameter's value for the rest of the study (whenever the parameter is active)."""
    s, text = _study_and_argument(first, second, store, study, "PARAM=VALUE")
    name, value = _assignment(text, "optimizer=adam")
    _done(s, s.pin(name, value, author=author, reason=reason), as_json)


@friendly_errors
def unpin(
    first: str = FIRST_ARG,
    second: str = typer.Argument(None, help="The pinned parameter."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Search a pinned parameter again."""
    s, name = _study_and_argument(first, second, store, study, "the parameter")
    _done(s, s.unpin(name.strip(), author=author, reason=reason), as_json)


@friendly_errors
def prior(
    first: str = FIRST_ARG,
    second: str = typer.Argument(None, help="PARAM=VALUE, e.g. lr=0.003."),
    confidence: str = typer.Option("medium", "--confidence", "-c", help="low, medium or high."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Set or change a parameter's expert prior: prior-aware optimizers sample around it from now on."""
    s, text = _study_and_argument(first, second, store, study, "PARAM=VALUE")
    name, value = _assignment(text, "lr=0.003")
    _done(s, s.prior(name, value, confidence, author=author, reason=reason), as_json)


@friendly_errors
def narrow(
    first: str = FIRST_ARG,
    second: str = typer.Argument(None, help="PARAM=LOW..HIGH, e.g. lr=1e-4..1e-2."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Shrink a numeric parameter's range (never past the range it has now)."""
    s, text = _study_and_argument(first, second, store, study, "PARAM=LOW..HIGH")
    name, value = _assignment(text, "lr=1e-4..1e-2")
    low, sep, high = value.partition("..")
    if not sep or not low.strip() or not high.strip():
        raise UsageError(f"expected PARAM=LOW..HIGH (e.g. lr=1e-4..1e-2), got {text!r}")
    _done(s, s.narrow(name, low.strip(), high.strip(), author=author, reason=reason), as_json)


_LIMIT = re.compile(r"^\s*(?P<name>[^<>=]+?)\s*(?P<op><=|>=|=)\s*(?P<value>\S.*?)\s*$")


@friendly_errors
def limit(
    first: str = FIRST_ARG,
    second: str = typer.Argument(None, help="OBJECTIVE<=VALUE (a minimized one), OBJECTIVE>=VALUE, or OBJECTIVE=none."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Set, change or remove an objective's limit: the front, the best and the report re-rank at once."""
    s, text = _study_and_argument(first, second, store, study, "OBJECTIVE<=VALUE")
    found = _LIMIT.match(text)
    if found is None:
        raise UsageError(f"expected OBJECTIVE<=VALUE, OBJECTIVE>=VALUE or OBJECTIVE=none (e.g. 'latency_ms<=5'), got {text!r}")
    op, value = found["op"], found["value"]
    removing = value.lower() in ("none", "null")
    _done(s, s.limit(found["name"], None if removing else value, op=None if op == "=" else op,
                     author=author, reason=reason), as_json)


@friendly_errors
def note(
    first: str = FIRST_ARG,
    second: str = typer.Argument(None, help="The note's text."),
    trial: int = typer.Option(None, "--trial", "-t", help="The trial the note is about (default: the study)."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, as_json: bool = JSON_OPT,
) -> None:
    """Annotate the study (or one trial) for the audit: the note changes no decision."""
    s, text = _study_and_argument(first, second, store, study, "the note's text")
    _done(s, s.note(text, trial, author=author), as_json)


@friendly_errors
def enqueue(
    study_file: str = typer.Argument(None, help="The study YAML file."),
    config: str = typer.Option(None, "--config", help="A configuration as JSON, e.g. '{\"lr\": 0.01, \"optimizer\": \"adam\"}'."),
    from_file: str = typer.Option(None, "--file", help="A YAML or JSON file of one configuration or a list of them."),
    fidelity: float = typer.Option(None, "--fidelity", help="The fidelity to train them to (default: a full run)."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Queue configurations to try next (checked against the space as steered so far; all or none are queued)."""
    s, _ = open_study(study_file, store, study)
    configs = _configs(config, from_file)
    try:
        checked = [s.check_config(c) for c in configs]  # every one first: a bad one queues none
    except SpaceError as exc:
        if "is missing" not in str(exc):
            raise
        raise SpaceError(f"{exc}; a queued configuration gives every active parameter (start from a trial's: "
                         "`metaml export --trial N DIR` writes it as config.json)") from None  # fmt: skip
    who = author or default_author()
    records = [s.enqueue(c, fidelity, reason, author=who) for c in checked]
    if as_json:
        emit_json({"study": s.name, "queued": [{"trial": r.number, "config": r.config, "fidelity": r.fidelity}
                                               for r in records]})
        return
    for r in records:
        console.print(f"{escape(s.name)}: queued trial {r.number} {escape(json.dumps(r.config))} by {escape(who)}",
                      highlight=False)


def _configs(config: str | None, from_file: str | None) -> list[dict[str, Any]]:
    if (config is None) == (from_file is None):
        raise UsageError("give the configuration with --config '{...}' or a file of them with --file")
    if config is not None:
        try:
            data: Any = json.loads(config)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--config is not JSON: {exc}") from None
    else:
        assert from_file is not None
        data = read_yaml(Path(from_file)).data  # JSON is YAML too
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(c, dict) for c in items):
        raise UsageError("a configuration is a mapping of parameter names to values (or give a list of them)")
    return items


@friendly_errors
def interventions(
    study_file: str = typer.Argument(None, help="The study YAML file."),
    store: str = STORE_OPT, study: str = STUDY_OPT, as_json: bool = JSON_OPT,
) -> None:
    """List the interventions so far, oldest first: who did what, when and why."""
    import time

    s, _ = open_study(study_file, store, study)
    done = s.interventions()
    if as_json:
        emit_json([{**i.data(), "trial": i.trial, "time": i.time} for i in done])
        return
    if not done:
        console.print(f"{escape(s.name)}: no interventions yet", highlight=False)
    for i in done:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(i.time))
        console.print(f"{stamp}  {escape(i.describe())}", highlight=False)


@friendly_errors
def choose(
    study_file: str = typer.Argument(None, help="The study YAML file."),
    pick: int = typer.Option(None, "--pick", help="Record front model N as the trade-off chosen."),
    store: str = STORE_OPT, study: str = STUDY_OPT, author: str = AUTHOR_OPT, reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """The Pareto front in plain words, to pick a trade-off from; --pick N records the choice."""
    from metaml.report.choice import choice_sheet

    s, _ = open_study(study_file, store, study)
    if pick is not None:
        made = s.choose(pick, author=author, reason=reason)
        if not as_json:
            _done(s, made, False)
    sheet = choice_sheet(s)
    if as_json:
        emit_json(sheet.to_dict())
        return
    _print_sheet(sheet)


def _print_sheet(sheet: Any) -> None:
    from rich.table import Table

    console.print(f"[bold]What the objectives of {escape(sheet.study)} measure[/]", highlight=False)
    for o in sheet.objectives:
        unit = f" [{escape(o.unit)}]" if o.unit else ""
        console.print(f"- {escape(o.name)}{unit}: {escape(o.meaning)}; {o.better}; limit: {escape(o.limit)}", highlight=False)
    if sheet.default_trial is None:
        console.print("No run of the default configuration completed, so the models are not compared with it.",
                      highlight=False)
    else:
        console.print(f"The default configuration ran as trial {sheet.default_trial}: each model is compared with it.",
                      highlight=False)
    if not sheet.front:
        console.print(f"The front is empty: {escape(sheet.note or 'no model respects every limit')}", highlight=False)
        return
    console.print(f"The trade-offs to choose from ({len(sheet.front)} models on the front):", highlight=False)
    table = Table()
    table.add_column("trial", justify="right")
    for o in sheet.objectives:
        table.add_column(escape(o.name + (f" ({o.unit})" if o.unit else "")))
    for m in sheet.front:
        cells = [f"{m.metrics[o.name]:.4g}" + (f"\n{escape(m.versus_default[o.name])}" if m.versus_default[o.name] else "")
                 for o in sheet.objectives]
        table.add_row(f"{m.trial}{' (chosen)' if m.chosen else ''}", *cells)
    console.print(table)
    if not any(m.chosen for m in sheet.front):
        console.print("To record a choice: metaml choose STUDY.yaml --pick N --reason '...'", highlight=False,
                      markup=False)
