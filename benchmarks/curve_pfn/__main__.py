"""``python -m benchmarks.curve_pfn``: train the curve network on synthetic tasks; compare it with the GP on LCBench.

    python -m benchmarks.curve_pfn train --minutes 30 --out .benchmarks-cache/curve-pfn.pt
    python -m benchmarks.curve_pfn train --resume shipped --minutes 60 --lr 1.5e-4 --out .benchmarks-cache/curve-pfn-2.pt
    python -m benchmarks.curve_pfn train --resume shipped --surrogate-tasks 3945,146212 --out PATH
    python -m benchmarks.curve_pfn compare --runs 10 --length 2 --draws 5   # the shipped weights; --weights: others
    python -m benchmarks.curve_pfn search --seeds 10 --budget-fte 30 --jobs 2   # freeze_thaw with and without it

Weights other than the shipped ones go to the search in the optimizer specs:
``freeze_thaw@curve_network=PATH``, ``freeze_thaw_network@weights=PATH``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.curve_pfn.network import WEIGHTS
from benchmarks.curve_pfn.prior import STEPS, batch
from metaml.optimizers.curve_network import D_MAX


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from benchmarks.curve_pfn.network import nll
    from metaml.optimizers.curve_network import make_network

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    earlier = None
    if args.resume is not None:  # go on from earlier weights (the shipped ones: --resume shipped), widened if asked
        from metaml.optimizers.curve_network import load_network

        earlier = load_network(None if str(args.resume) == "shipped" else str(args.resume))
    d_max = args.d_max or (D_MAX if earlier is None else earlier.d_max)
    net = make_network(d_max)
    if earlier is not None:
        from metaml.optimizers.curve_network import widened

        net.load_state_dict(widened(earlier.state_dict(), d_max))
    print(f"{sum(p.numel() for p in net.parameters())} parameters", file=sys.stderr)
    pools = []
    if args.surrogate_share is not None and not args.surrogate_tasks:
        raise SystemExit("--surrogate-share needs --surrogate-tasks: it is the share of studies drawn from those tasks")
    share = 0.5 if args.surrogate_share is None else args.surrogate_share
    if args.surrogate_tasks:  # real curve shapes: LCBench tasks through the surrogate, dimensions shuffled per study
        from benchmarks.curve_pfn.prior import SurrogatePool
        from benchmarks.problems.lcbench import DEV_TASKS

        tasks = [int(t) for t in args.surrogate_tasks.split(",")]
        if outside := [t for t in tasks if t not in DEV_TASKS]:
            raise SystemExit(f"--surrogate-tasks: {outside} are not LCBench development tasks "
                             f"({', '.join(map(str, DEV_TASKS))}); the others are kept for independent evaluation")
        if not 0 < share <= 1:
            raise SystemExit(f"--surrogate-share must be in (0, 1], not {share}")
        pools = [SurrogatePool(t, args.surrogate_pool, rng) for t in tasks]
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    seconds, started, step, smooth = 60.0 * args.minutes, time.perf_counter(), 0, math.nan
    args.out.parent.mkdir(parents=True, exist_ok=True)
    while (elapsed := time.perf_counter() - started) < seconds:
        for group in opt.param_groups:  # warm-up, then a cosine decay over the wall-clock budget
            group["lr"] = args.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * elapsed / seconds))
        Xc, yc, pad, Xq, yq, present = (torch.as_tensor(a, dtype=torch.float32 if a.dtype != bool else torch.bool)
                                        for a in batch(rng, args.batch, d_max=d_max, pools=pools,
                                                       pool_share=share))
        mean, log_sd = net(Xc, yc, pad, Xq)
        loss = nll(mean, log_sd, yq, present)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        smooth = loss.item() if math.isnan(smooth) else 0.99 * smooth + 0.01 * loss.item()
        step += 1
        if step % 500 == 0:
            print(f"step {step} {elapsed:.0f} s nll {smooth:.3f}", file=sys.stderr, flush=True)
            torch.save(net.state_dict(), args.out)
    torch.save(net.state_dict(), args.out)
    print(f"{step} steps of {args.batch} studies in {time.perf_counter() - started:.0f} s; nll {smooth:.3f}; "
          f"weights in {args.out}")
    return 0


def network_predictions(net: Any, problem: Any, configs: list[dict[str, Any]], E: np.ndarray, L: np.ndarray,
                        queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's predicted final errors (and log-scale standard deviations) of the runs ``queries``: each run's
    points at the geometric steps (``prior.STEPS``) and the full fidelity are the context."""
    from metaml.optimizers.curve_network import answer

    full = int(problem.max_fidelity)
    kept = set(STEPS.astype(int).tolist()) | {full}
    encoded = np.stack([problem.space.encode(c) for c in configs])
    cx, cy = [], []
    for i in range(len(configs)):
        for s in range(1, int(L[i]) + 1):
            if s in kept:
                cx.append(np.r_[encoded[i], math.log(s) / math.log(full)])
                cy.append(math.log(E[i, s - 1]))
    mean, sd = answer(net, np.stack(cx), np.array(cy), encoded[queries])
    return np.exp(mean), sd


def cmd_compare(args: argparse.Namespace) -> int:
    import torch
    from scipy.stats import spearmanr

    from benchmarks.freeze_thaw import MODEL_LENGTHS, MODEL_WEIGHTS, _gp_predictions
    from benchmarks.problems.lcbench import DEV_TASKS, LCBench
    from metaml.optimizers.curve_network import load_network
    from metaml.optimizers.curve_trend import trend_estimate

    torch.set_num_threads(1)
    net = load_network(None if args.weights is None else str(args.weights))
    names = ("current value", "trend", "GP (freeze_thaw)", "network")
    rho: dict[str, list[float]] = {n: [] for n in names}
    covered: list[float] = []
    for task in [int(t) for t in args.tasks.split(",")] if args.tasks else DEV_TASKS:
        problem = LCBench(task)
        full = int(problem.max_fidelity)
        rng = np.random.default_rng(args.seed)
        for _ in range(args.draws):
            configs = [problem.space.sample(rng) for _ in range(args.runs)]
            E = np.stack([problem.evaluate_batch(configs, e)["val_error"] for e in range(1, full + 1)], axis=1)
            if args.length:
                L = np.full(args.runs, args.length)
            else:
                w = np.asarray(MODEL_WEIGHTS, dtype=float)
                L = rng.choice(np.asarray(MODEL_LENGTHS), size=args.runs, p=w / w.sum())
            partial = np.flatnonzero(L < full)
            if len(partial) < 3:
                continue
            truth = E[partial, -1]
            mean, sd = network_predictions(net, problem, configs, E, L, partial)
            covered.append(float(np.mean(np.abs(np.log(truth) - np.log(mean)) < 2 * sd)))
            predictions = {
                "current value": E[partial, L[partial] - 1],
                "trend": np.array([trend_estimate(np.arange(1, L[i] + 1), E[i, : L[i]], full) for i in partial]),
                "GP (freeze_thaw)": _gp_predictions(problem, configs, E, L, log=True)[0],
                "network": mean,
            }
            for name, pred in predictions.items():
                r = spearmanr(pred, truth).correlation
                rho[name].append(0.0 if not np.isfinite(r) else float(r))  # a constant prediction ranks nothing
    cells = " | ".join(f"{np.mean(rho[n]):.2f}" for n in names)
    print(f"| {args.runs} | {'mixed' if not args.length else args.length} | {len(rho['network'])} | {cells} | "
          f"{np.mean(covered):.0%} |")
    return 0


def _search_one(task: int, optimizer: str, seed: int, budget: float, command: str) -> dict[str, Any]:
    from benchmarks.curve_pfn.search import register_for_search
    from benchmarks.freeze_thaw import _one

    register_for_search()
    return _one(task, optimizer, seed, budget, command)


def cmd_search(args: argparse.Namespace) -> int:
    """freeze_thaw with and without the curve network through the issue's runner and measures (``benchmarks.freeze_thaw``)."""
    import shlex

    from benchmarks.freeze_thaw import read, run_jobs, table
    from benchmarks.problems.lcbench import DEV_TASKS
    from benchmarks.runner import split_optimizers

    command = shlex.join(["python", "-m", "benchmarks.curve_pfn", *args.argv])
    tasks = [int(t) for t in args.tasks.split(",")] if args.tasks else list(DEV_TASKS)
    run_jobs(tasks, split_optimizers(args.optimizers), args.seeds, args.budget_fte, args.jobs, args.out, command,
             worker=_search_one)
    print(table(read(args.out)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.curve_pfn", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train the network on synthetic studies for a wall-clock budget")
    tr.add_argument("--minutes", type=float, default=25.0)
    tr.add_argument("--batch", type=int, default=16)
    tr.add_argument("--lr", type=float, default=3e-4)
    tr.add_argument("--threads", type=int, default=2)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", type=Path, default=WEIGHTS)
    tr.add_argument("--d-max", type=int, default=None,
                    help=f"the widest space (encoded dimensions) it reads (default: the resumed network's, else {D_MAX})")
    tr.add_argument("--resume", type=Path, default=None,
                    help="start from these weights ('shipped': metaml's own) instead of random ones")
    tr.add_argument("--surrogate-tasks", default=None,
                    help="comma-separated LCBench task ids whose surrogate curves join the synthetic studies "
                         "(keep the tasks you measure on out)")
    tr.add_argument("--surrogate-share", type=float, default=None,
                    help="the share of studies drawn from them (default 0.5; needs --surrogate-tasks)")
    tr.add_argument("--surrogate-pool", type=int, default=20000, help="configurations drawn per surrogate task")
    co = sub.add_parser("compare", help="Spearman of predicted and true finals of LCBench partial curves, per model")
    co.add_argument("--weights", type=Path, default=None, help="weights train wrote (default: the ones metaml ships)")
    co.add_argument("--runs", type=int, default=10, help="runs per study")
    co.add_argument("--length", type=int, default=2, help="every run's epochs; 0: freeze_thaw-like mixed lengths")
    co.add_argument("--draws", type=int, default=5, help="studies per development task")
    co.add_argument("--seed", type=int, default=0)
    co.add_argument("--tasks", default=None, help="comma-separated OpenML task ids (default: the development tasks)")
    se = sub.add_parser("search", help="freeze_thaw with and without the network, on the LCBench development tasks")
    se.add_argument("--tasks", default=None, help="comma-separated OpenML task ids (default: the development tasks)")
    se.add_argument("--optimizers", default="freeze_thaw,freeze_thaw@curve_network=true,freeze_thaw_network")
    se.add_argument("--seeds", type=int, default=5)
    se.add_argument("--budget-fte", type=float, default=30.0)
    se.add_argument("--jobs", type=int, default=1)
    se.add_argument("--out", type=Path, default=Path(".benchmarks-cache/results/curve-pfn-search.jsonl"))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    args.argv = argv
    return {"train": cmd_train, "compare": cmd_compare, "search": cmd_search}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
