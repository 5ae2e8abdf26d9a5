"""``python -m benchmarks.freeze_thaw``: freeze-thaw against its peers on LCBench, and its ask latency.

The runs go through the same runner as every other table (``benchmarks.runner.run_one``: the
optimizer's pure contract, FTE charged per epoch trained, continuations paying only the
extra epochs, every epoch's curve point in the view). On top of the runner's measures, each
result line gets the issue's measures:

* FTE to the **1% target** (``benchmarks.targets``: top 1% of 5,000 random configurations at
  full fidelity) and to the **strict target** (top 0.1% of 55,000), found only at full fidelity;
* **PAR2**: the mean FTE to a target with a run that never reached it counted as twice the budget;
* normalized regret at 1, 1.5, 2, 3, 5, 10 and 30 FTE, and the FTE of the first full-fidelity result.

    python -m benchmarks.freeze_thaw run --seeds 10 --budget-fte 30 --jobs 2 \\
        --optimizers freeze_thaw,one_epoch,bohb,hyperband,asha --out .benchmarks-cache/results/freeze-thaw.jsonl
    python -m benchmarks.freeze_thaw table .benchmarks-cache/results/freeze-thaw.jsonl [--per-task]
    python -m benchmarks.freeze_thaw latency          # one ask at about 1,000 curve points
    python -m benchmarks.freeze_thaw models           # the curve models compared (how the GP was chosen)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

#: The optimizers of the issue's comparison, in table order.
OPTIMIZERS = ("freeze_thaw", "one_epoch", "bohb", "hyperband", "asha")
#: The strict target: the top 0.1% of this many uniform random configurations.
STRICT_N, STRICT_QUANTILE = 55_000, 0.001
#: FTE at which normalized regret is reported.
CHECKPOINTS = (1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


def fte_to(trajectory: Sequence[Sequence[float]], target: float) -> float | None:
    """The FTE at which the incumbent first reached ``target`` (None: never)."""
    return next((float(f) for f, v in trajectory if v <= target), None)


def regret_at(trajectory: Sequence[Sequence[float]], fte: float, best: float, median: float) -> float:
    """Normalized regret of the incumbent at ``fte`` (inf before the first full-fidelity result)."""
    found = [v for f, v in trajectory if f <= fte + 1e-9]
    return (found[-1] - best) / (median - best) if found else math.inf


def par2(values: Iterable[float | None], budget: float) -> float:
    """Mean FTE to target, a run that never reached it counted as twice the budget."""
    xs = [2.0 * budget if v is None else float(v) for v in values]
    return float(np.mean(xs)) if xs else math.nan


def _one(task: int, optimizer: str, seed: int, budget: float, command: str) -> dict[str, Any]:
    from benchmarks.problems.lcbench import LCBench
    from benchmarks.runner import run_one, versions
    from benchmarks.targets import cache_dir, load_targets

    problem = LCBench(task)
    targets = load_targets(problem)
    strict = load_targets(problem, n=STRICT_N, quantile=STRICT_QUANTILE, cache=cache_dir() / "strict")
    result = run_one(problem, optimizer, seed, budget, targets, {"versions": versions(), "command": command})
    trajectory = result["trajectory"]
    result["strict_target"] = strict.target
    result["fte_to_strict"] = fte_to(trajectory, strict.target)
    result["first_full_fte"] = trajectory[0][0] if trajectory else None
    result["regret_at"] = {f"{x:g}": regret_at(trajectory, x, targets.best, targets.median)
                           for x in CHECKPOINTS if x <= budget + 1e-9}
    return result


def cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.problems.lcbench import DEV_TASKS

    tasks = [int(t) for t in args.tasks.split(",")] if args.tasks else list(DEV_TASKS)
    from benchmarks.runner import split_optimizers

    command = shlex.join(["python", "-m", "benchmarks.freeze_thaw", *args.argv])
    run_jobs(tasks, split_optimizers(args.optimizers), args.seeds, args.budget_fte, args.jobs, args.out, command)
    print(table(read(args.out), per_task=args.per_task))
    return 0


def run_jobs(tasks: Sequence[int], optimizers: Sequence[str], seeds: int, budget: float, jobs: int, out_path: Path,
             command: str, worker: Callable[[int, str, int, float, str], dict[str, Any]] | None = None) -> None:
    """Every (task, optimizer, seed) through ``worker`` (default ``_one``) in ``jobs`` processes, one JSON line each
    appended to ``out_path`` as it finishes."""
    work = [(t, o, s) for t in tasks for o in optimizers for s in range(seeds)]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with out_path.open("a") as out, ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(worker or _one, t, o, s, budget, command) for t, o, s in work]
        for done, future in enumerate(as_completed(futures), start=1):
            r = future.result()
            out.write(json.dumps(r) + "\n")
            out.flush()
            print(f"[{done}/{len(work)} {time.perf_counter() - started:.0f} s] {r['problem']} {r['optimizer']} "
                  f"seed {r['seed']}: fte_to_target={r['fte_to_target']} strict={r['fte_to_strict']} "
                  f"ask {r['ask_ms']['mean']:.0f} ms", file=sys.stderr, flush=True)


def read(*paths: Path) -> list[dict[str, Any]]:
    from benchmarks.summary import read_results

    return read_results(paths)


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "inf" if x is not None and x > 0 else "—"
    return f"{x:.{digits}f}"


def _median_iqr(values: list[float | None], budget: float) -> str:
    from benchmarks.stats import summarize

    s = summarize(values)

    def show(v: float) -> str:
        return f">{budget:g}" if not math.isfinite(v) else f"{v:.2f}"

    return f"{show(s.median)} [{show(s.q25)}, {show(s.q75)}]"


def table(results: list[dict[str, Any]], per_task: bool = False) -> str:
    """The Markdown tables: one row per optimizer (and optionally the medians per task)."""
    by_opt: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_opt[r["optimizer"]].append(r)
    budget = max(float(r["budget_fte"]) for r in results)
    checkpoints = [c for c in ("1.5", "2", "5", "30") if any(c in r.get("regret_at", {}) for r in results)]
    head = ("| optimizer | runs | FTE to 1% target, median [IQR] | reached | PAR2 | FTE to 0.1% target, median | reached "
            "| PAR2 (0.1%) | first full result, median FTE | " + " | ".join(f"regret @{c}" for c in checkpoints)
            + " | ask ms (median of means) | slowest ask ms |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    order = [o for o in OPTIMIZERS if o in by_opt] + sorted(o for o in by_opt if o not in OPTIMIZERS)
    for name in order:
        rs = by_opt[name]
        to1 = [r["fte_to_target"] for r in rs]
        to01 = [r["fte_to_strict"] for r in rs]
        regrets = [_fmt(statistics.median(r["regret_at"].get(c, math.inf) for r in rs), 3) for c in checkpoints]
        first = statistics.median(r["first_full_fte"] if r["first_full_fte"] is not None else math.inf for r in rs)
        asks = [r["ask_ms"]["mean"] for r in rs if r["ask_ms"]["mean"] is not None]
        slowest = max((r["ask_ms"]["max"] for r in rs if r["ask_ms"]["max"] is not None), default=None)
        lines.append(
            f"| `{name}` | {len(rs)} | {_median_iqr(to1, budget)} | {sum(v is not None for v in to1)}/{len(rs)} "
            f"| {_fmt(par2(to1, budget))} | {_median_iqr(to01, budget).split(' [')[0]} "
            f"| {sum(v is not None for v in to01)}/{len(rs)} | {_fmt(par2(to01, budget))} | {_fmt(first)} | "
            + " | ".join(regrets) + f" | {_fmt(statistics.median(asks) if asks else None, 1)} | {_fmt(slowest, 0)} |"
        )
    out = "\n".join(lines)
    if per_task:
        out += "\n\n" + _per_task(by_opt, order, budget)
    return out


def _per_task(by_opt: dict[str, list[dict[str, Any]]], order: list[str], budget: float) -> str:
    from benchmarks.stats import median

    problems = sorted({r["problem"] for rs in by_opt.values() for r in rs})
    lines = ["| problem | " + " | ".join(f"`{o}`" for o in order) + " |", "|---|" + "---:|" * len(order)]
    for p in problems:
        cells = []
        for o in order:
            rs = [r for r in by_opt[o] if r["problem"] == p]
            m = median([r["fte_to_target"] for r in rs])
            cells.append(f"{'>' + format(budget, 'g') if not math.isfinite(m) else format(m, '.2f')} "
                         f"({sum(r['fte_to_target'] is not None for r in rs)}/{len(rs)})")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "Median FTE to the 1% target per task (reached/runs):\n\n" + "\n".join(lines)


def cmd_table(args: argparse.Namespace) -> int:
    print(table(read(*args.files), per_task=args.per_task))
    return 0


def cmd_latency(args: argparse.Namespace) -> int:
    """One ask at about ``--points`` curve points: after a refit (fresh optimizer) and between refits."""
    import torch

    from benchmarks.problems.lcbench import LCBench
    from benchmarks.runner import curve_points, simulate
    from metaml.core.records import Changes
    from metaml.core.view import StudyView
    from metaml.optimizers import make_optimizer

    problem = LCBench(args.task)
    spec = {"name": "freeze_thaw", **json.loads(args.settings)}
    # A study with about --points curve points (one per epoch trained): the optimizer's own run, cut there.
    driver = make_optimizer(spec, problem.space, problem.objectives, 0)
    log, history, _ = simulate(problem, driver, 0, args.points / problem.max_fidelity)

    points = tuple(o for t in history for o in curve_points(problem, t, 0))
    view = StudyView().apply(Changes(cursor=StudyView().cursor, trials=tuple(history), observations=points))
    fresh, cached = [], []
    for _ in range(args.repeats):
        opt = make_optimizer(spec, problem.space, problem.objectives, 0)
        t0 = time.perf_counter()
        opt.propose(view)
        fresh.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        opt.propose(view)
        cached.append(time.perf_counter() - t0)
    print(f"freeze_thaw ask on LCBench {args.task}: {len(history)} trials, {len(points)} curve points, "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"  after a refit (fresh optimizer): median {statistics.median(fresh):.3f} s, max {max(fresh):.3f} s")
    print(f"  between refits (cached):         median {statistics.median(cached):.3f} s, max {max(cached):.3f} s")
    print(f"  in the run itself: {len(log.ask_seconds)} asks, mean {1000 * statistics.mean(log.ask_seconds):.0f} ms, "
          f"max {1000 * max(log.ask_seconds):.0f} ms")
    return 0


# ------------------------------------------------------------------------------------- model choice
#: Curve lengths of the model comparison's configurations, and their probabilities (a freeze-thaw study's mix).
MODEL_LENGTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 52)
MODEL_WEIGHTS = (30, 20, 8, 10, 6, 8, 5, 5, 3, 5)


def _curves(problem: Any, n: int, rng: np.random.Generator) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    configs = [problem.space.sample(rng) for _ in range(n)]
    full = int(problem.max_fidelity)
    E = np.stack([problem.evaluate_batch(configs, e)["val_error"] for e in range(1, full + 1)], axis=1)
    weights = np.asarray(MODEL_WEIGHTS, dtype=float)
    return configs, E, rng.choice(np.asarray(MODEL_LENGTHS), size=n, p=weights / weights.sum())


def _gp_predictions(problem: Any, configs: list[dict[str, Any]], E: np.ndarray, L: np.ndarray,
                    log: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """freeze_thaw's GP (``log``) or the same GP on the raw loss: predicted finals of the partial curves."""
    from metaml.core.records import Observation, TrialRecord, TrialStatus
    from metaml.core.view import StudyView
    from metaml.objectives import Objective
    from metaml.optimizers.bo.model import HyperparameterCache
    from metaml.optimizers.freeze_thaw_model import CurveModel, Encodings, StepScale, build_rows, fit
    from metaml.optimizers.freeze_thaw_runs import build_runs

    full = float(problem.max_fidelity)
    trials, points = [], []
    for i, (config, length) in enumerate(zip(configs, L)):
        trials.append(TrialRecord(0, i, config, int(length), None, TrialStatus.COMPLETED,
                                  metrics={"val_error": float(E[i, length - 1])}, start_step=0.0, end_step=float(length)))
        points += [Observation(i, float(s), {"val_error": float(E[i, s - 1])}, 0.0) for s in range(1, int(length) + 1)]
    runs = build_runs(StudyView.of(trials, points), (Objective("val_error"),), full)
    scale = StepScale(problem.space.fidelity, full)
    rows = build_rows(runs, scale, Encodings(problem.space))
    if not log:  # the same rows on the raw loss
        from dataclasses import replace

        rows = replace(rows, y=np.exp(rows.y))
    started = time.perf_counter()
    model = CurveModel(rows, fit(rows, 0, HyperparameterCache()))
    seconds = time.perf_counter() - started
    partial = np.flatnonzero(L < full)
    X = np.stack([np.r_[problem.space.encode(configs[i]), 1.0] for i in partial])
    mean, std = model.predict(X)
    return (np.exp(mean) if log else mean), std, seconds


def _power_law_predictions(problem: Any, configs: list[dict[str, Any]], E: np.ndarray, L: np.ndarray,
                           members: int = 5, steps: int = 400) -> tuple[np.ndarray, np.ndarray, float]:
    """An ensemble of networks mapping a configuration to a power law ``y(b) = a + c (b^-g - 1)`` (DPL's model)."""
    import torch

    full = int(problem.max_fidelity)
    xs, bs, ys = [], [], []
    for i, length in enumerate(L):
        for t in range(1, int(length) + 1):
            xs.append(problem.space.encode(configs[i]))
            bs.append(t / full)
            ys.append(E[i, t - 1])
    X, b, y = (torch.as_tensor(np.array(a), dtype=torch.float32) for a in (xs, bs, ys))
    started = time.perf_counter()
    nets = []
    softplus = torch.nn.functional.softplus
    for m in range(members):
        torch.manual_seed(m)
        net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 64), torch.nn.LeakyReLU(), torch.nn.Linear(64, 64),
                                  torch.nn.LeakyReLU(), torch.nn.Linear(64, 3))
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        for _ in range(steps):
            out = net(X)
            pred = out[:, 0] + softplus(out[:, 1]) * (b.pow(-softplus(out[:, 2])) - 1.0)
            loss = (pred - y).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        nets.append(net)
    seconds = time.perf_counter() - started
    partial = np.flatnonzero(L < full)
    Xq = torch.as_tensor(np.stack([problem.space.encode(configs[i]) for i in partial]), dtype=torch.float32)
    with torch.no_grad():
        finals = torch.stack([net(Xq)[:, 0] for net in nets])
    return finals.mean(0).numpy(), finals.std(0).numpy() + 1e-9, seconds


def cmd_models(args: argparse.Namespace) -> int:
    """Rank correlation of predicted and true final values of partial curves, per model and task."""
    import torch
    from scipy.stats import spearmanr

    from benchmarks.problems.lcbench import DEV_TASKS, LCBench

    torch.set_num_threads(1)
    print("| task | current value | GP, log loss (freeze_thaw) | GP, raw loss | power-law ensemble |")
    print("|---|---:|---:|---:|---:|")
    for task in ([int(t) for t in args.tasks.split(",")] if args.tasks else DEV_TASKS):
        problem = LCBench(task)
        configs, E, L = _curves(problem, args.configs, np.random.default_rng(args.seed))
        partial = np.flatnonzero(L < int(problem.max_fidelity))
        truth = E[partial, -1]
        cells = [f"{spearmanr(E[partial, L[partial] - 1], truth).correlation:.2f}"]
        for name in ("log", "raw", "power"):
            if name == "power":
                mean, std, seconds = _power_law_predictions(problem, configs, E, L)
                z = (truth - mean) / std
            else:
                mean, std, seconds = _gp_predictions(problem, configs, E, L, log=name == "log")
                z = (np.log(truth) - np.log(mean)) / std if name == "log" else (truth - mean) / std
            cells.append(f"{spearmanr(mean, truth).correlation:.2f} ({np.mean(np.abs(z) < 2):.0%} in 2σ, "
                         f"fit {seconds:.1f} s)")
        print(f"| {task} | " + " | ".join(cells) + " |", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.freeze_thaw", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="every (task, optimizer, seed) through the runner; one JSON line each")
    run.add_argument("--tasks", default=None, help="comma-separated OpenML task ids (default: the development tasks)")
    run.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    run.add_argument("--seeds", type=int, default=10)
    run.add_argument("--budget-fte", type=float, default=30.0)
    run.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    run.add_argument("--out", type=Path, default=Path(".benchmarks-cache/results/freeze-thaw.jsonl"))
    run.add_argument("--per-task", action="store_true")
    tab = sub.add_parser("table", help="the tables of result files")
    tab.add_argument("files", nargs="+", type=Path)
    tab.add_argument("--per-task", action="store_true")
    lat = sub.add_parser("latency", help="one ask at about 1,000 curve points")
    lat.add_argument("--task", type=int, default=3945)
    lat.add_argument("--points", type=int, default=1000)
    lat.add_argument("--repeats", type=int, default=3)
    lat.add_argument("--settings", default="{}", help="freeze_thaw settings as JSON")
    mod = sub.add_parser("models", help="the curve models compared on partial LCBench curves")
    mod.add_argument("--tasks", default=None)
    mod.add_argument("--configs", type=int, default=250)
    mod.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    args.argv = argv
    return {"run": cmd_run, "table": cmd_table, "latency": cmd_latency, "models": cmd_models}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
