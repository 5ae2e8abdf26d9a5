"""The self-contained HTML report: one file, Plotly's JavaScript embedded once, no network needed.

The Jinja2 template escapes everything by default (parameter names, choices, error
messages and the study YAML are all the user's text). Figure data goes into one
``<script type="application/json">`` block in which every ``<``, ``>`` and ``&`` is written
as a JSON unicode escape, so no text inside can close the script element.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from plotly.offline import get_plotlyjs
from plotly.utils import PlotlyJSONEncoder

from metaml.lineage import lineage
from metaml.report.figures import all_figures
from metaml.report.summary import ReportData, gather
from metaml.study import Study

TEMPLATES = Path(__file__).parent / "templates"

#: One plain sentence per section on how to read it, for someone who has never seen such a plot.
HOW_TO_READ = {
    "summary": "Read this first: it says what the search looked for, what it cost, and how its best result "
               "compares with the default settings.",
    "pareto": "Each dot is a fully trained configuration; red dots are the best trade-offs (no other "
              "configuration beats them on every objective), faded dots are beaten by a red one, and "
              "pointing at a dot shows its settings.",
    "trajectory": "The line shows how good the best result found so far was after each amount of training "
                  "spent, so a line that goes flat means that more search bought little.",
    "learning-curves": "Each line is one trial's score as it trained; the colour says how long it was allowed "
                       "to train, and a dotted line joins a short run to the longer run that continued it.",
    "oneshot": "Each line is the weight the one-shot search's supernet gave one candidate (a layer kept, a width, "
               "an activation) as it trained; the candidates with the larger weights at the end, checked one by "
               "one on held-out rows, make the derived architecture.",
    "importance": "Longer bars mark the settings that change the result most according to a model fitted to "
                  "the trials, and the curves show the predicted result as one setting varies while the "
                  "others are averaged out.",
    "ablation": "Starting from the configuration in row 0, each row changes one setting to its value in the chosen "
                "configuration, in the order that helps most, and gives the predicted result after the change.",
    "schedule": "Each row is one interval of training the best model went through, oldest first: the trial that "
                "trained it, how it came to be (a member continuing its own run, or exploiting another's), the steps "
                "it trained, what it cost and the values of the parameters that may change during a run.",
    "failures": "Trials that crashed or were lost, grouped by their error message, with how often each "
                "message came up and which trials it hit.",
    "interventions": "What experts changed while the search ran (a fixed setting, a narrowed range, a new prior or "
                     "limit, a configuration to try, a note), who did it, when and why; each applied to the "
                     "decisions made after it, never to trials already running.",
    "decisions": "Every decision the optimizer and the workers made, in order, with the reason each one gave.",
    "reproducibility": "What you need to run the study, or any single trial, again: the versions, the seed, "
                       "the study file, the data and the code.",
}


def _script_json(value: Any) -> Markup:
    """JSON that is safe inside a <script> element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, cls=PlotlyJSONEncoder, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "–"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    env.filters["when"] = _when
    env.filters["duration"] = _duration
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    return env


def _comparison(data: ReportData) -> list[dict[str, Any]]:
    """Columns of the default-against-best table: the default, then the best trial of each objective."""
    names = [o.name for o in data.study.objectives]
    default = data.default
    measured = default["metrics"] is not None
    columns: list[dict[str, Any]] = [{
        "title": f"default (trial {default['trial']})" if measured else "default (not run)",
        "metrics": default["metrics"] if measured else default["predicted"],
        "predicted": not measured,
        "config": default["config"],
    }]
    seen: dict[int, dict[str, Any]] = {}
    for name, t in data.best.items():
        if t is None:
            continue
        if t.number in seen:
            seen[t.number]["title"] += f", {name}"
            continue
        seen[t.number] = {
            "title": f"trial {t.number}: best {name}" if len(names) > 1 else f"best: trial {t.number}",
            "metrics": {n: (t.metrics or {}).get(n) for n in names},
            "predicted": False,
            "config": t.config,
        }
        columns.append(seen[t.number])
    return columns


def _ablation_start(data: ReportData) -> str:
    """What row 0 of the ablation path is, in words: the pipeline's default trial, or the space's default."""
    path = data.ablation
    if path is None:
        return ""
    pipeline = data.default.get("pipeline")
    if pipeline and path.start_trial is not None and path.start_trial == data.default.get("recorded_trial"):
        return f"the {pipeline} pipeline's default configuration, trained as trial {path.start_trial}"
    space = "the space's default configuration (each parameter's prior, or its middle value or first choice)"
    return f"{space}, trained as trial {path.start_trial}" if path.start_trial is not None else f"{space}, which no trial ran"


def _decisions(data: ReportData) -> list[dict[str, Any]]:
    """The event log as rows; a proposal that continues another trial is called a promotion."""
    start = data.study.record.created_at
    rows = []
    for e in data.events:
        label = e.kind
        if e.kind == "proposal" and e.data.get("continue_from") is not None:
            label = "promotion"
        rows.append({"offset": max(0.0, e.time - start), "kind": label, "label": label.replace("_", " "),
                     "trial": e.trial_number, "message": e.message})
    return rows


def _interval(found: Any) -> str:
    """`` [low, high]`` after a value with a stored interval; nothing otherwise."""
    if isinstance(found, dict) and "low" in found and "high" in found:
        return f" [{_fmt(found['low'])}, {_fmt(found['high'])}]"
    return ""


def _level(data: ReportData) -> float:
    for t in data.front:
        for found in (t.details.get("intervals") or {}).values():
            if isinstance(found, dict) and "level" in found:
                return float(found["level"])
    return 0.95


def _schedule(data: ReportData) -> dict[str, Any] | None:
    """The lineage and schedulable values of the best full run that went through several trials (a PBT member's)."""
    names = list(data.study.space.schedulable)
    if not names:
        return None
    objective = data.study.objectives[0]
    chains = [(t, lineage(t, data.trials)) for t in data.final]
    chains = [(t, c) for t, c in chains if len(c.links) > 1 and (t.metrics or {}).get(objective.name) is not None]
    if not chains:
        return None
    best, chain = min(chains, key=lambda tc: (objective.sign * float((tc[0].metrics or {})[objective.name]), tc[0].number))
    return {"trial": best.number, "links": chain.links, "cost": chain.cost_fte, "names": names}


def render(data: ReportData) -> str:
    """The report of ``data`` as one HTML document."""
    figures = {key: fig.to_plotly_json() for key, fig in all_figures(data).items()}  # type: ignore[attr-defined]
    template = _environment().get_template("report.html.j2")
    study = data.study
    return template.render(
        d=data,
        study=study,
        objectives=study.objectives,
        names=[o.name for o in study.objectives],
        params=list(study.space.searchable),
        how=HOW_TO_READ,
        figures=figures,
        figure_json=_script_json(figures),
        plotly_js=Markup(get_plotlyjs()),
        on_front={t.number for t in data.front},
        comparison=_comparison(data),
        ablation_start=_ablation_start(data),
        decisions=_decisions(data),
        interval=_interval,
        level=_level(data),
        schedule=_schedule(data),
        front_rows=sorted(data.front, key=lambda t: study.objectives[0].sign * (t.metrics or {})[study.objectives[0].name]),
        created=study.record.created_at,
    )


def write_report(
    study: Study, path: str | Path, *, study_file: str | Path | None = None, target: int | None = None
) -> ReportData:
    """Gather the study's report and write it to ``path``; return what it shows."""
    data = gather(study, study_file=study_file, target=target)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return data
