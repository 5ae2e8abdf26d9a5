"""The report's part on warm start: the earlier studies, what was taken from each, and their weights over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metaml.core.records import TrialRecord
from metaml.study import Study


def warm_start_summary(study: Study, trials: Sequence[TrialRecord]) -> dict[str, Any]:
    """The earlier studies (as frozen at creation) and, trial by trial, what the transfer decided and weighed.

    Empty when the study was not warm-started. Every number comes from the store: the
    sources from the study's metadata, the weights from each trial's ``info["transfer"]``.
    """
    sources = study.view().warm_start
    if not sources:
        return {}
    steps = []
    for t in trials:
        record = t.info.get("transfer")
        if isinstance(record, dict):
            steps.append({"trial": t.number, "method": record.get("method"), "weights": record.get("weights"),
                          "this_study": record.get("this_study"), "from": record.get("from"),
                          "dropped": record.get("dropped") or []})
    return {
        "sources": [{"name": s.name, "store": s.store, "uid": s.uid, "observations": len(s.observations),
                     "n_trials": s.n_trials, "cost_fte": s.cost_fte, "notes": list(s.notes),
                     "objectives": dict(s.objectives)} for s in sources],
        "steps": steps,
        "portfolio": sum(1 for s in steps if s["method"] == "portfolio"),
        "rgpe": sum(1 for s in steps if s["method"] == "rgpe"),
    }
