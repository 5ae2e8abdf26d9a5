"""Scaling of the executors: sleep-only trials with 1, 2, 4, 8 workers on SQLite and PostgreSQL.

Run: ``python -m benchmarks.scaling [--trial-seconds 1] [--trials-per-worker 10] [--workers 1,2,4,8]``

Prints throughput and parallel efficiency per (store, workers), and the store's own overhead
per trial (ask + tell + one heartbeat) in milliseconds, next to Optuna's RDB storage (ask +
tell) where Optuna is installed. PostgreSQL comes from ``METAML_BENCH_POSTGRES_URL`` or a
throwaway cluster started from the local server binaries; without either it is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from metaml import Float, Space, Study, Trial
from metaml.testing import postgres

SPACE = Space({"x": Float(0.0, 1.0)})


def sleep_trial(config: dict, trial: Trial) -> dict:
    """A trial that only sleeps: what is measured is the executor and the store, not compute."""
    time.sleep(float(os.environ.get("METAML_SCALING_SLEEP", "1.0")))
    return {"loss": config["x"]}


@contextlib.contextmanager
def store_urls(folder: Path) -> Iterator[dict[str, str]]:
    """The stores to measure: a SQLite file always, PostgreSQL when available."""
    urls = {"sqlite": f"sqlite:///{folder / 'scaling.db'}"}
    cluster = None
    admin = os.environ.get("METAML_BENCH_POSTGRES_URL")
    if admin is None and postgres.why_unavailable() is None:
        cluster = postgres.start_cluster()
        admin = cluster.url
    try:
        if admin is not None:
            urls["postgresql"] = admin
        yield urls
    finally:
        if cluster is not None:
            cluster.stop()


def measure_workers(url: str, name: str, workers: int, trials: int) -> dict[str, float]:
    study = Study.create(name, SPACE, ["loss"], store=url, seed=0)
    started = time.time()
    study.optimize(sleep_trial, budget=trials, workers=workers)
    wall = time.time() - started
    records = study.trials()
    first = min(t.started_at or 0.0 for t in records)
    last = max(t.ended_at or 0.0 for t in records)
    busy = sum((t.ended_at or 0.0) - (t.started_at or 0.0) for t in records)
    return {
        "wall_s": wall,
        "steady_s": last - first,
        "throughput_per_s": trials / wall,
        # efficiency = trial time actually spent / (workers x time from first start to last end)
        "efficiency": busy / (workers * (last - first)),
        "efficiency_with_startup": busy / (workers * wall),
    }


def metaml_overhead_ms(url: str, name: str, n: int = 100) -> float:
    """Median milliseconds of ask + heartbeat + tell for one trial, through the study API."""
    study = Study.create(name, SPACE, ["loss"], store=url, seed=0)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        trial = study.ask("bench:1")
        assert trial is not None
        study.store.heartbeat(study.id, trial.number, "bench:1")
        study.tell(trial, {"loss": trial.config["x"]})
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def optuna_overhead_ms(url: str, n: int = 100) -> float | None:
    """The same figure for Optuna's RDB storage (ask + tell), or None when Optuna is absent."""
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, sampler=optuna.samplers.RandomSampler(seed=0))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        study.tell(trial, x)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--trial-seconds", type=float, default=1.0)
    parser.add_argument("--trials-per-worker", type=int, default=10)
    parser.add_argument("--workers", default="1,2,4,8")
    args = parser.parse_args(argv)
    os.environ["METAML_SCALING_SLEEP"] = str(args.trial_seconds)
    console = Console()
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp, store_urls(Path(tmp)) as urls:
        table = Table(title=f"Scaling: {args.trial_seconds:g}-s sleep trials, {args.trials_per_worker} per worker, {os.cpu_count()} cores")
        for col in ("store", "workers", "trials", "wall s", "trials/s", "efficiency", "incl. start-up"):
            table.add_column(col, justify="right")
        overhead = Table(title="Store overhead per trial (median ms)")
        for col in ("store", "metaml ask+heartbeat+tell", "optuna RDB ask+tell", "ratio"):
            overhead.add_column(col, justify="right")
        for store_name, url in urls.items():
            for i, w in enumerate(counts):
                with _store_for(store_name, url, Path(tmp), f"scale{i}") as u:
                    r = measure_workers(u, f"scaling-{w}", w, w * args.trials_per_worker)
                table.add_row(store_name, str(w), str(w * args.trials_per_worker), f"{r['wall_s']:.1f}",
                              f"{r['throughput_per_s']:.2f}", f"{r['efficiency']:.1%}", f"{r['efficiency_with_startup']:.1%}")
            with _store_for(store_name, url, Path(tmp), "ov") as u:
                ours = metaml_overhead_ms(u, "overhead")
            with _store_for(store_name, url, Path(tmp), "optuna") as u:
                theirs = optuna_overhead_ms(u)
            overhead.add_row(store_name, f"{ours:.1f}", "not installed" if theirs is None else f"{theirs:.1f}",
                             "-" if theirs is None else f"{ours / theirs:.2f}")
        console.print(table)
        console.print(overhead)


@contextlib.contextmanager
def _store_for(kind: str, url: str, folder: Path, tag: str) -> Iterator[str]:
    """A fresh database per measurement (a new SQLite file, or a new PostgreSQL database)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{tag}-{time.time_ns()}.db'}"
    else:
        with postgres.fresh_database(url) as fresh:
            yield fresh


if __name__ == "__main__":
    main()
