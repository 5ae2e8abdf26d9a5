"""``python -m benchmarks.bo_latency``: how long one ``bo`` ask takes at 50, 200 and 500 observations.

The space has 8 parameters of every kind (4 floats, 2 integers, 2 categoricals: 13 encoded
columns); the history holds that many completed trials of random configurations on a
smooth synthetic function, every tenth one failed, plus 2 pending trials. Three cases per
row, each the median of ``--repeats`` asks:

* ``refit``: a warm optimizer at a multiple of ``refit_every`` observations: refits the
  GP hyperparameters (of one objective: several take turns), then maximizes the
  acquisition; the slowest ask of a running study;
* ``cached``: the next ask, one observation later: reuses the hyperparameters of the last
  refit (the typical ask between refits);
* ``fresh``: a new optimizer at the refit point, as after a resume: fits every objective.

CPU time is the process's; ask runs torch on one thread, so it is what the ask takes on
an idle core, while the wall clock also shows what other load on the machine costs.

    python -m benchmarks.bo_latency                 # one and two objectives
    python -m benchmarks.bo_latency --sizes 50,200 --repeats 5
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from metaml.core.records import Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.objectives import Objective
from metaml.optimizers.bo import BayesianOptimization
from metaml.space import Categorical, Float, Int, Space


def latency_space() -> Space:
    return Space(
        {
            "lr": Float(1e-5, 1e-1, log=True),
            "weight_decay": Float(1e-6, 1e-2, log=True),
            "dropout": Float(0.0, 0.6),
            "momentum": Float(0.5, 0.99),
            "batch_size": Int(16, 512, log=True),
            "layers": Int(1, 8),
            "optimizer": Categorical(["adam", "sgd", "rmsprop"]),
            "activation": Categorical(["relu", "gelu", "tanh", "silu"]),
        }
    )


def metrics(config: dict[str, Any]) -> dict[str, float]:
    """A smooth error with one best region, and a latency that grows with depth and batch size."""
    error = (
        (math.log10(config["lr"]) + 2.5) ** 2 / 4
        + (config["dropout"] - 0.2) ** 2
        + 0.3 * (config["momentum"] - 0.9) ** 2
        + 0.02 * abs(config["layers"] - 4)
        + {"adam": 0.0, "sgd": 0.1, "rmsprop": 0.05}[config["optimizer"]]
        + {"relu": 0.02, "gelu": 0.0, "tanh": 0.08, "silu": 0.01}[config["activation"]]
    )
    latency = 1.0 + 0.5 * config["layers"] + math.log2(config["batch_size"]) / 4
    return {"error": error, "latency_ms": latency}


def history(space: Space, n: int, pending: int = 2, seed: int = 0) -> list[TrialRecord]:
    """``n`` finished trials (every tenth failed) and ``pending`` running ones, at random configurations."""
    rng = np.random.default_rng(seed)
    out: list[TrialRecord] = []
    for number in range(n + pending):
        config = space.sample(rng)
        base = TrialRecord(study_id=1, number=number, config=config, fidelity=None, continue_from=None,
                           status=TrialStatus.RUNNING)
        if number >= n:
            out.append(base)
        elif number % 10 == 9:
            out.append(replace(base, status=TrialStatus.FAILED, error="diverged"))
        else:
            out.append(replace(base, status=TrialStatus.COMPLETED, metrics=metrics(config)))
    return out


def timed(optimizer: BayesianOptimization, seen: Sequence[TrialRecord]) -> tuple[float, float, Proposal | None]:
    """Wall-clock and CPU seconds of one ask (ask runs on one thread, so CPU time is the time on an idle core)."""
    view = StudyView.of(seen)
    start, cpu = time.perf_counter(), time.process_time()
    proposal = optimizer.propose(view)
    return time.perf_counter() - start, time.process_time() - cpu, proposal


def measure(n: int, objectives: Sequence[Objective], repeats: int, settings: dict[str, Any]) -> dict[str, Any]:
    """Median wall and CPU seconds of the three kinds of ask at about ``n`` observations."""
    space = latency_space()
    refit_every = int(settings.get("refit_every", 5))
    n_refit = max(refit_every, n - n % refit_every)  # a refit ask: the number of observations is a multiple
    seen = history(space, n_refit + 1)
    finished = [t for t in seen if t.status is not TrialStatus.RUNNING]
    running = [t for t in seen if t.status is TrialStatus.RUNNING]

    def with_observations(k: int) -> list[TrialRecord]:
        return finished[:k] + running

    times: dict[str, list[float]] = {case: [] for case in ("refit", "cached", "fresh")}
    cpu: dict[str, list[float]] = {case: [] for case in times}
    reason = ""
    for _ in range(repeats):
        optimizer = BayesianOptimization(space, objectives, seed=0, **settings)
        optimizer.propose(StudyView.of(with_observations(n_refit - 1)))  # warm: the previous anchors are fitted
        for case, seen_now, opt in (
            ("refit", with_observations(n_refit), optimizer),
            ("cached", with_observations(n_refit + 1), optimizer),
            ("fresh", with_observations(n_refit), BayesianOptimization(space, objectives, seed=0, **settings)),
        ):
            wall, used, proposal = timed(opt, seen_now)
            times[case].append(wall)
            cpu[case].append(used)
            if case == "cached" and proposal is not None:  # bo always proposes here; None only waits for trials
                reason = proposal.reason
    return {
        "observations": n_refit,
        "objectives": len(objectives),
        "reason": reason,
        **{case: (statistics.median(times[case]), statistics.median(cpu[case])) for case in times},
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bo_latency", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="50,200,500", help="comma-separated numbers of observations")
    p.add_argument("--objectives", default="1,2", help="comma-separated: 1 (error), 2 (error and latency_ms)")
    p.add_argument("--repeats", type=int, default=3, help="asks per case (the median is shown)")
    p.add_argument("--raw-samples", type=int, default=None)
    p.add_argument("--num-restarts", type=int, default=None)
    p.add_argument("--refit-every", type=int, default=None)
    args = p.parse_args(argv)
    settings = {k: v for k, v in (("raw_samples", args.raw_samples), ("num_restarts", args.num_restarts),
                                  ("refit_every", args.refit_every)) if v is not None}
    import torch

    print(f"bo ask latency  ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads outside ask)")
    print(f"settings: {BayesianOptimization(latency_space(), [Objective('error')]).settings | settings}")
    choices = {1: [Objective("error")], 2: [Objective("error"), Objective("latency_ms")]}
    space = latency_space()
    BayesianOptimization(space, choices[2]).propose(StudyView.of(history(space, 20)))  # imports and first-call costs, not timed
    print(f"seconds per ask, wall clock (CPU time); median of {args.repeats}")
    print(f"{'observations':>12} {'objectives':>10} {'refit':>15} {'cached':>15} {'fresh':>15}  reason of the cached ask")
    for m in (int(s) for s in args.objectives.split(",")):
        for n in (int(s) for s in args.sizes.split(",")):
            row = measure(n, choices[m], args.repeats, settings)
            cells = " ".join(f"{row[c][0]:>6.3f} ({row[c][1]:.3f})" for c in ("refit", "cached", "fresh"))
            print(f"{row['observations']:>12} {row['objectives']:>10} {cells}  {row['reason']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
