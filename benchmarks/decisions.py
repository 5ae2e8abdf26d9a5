"""What a decision costs the store: overhead by study size, report latency under a slow decision, reads per report.

Run: ``python -m benchmarks.decisions [--sizes 50,2000] [--points-per-trial 25] [--workers 4]``

Three measurements, each for the current core (decisions on a view brought up to date by
deltas, committed against the version they were made on) next to the earlier one in the
same run (the history read and the optimizer called inside the write lock, ``SQLStore.ask``):

1. **Store overhead per hyperband decision** at each study size: the seconds of ``ask``
   outside the optimizer's own work, median of repeated decisions, each after one trial
   finished (a worker's steady state).
2. **Report latency while a ~1 s ``bo`` decision is made** on SQLite: N-1 worker processes
   report a curve point and beat their heartbeat in a loop while one process decides; p50 and
   p99 of a report, next to the same reporters while nothing is decided (what the machine
   and SQLite's own commits cost).
3. **Store reads per report** (a curve point plus ASHA's ``should_stop``): SQL statements
   counted at each study size.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import event

from metaml import Fidelity, Float, Space, Study, TrialStatus
from metaml.core.view import StudyView
from metaml.store import Proposal, TrialRecord

SPACE = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "epochs": Fidelity(1, 27)})


def build_study(url: str, name: str, trials: int, points: int, optimizer: Any) -> Study:
    """A finished study of ``trials`` trials with ``points`` curve points each, written through the store."""
    study = Study.create(name, SPACE, "loss", store=url, optimizer=optimizer, seed=0)
    store = study.store
    for number in range(trials):
        config = {"x": (number * 0.618) % 1.0, "y": (number * 0.414) % 1.0}
        fidelity = float(3 ** (number % 4))
        store.enqueue(study.id, Proposal(config, min(fidelity, 27.0), None, "built"))
        store.claim_pending(study.id, "bench")
        for step in range(1, points + 1):
            store.add_observation(study.id, number, float(step), {"loss": config["x"] + 1.0 / step})
        store.finish(study.id, number, TrialStatus.COMPLETED, metrics={"loss": config["x"]}, cost_fte=fidelity / 27)
    return study


def _timed_optimizer(study: Study) -> list[float]:
    """Wrap the optimizer's ask so that its own seconds can be taken out of the decision's."""
    spent: list[float] = []
    real = study.optimizer.propose

    def propose(view: StudyView) -> Any:
        began = time.perf_counter()
        try:
            return real(view)
        finally:
            spent.append(time.perf_counter() - began)

    study.optimizer.propose = propose  # type: ignore[method-assign]
    return spent


def overhead(study: Study, decide: Callable[[Study], Any], repeats: int) -> float:
    """Median seconds of a decision outside the optimizer, each decision after one trial finished."""
    spent = _timed_optimizer(study)
    samples = []
    for _ in range(repeats):
        spent.clear()
        began = time.perf_counter()
        record = decide(study)
        total = time.perf_counter() - began
        samples.append(total - sum(spent))
        if record is not None:
            study.store.finish(study.id, record.number, TrialStatus.COMPLETED, metrics={"loss": 0.5})
    return statistics.median(samples)


def decide_on_view(study: Study) -> TrialRecord | None:
    trial = study.ask("bench")
    return None if trial is None else trial.record


def decide_under_lock(study: Study) -> TrialRecord | None:
    """The old way: the whole study read and the optimizer asked inside the write lock."""
    return study.store.ask(study.id, "bench", lambda changes: study.optimizer.propose(StudyView().apply(changes)))


def count_reads(study: Study, reports: int) -> float:
    """SQL statements per report of a curve point plus ASHA's should_stop, on a running trial."""
    trial = study.ask("bench")
    assert trial is not None
    trial.report(1, loss=0.5)
    trial.should_stop()  # warm the view
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(study.store.engine, "before_cursor_execute", count)
    try:
        for step in range(2, 2 + reports):
            trial.report(step, loss=0.5 / step)
            trial.should_stop()
    finally:
        event.remove(study.store.engine, "before_cursor_execute", count)
    return statements[0] / reports


# ------------------------------------------------------------ latency under a slow decision
def _reporter(url: str, name: str, number: int, seconds: float, out: Any) -> None:
    study = Study.load(name, url)
    latencies = []
    deadline = time.time() + seconds
    step = 0
    while time.time() < deadline:
        step += 1
        began = time.perf_counter()
        study.store.add_observation(study.id, number, float(step), {"loss": 1.0 / step})
        study.store.heartbeat(study.id, number, f"reporter-{number}")
        latencies.append(time.perf_counter() - began)
        time.sleep(0.02)
    out.put(latencies)


def _decider(url: str, name: str, seconds: float, under_lock: bool | None, out: Any) -> None:
    """Decide in a loop (None: decide nothing, so that the reporters' own latency shows alone)."""
    study = Study.load(name, url)
    asks = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        began = time.perf_counter()
        if under_lock is None:
            time.sleep(0.5)
            asks.append(time.perf_counter() - began)
            continue
        record = decide_under_lock(study) if under_lock else decide_on_view(study)
        asks.append(time.perf_counter() - began)
        if record is not None:
            study.store.finish(study.id, record.number, TrialStatus.COMPLETED, metrics={"loss": 0.4})
    out.put(asks)


def report_latency(folder: Path, workers: int, seconds: float, under_lock: bool | None, tag: str) -> dict[str, float]:
    url = f"sqlite:///{folder / f'latency-{tag}.db'}"
    study = build_study(url, "lat", 30, 5, {"name": "bo"})
    for i in range(workers - 1):  # the trials the reporters hold
        study.store.enqueue(study.id, Proposal({"x": 0.1 * i, "y": 0.5}, 27.0))
        study.store.claim_pending(study.id, f"reporter-{30 + i}")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_decider, args=(url, "lat", seconds, under_lock, out))]
    procs += [ctx.Process(target=_reporter, args=(url, "lat", 30 + i, seconds, out)) for i in range(workers - 1)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    asks = max(results, key=lambda r: statistics.median(r) if r else 0.0)  # the decider's are the long ones
    reports = sorted(x for r in results if r is not asks for x in r)
    return {
        "ask_median_s": statistics.median(asks) if asks else float("nan"),
        "report_p50_ms": 1000 * reports[len(reports) // 2],
        "report_p99_ms": 1000 * reports[min(len(reports) - 1, int(0.99 * len(reports)))],
        "reports": float(len(reports)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decisions", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,2000", help="study sizes in trials")
    parser.add_argument("--points-per-trial", type=int, default=25, help="curve points per trial (2,000 x 25 = 50,000)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the latency measurement")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    console = Console()
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, Any] = {"overhead_ms": {}, "reads_per_report": {}, "latency": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        table = Table(title="store overhead of one hyperband decision, and store reads per report (SQLite)")
        for column in ("trials", "curve points", "view + commit (ms)", "under the lock (ms)", "reads per report"):
            table.add_column(column, justify="right")
        for size in sizes:
            url = f"sqlite:///{folder / f'size-{size}.db'}"
            view_study = build_study(url, "view", size, args.points_per_trial, {"name": "hyperband", "eta": 3})
            on_view = overhead(view_study, decide_on_view, args.repeats)
            lock_study = Study.load("view", url)
            under_lock = overhead(lock_study, decide_under_lock, args.repeats)
            asha = build_study(url, "asha", size, args.points_per_trial, {"name": "asha", "eta": 3})
            reads = count_reads(asha, 20)
            figures["overhead_ms"][size] = {"view": 1000 * on_view, "lock": 1000 * under_lock}
            figures["reads_per_report"][size] = reads
            table.add_row(str(size), str(size * args.points_per_trial), f"{1000 * on_view:.2f}",
                          f"{1000 * under_lock:.2f}", f"{reads:.1f}")  # fmt: skip
        console.print(table)
        latency = Table(title=f"report latency while bo decides, {args.workers} workers on SQLite ({args.seconds:g} s)")
        for column in ("decisions", "bo ask median (s)", "report p50 (ms)", "report p99 (ms)", "reports"):
            latency.add_column(column, justify="right")
        for label, lock in (("none (reporters alone)", None), ("view + commit", False), ("under the lock", True)):
            row = report_latency(folder, args.workers, args.seconds, lock, {None: "none", False: "view", True: "lock"}[lock])
            figures["latency"][label] = row
            latency.add_row(label, f"{row['ask_median_s']:.2f}", f"{row['report_p50_ms']:.1f}",
                            f"{row['report_p99_ms']:.1f}", f"{row['reports']:.0f}")  # fmt: skip
        console.print(latency)
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
