"""Multi-objective benchmark: hypervolume of the full-fidelity results at 5, 10 and 30 FTE.

    python -m benchmarks.multiobjective                     # ZDT1 + lcbench-mo (2 dev tasks), 5 seeds
    python -m benchmarks.multiobjective --seeds 2 --problems zdt1:good --optimizers random,mohb

Each run goes through the standard runner (``benchmarks.runner.simulate``: same FTE charging,
continuations paid only for their new epochs). A run's front at ``x`` FTE is made of its
full-fidelity evaluations finished by then (lower fidelities measure another function, as
the single-objective regret also ignores them). The reference point is fixed per problem:
the worst value of each objective over 5,000 uniform configurations at full fidelity, so
every optimizer and seed is measured against the same point (ZDT1's textbook (1, 1) is out
of reach of every optimizer here within 30 FTE in 6 dimensions: all would score 0). The table shows the median over seeds and, in
brackets, the range.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems import make_problems
from benchmarks.problems.base import Problem
from benchmarks.runner import simulate
from metaml.objectives import hypervolume, to_loss_matrix

CHECKPOINTS = (5.0, 10.0, 30.0)
OPTIMIZERS = ("random", "mohb", "moasha", "bo")
PROBLEMS = ("zdt1:good", "lcbench-mo:3945", "lcbench-mo:34539")
N_REFERENCE = 5_000


def reference(problem: Problem, n: int = N_REFERENCE, seed: int = 0) -> np.ndarray:
    """The problem's fixed reference point, in losses (lower is better)."""
    rng = np.random.default_rng(seed)
    configs = [problem.space.sample(rng) for _ in range(n)]
    values = problem.evaluate_batch(configs, problem.max_fidelity, seed=0)
    rows = [{o.name: float(values[o.name][i]) for o in problem.objectives} for i in range(n)]
    return np.max(to_loss_matrix(problem.objectives, rows), axis=0)


def run_hypervolumes(problem: Problem, optimizer: str, seed: int, budget: float, ref: np.ndarray) -> dict[str, Any]:
    """One run's hypervolume at each checkpoint, with what it cost."""
    started = time.perf_counter()
    log, history, settings = simulate(problem, optimizer, seed, budget)
    out: dict[str, Any] = {"problem": problem.name, "optimizer": optimizer, "seed": seed, "budget_fte": budget,
                           "reference": ref.tolist(), "stopped": log.stopped, "error": log.error,
                           "n_evaluations": len(log.evaluations), "n_full": sum(e.full for e in log.evaluations)}
    for x in CHECKPOINTS:
        if x > budget + 1e-9:
            continue
        done = [history[e.number].metrics for e in log.evaluations if e.full and e.cumulative <= x + 1e-9]
        losses = to_loss_matrix(problem.objectives, [m for m in done if m is not None])
        out[f"hv@{x:g}"] = hypervolume(losses, ref)
    out["seconds"] = time.perf_counter() - started
    return out


def table(results: Sequence[dict[str, Any]]) -> str:
    """A Markdown table: median [min, max] hypervolume per problem, optimizer and checkpoint."""
    keys = [f"hv@{x:g}" for x in CHECKPOINTS]
    lines = ["| problem | optimizer | seeds | " + " | ".join(f"HV @ {k[3:]} FTE" for k in keys) + " | s/run |",
             "|---|---|---|" + "---|" * len(keys) + "---|"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["problem"], r["optimizer"]), []).append(r)
    for (problem, optimizer), rs in groups.items():
        cells = []
        for k in keys:
            v = np.array([r[k] for r in rs if k in r], dtype=float)
            cells.append(f"{np.median(v):.4f} [{v.min():.4f}, {v.max():.4f}]" if len(v) else "-")
        secs = np.mean([r["seconds"] for r in rs])
        lines.append(f"| {problem} | `{optimizer}` | {len(rs)} | " + " | ".join(cells) + f" | {secs:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.multiobjective", description=__doc__.splitlines()[0])
    p.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated FAMILY:TASK")
    p.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget-fte", type=float, default=max(CHECKPOINTS))
    p.add_argument("--out", type=Path, default=None, help="append one JSON line per run")
    p.add_argument("--table", type=Path, nargs="*", default=None, help="only print the table of these JSON files")
    args = p.parse_args(argv)
    if args.table:
        results = [json.loads(line) for f in args.table for line in f.read_text().splitlines() if line.strip()]
        print(table(results))
        return 0
    results = []
    out = args.out.open("a") if args.out else None
    try:
        for spec in args.problems.split(","):
            family, _, task = spec.partition(":")
            problem = make_problems(family, [task] if task else None)[0]
            ref = reference(problem)
            for optimizer in args.optimizers.split(","):
                for seed in range(args.seeds):
                    r = run_hypervolumes(problem, optimizer, seed, args.budget_fte, ref)
                    results.append(r)
                    print(f"{problem.name} {optimizer} seed {seed}: "
                          + ", ".join(f"{k} {v:.4f}" for k, v in r.items() if k.startswith("hv@"))
                          + f" ({r['seconds']:.1f} s)", file=sys.stderr, flush=True)
                    if out is not None:
                        out.write(json.dumps(r) + "\n")
                        out.flush()
    finally:
        if out is not None:
            out.close()
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
