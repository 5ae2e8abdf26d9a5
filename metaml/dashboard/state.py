"""What the dashboard shows, as plain data read from the store: progress, running trials, the front, the log."""

from __future__ import annotations

import time
from typing import Any

from metaml.budget import parse_budget
from metaml.core.records import TrialStatus
from metaml.progress import budget_dict, optimizer_choice
from metaml.space import Fidelity
from metaml.study import Study

#: The most recent decision-log lines the page shows (the report has them all).
LOG_LINES = 200


def dashboard_state(study: Study) -> dict[str, Any]:
    """The study as the dashboard draws it (JSON-able), from this process's view brought up to date."""
    view = study.view()
    trials = view.trials
    now = time.time()
    counts = {s.value: sum(1 for t in trials if t.status is s) for s in TrialStatus}
    budget = parse_budget(dict(study.metadata.budget)) if study.metadata.budget else None
    results = study.results(trials)
    names = [o.name for o in study.objectives]
    running = []
    for t in trials:
        if t.status is TrialStatus.RUNNING:
            curve = view.curve(t.number)
            running.append({"number": t.number, "config": t.config, "fidelity": t.fidelity, "worker": t.worker,
                            "step": curve[-1].step if curve else None, "age_s": now - (t.started_at or now),
                            "curve": [[o.step, {k: v for k, v in o.metrics.items() if k in names}] for o in curve]})
    front = []
    for t in sorted(results.front, key=lambda t: t.number):
        front.append({"number": t.number, "config": t.config, "metrics": t.metrics, "fidelity": t.fidelity,
                      "cost_fte": t.cost_fte,
                      "curve": [[o.step, {k: v for k, v in o.metrics.items() if k in names}] for o in view.curve(t.number)]})
    final = [{"number": t.number, "metrics": {n: (t.metrics or {}).get(n) for n in names}} for t in results.final]
    steered = study.space_as_of(view)
    return {
        "study": study.name,
        "optimizer": optimizer_choice(study.optimizer),
        "objectives": [o.to_dict() for o in study.objectives],
        "trials": counts,
        "budget": budget_dict(budget, trials),
        "running": running,
        "front": front,
        "final": final,
        "front_note": results.front_note(),
        "best": None if (best := results.best()) is None else best.number,
        "interventions": [{**i.data(), "trial": i.trial, "time": i.time, "what": i.what()} for i in view.interventions],
        "log": [{"time": e.time, "kind": e.kind, "trial": e.trial_number, "message": e.message}
                for e in view.events[-LOG_LINES:]],
        "parameters": [n for n, p in study.space.parameters.items() if not isinstance(p, Fidelity)],
        "steered_space": steered.to_dict(),
        "updated_at": now,
    }


__all__ = ["LOG_LINES", "dashboard_state"]
