"""What a running study looks like in one glance: trials, the budget spent, time left, the best, the running trials.

One renderer for ``metaml run`` and ``Study.optimize(progress=True)``: ``progress_text``
builds a Rich ``Text`` from one read of the trials (no observations, no front unless there
are several objectives), and ``progress_line`` is its plain one-line form for logs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from metaml.budget import Budget
from metaml.core.records import TrialRecord, TrialStatus

BAR_WIDTH = 24


def optimizer_choice(optimizer: Any) -> dict[str, Any]:
    """The optimizer's name, and for ``auto`` the one it chose and why."""
    settings = getattr(optimizer, "settings", {}) or {}
    choice: dict[str, Any] = {"name": optimizer.name}
    if optimizer.name == "auto":
        choice.update(chosen=settings.get("chosen"), why=settings.get("why"))
    return choice


def budget_dict(budget: Budget | None, trials: Sequence[TrialRecord], elapsed: float | None = None) -> dict[str, Any]:
    """The budget's limits, what is spent of each (FTE, trials, seconds) and what is left."""
    spent = math.fsum(t.cost_fte for t in trials)  # exact: 8 trials of 1 FTE in pieces print 8.0, not 7.999999999999999
    data: dict[str, Any] = {"fte_spent": spent, "trials_spent": len(trials)}
    if budget is None:
        return data
    data.update(budget.to_dict())
    if budget.fte is not None:
        data["fte_left"] = max(0.0, budget.fte - spent)
    if budget.trials is not None:
        data["trials_left"] = max(0, budget.trials - len(trials))
    if budget.seconds is not None and elapsed is not None:
        data["seconds_left"] = max(0.0, budget.seconds - elapsed)
    return data


def _eta(budget: Budget, spent_fte: float, done: int, n_trials: int, elapsed: float) -> float | None:
    """Seconds left at the rate so far (FTE per second, else trials per second, else the time budget)."""
    left: list[float] = []
    if budget.fte is not None and spent_fte > 0:
        left.append(elapsed * max(0.0, budget.fte - spent_fte) / spent_fte)
    elif budget.trials is not None and done > 0:
        left.append(elapsed * max(0, budget.trials - n_trials) / done)
    if budget.seconds is not None:
        left.append(max(0.0, budget.seconds - elapsed))
    return min(left) if left else None


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def best_text(study: Any) -> str:
    """The best value (one objective) or the front's size and normalized hypervolume."""
    if len(study.objectives) == 1:
        best, obj = study.best(), study.objectives[0]
        return f"best {obj.name}={best.metrics[obj.name]:.4g} (trial {best.number})" if best and best.metrics else "best -"
    front = study.pareto_front()
    if not front:
        return "front -"
    study.record_reference()  # the decision log says when the reference moved, and why
    hv, fte = study.hypervolume(), study.cost_fte()
    per_fte = f" ({hv / fte:.4g} per FTE)" if fte > 0 else ""
    return f"front {len(front)} trials, hypervolume {hv:.4g}{per_fte}"


def summary(study: Any, budget: Budget, started: float, trials: Sequence[TrialRecord] | None = None) -> dict[str, Any]:
    """The numbers the display shows, from one read of the trials."""
    trials = study.trials() if trials is None else trials
    elapsed = time.time() - started
    done = sum(1 for t in trials if t.status is TrialStatus.COMPLETED)
    failed = sum(1 for t in trials if t.status in (TrialStatus.FAILED, TrialStatus.LOST))
    running = [t for t in trials if t.status is TrialStatus.RUNNING]
    spent = math.fsum(t.cost_fte for t in trials)  # exact: 8 trials of 1 FTE in pieces print 8.0, not 7.999999999999999
    return {
        "done": done, "failed": failed, "running": [(t.number, t.end_step or t.start_step or 0.0, t.fidelity) for t in running],
        "fte": spent, "budget_fte": budget.fte, "elapsed": elapsed,
        "eta": _eta(budget, spent, done + failed, len(trials), elapsed), "best": best_text(study),
    }


def format_line(s: dict[str, Any]) -> str:
    """One summary as a plain line."""
    of = f"/{s['budget_fte']:g}" if s["budget_fte"] is not None else ""
    eta = f" · left ~{_clock(s['eta'])}" if s["eta"] is not None else ""
    return (f"trials {s['done']} done, {len(s['running'])} running, {s['failed']} failed · FTE {s['fte']:.2f}{of}"
            f" · elapsed {_clock(s['elapsed'])}{eta} · {s['best']}")  # fmt: skip


def format_text(s: dict[str, Any]) -> Text:
    """One summary as the live display: the line, a bar of the FTE budget, one line per running trial."""
    out = Text(format_line(s))
    if s["budget_fte"]:
        share = min(1.0, s["fte"] / s["budget_fte"])
        filled = round(share * BAR_WIDTH)
        out.append("\nFTE ")
        out.append("█" * filled, style="green")
        out.append("░" * (BAR_WIDTH - filled), style="dim")
        out.append(f" {share:.0%} of {s['budget_fte']:g}")
    for number, reached, target in s["running"]:
        goal = f"/{target:g}" if target is not None else ""
        out.append(f"\n  trial {number} running: epoch {reached:g}{goal}")
    return out


def ticked(s: dict[str, Any], started: float, read_at: float) -> dict[str, Any]:
    """The summary read at ``read_at`` with the clock moved to now (the ETA counts down with it)."""
    now = time.time()
    out = dict(s, elapsed=now - started)
    if s["eta"] is not None:
        out["eta"] = max(0.0, s["eta"] - (now - read_at))
    return out


def progress_line(study: Any, budget: Budget, started: float) -> str:
    """The display in one plain line (logs, CI, a pipe)."""
    return format_line(summary(study, budget, started))


def progress_text(study: Any, budget: Budget, started: float) -> Text:
    """The live display from one read of the trials."""
    return format_text(summary(study, budget, started))


def live_progress(study: Any, budget: Budget, started: float, console: Any, run: Any) -> Any:
    """Call ``run(on_trial)`` under a live display, redrawn once a second and read again at each finished trial.

    The store is read in this thread only (at each finished trial); the redraw in between
    only moves the clock, so a refresh costs nothing.
    """
    from rich.live import Live

    state: dict[str, Any] = {"summary": summary(study, budget, started), "read_at": time.time()}

    def read() -> None:
        state.update(summary=summary(study, budget, started), read_at=time.time())

    def on_trial(record: TrialRecord) -> None:
        read()
        if record.status is TrialStatus.FAILED:
            live.console.print(Text.assemble((f"trial {record.number} failed: ", "red"), str(record.error)))

    def render() -> Text:
        return format_text(ticked(state["summary"], started, state["read_at"]))

    with Live(get_renderable=render, console=console, refresh_per_second=1, transient=False) as live:
        result = run(on_trial)
        read()
        live.refresh()
    return result
