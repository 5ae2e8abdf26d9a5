"""Expert priors, good and misleading: how much a prior helps, and how little a wrong one hurts.

    python -m benchmarks.priors                                   # LCBench dev tasks, bo and priorband, 5 seeds
    python -m benchmarks.priors --optimizers priorband --seeds 10 --budget-fte 150
    python -m benchmarks.priors --quick                           # 2 tasks, 2 seeds, priorband: a smoke run

The setting of the πBO (Hvarfner et al. 2022) and PriorBand (Mallik et al. 2023) papers. For
each task, the 5,000 uniform configurations that define its target (``benchmarks.targets``:
same seed, same draws) give two prior locations:

* ``good``: the best of the 5,000 (the "best known configuration"), so better than the target;
* ``near``: the good configuration moved by a fixed Gaussian step (0.15 of each parameter's
  unit range, drawn once per task), what an expert who knows the right region but not the
  exact values would say;
* ``bad``: the worst of the 5,000, a prior that points the search at a poor region.

Every searchable parameter gets that value as its prior at one confidence (``--confidence``,
default ``medium``). ``none`` runs the same optimizer on the space without priors. Random
search without priors, run to ``--random-budget`` FTE, is the reference for the misleading
prior. All runs go through the standard runner (same charging, same targets).

The issue's targets: with the good prior, the median FTE-to-target at most half of the same
optimizer's without it; with the misleading one, at most twice random search's.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems import default_tasks, make_problems
from benchmarks.problems.base import Problem
from benchmarks.runner import run_one, versions
from benchmarks.stats import Ratio, ratio, summarize
from benchmarks.targets import Targets, load_targets, reference_sample
from metaml.space import Space
from metaml.space.parameters import Categorical, Float

VARIANTS: tuple[str, ...] = ("none", "good", "near", "bad")
OPTIMIZERS: tuple[str, ...] = ("bo", "priorband")
#: Standard deviation of the ``near`` prior's displacement, in each parameter's unit range.
NEAR_STEP = 0.15
GOOD_SPEEDUP = 0.5  # the target: good prior's median FTE-to-target / no prior's
BAD_SLOWDOWN = 2.0  # the target: misleading prior's median / random search's


def prior_locations(problem: Problem, targets: Targets) -> dict[str, dict[str, Any]]:
    """The good, near and bad prior configurations of one problem (see the module docstring)."""
    configs, values = reference_sample(problem, targets.n, targets.seed)
    good = configs[int(np.argmin(values))]
    rng = np.random.default_rng([targets.seed, sum(map(ord, problem.name))])
    near = {}
    for name, value in good.items():
        param = problem.space.parameters[name]
        if isinstance(param, Float):
            u = float(np.clip(param.to_unit(value) + NEAR_STEP * rng.standard_normal(), 0.0, 1.0))
            near[name] = param.from_unit(u)
        else:
            near[name] = value
    return {"good": good, "near": problem.space.validate(near), "bad": configs[int(np.argmax(values))]}


def with_prior(space: Space, config: Mapping[str, Any], confidence: str) -> Space:
    """The same space with ``config``'s values as the priors of its searchable parameters."""
    params: dict[str, Any] = {}
    for name, param in space.parameters.items():
        if isinstance(param, (Float, Categorical)) and name in config:
            params[name] = dataclasses.replace(param, prior=config[name], confidence=confidence)
        else:
            params[name] = param
    return Space(params)


def prior_problem(problem: Problem, config: Mapping[str, Any] | None, confidence: str) -> Problem:
    """``problem`` whose space carries the prior (the same object when there is none)."""
    if config is None:
        return problem
    out = copy.copy(problem)
    out.space = with_prior(problem.space, config, confidence)
    return out


def run(problems: Sequence[Problem], optimizers: Sequence[str], variants: Sequence[str], seeds: int, budget: float,
        random_budget: float, confidence: str, out: Path | None = None,
        command: str = "") -> list[dict[str, Any]]:
    """Every (problem, optimizer, variant, seed) run, plus random search without priors."""
    extra_base = {"versions": versions(), "command": command}
    results: list[dict[str, Any]] = []
    sink = out.open("a") if out else None
    try:
        for problem in problems:
            targets = load_targets(problem)
            locations = prior_locations(problem, targets)
            plan: list[tuple[str, str, float]] = [("random", "none", random_budget)]
            plan += [(o, v, budget) for o in optimizers for v in variants]
            for name, variant, run_budget in plan:
                config = locations.get(variant)
                subject = prior_problem(problem, config, confidence)
                extra = {**extra_base, "prior": variant, "prior_config": config, "confidence": confidence}
                for seed in range(seeds):
                    result = run_one(subject, name, seed, run_budget, targets, extra)
                    results.append(result)
                    if sink is not None:
                        sink.write(json.dumps(result) + "\n")
                        sink.flush()
                    print(f"  {problem.name} {name} prior={variant} seed {seed}: "
                          f"{_fte(result['fte_to_target'], run_budget)} FTE", file=sys.stderr)
    finally:
        if sink is not None:
            sink.close()
    return results


def _fte(x: float | None, budget: float) -> str:
    return f">{budget:g}" if x is None or not np.isfinite(x) else f"{x:.1f}"


def summary_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (optimizer, prior): median [IQR] FTE-to-target, and the two target ratios."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["optimizer"], r.get("prior", "none")), []).append(r)
    budgets = {k: max(r["budget_fte"] for r in v) for k, v in groups.items()}
    medians = {k: summarize(r["fte_to_target"] for r in v) for k, v in groups.items()}
    random_key = ("random", "none")
    rows = []
    for name, variant in groups:
        s = medians[(name, variant)]
        row: dict[str, Any] = {"optimizer": name, "prior": variant, "runs": s.n, "reached": s.n_finite,
                               "median": s.median, "q25": s.q25, "q75": s.q75, "budget": budgets[(name, variant)]}
        base = (name, "none")
        if variant in ("good", "near") and base in medians:
            row["vs_no_prior"] = ratio(s.median, medians[base].median, budgets[(name, variant)], budgets[base])
        if name != "random" and random_key in medians:
            row["vs_random"] = ratio(s.median, medians[random_key].median, budgets[(name, variant)],
                                     budgets[random_key])
        rows.append(row)
    order = {v: i for i, v in enumerate(VARIANTS)}
    rows.sort(key=lambda r: (r["optimizer"] != "random", r["optimizer"], order.get(r["prior"], 99)))
    return rows


def verdicts(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The two targets, per optimizer, in words; a censored median beyond the budget decides nothing."""
    out = []
    for row in rows:
        checks = (("good", "vs_no_prior", "good prior / no prior", GOOD_SPEEDUP),
                  ("bad", "vs_random", "misleading prior / random search", BAD_SLOWDOWN))
        for variant, key, what, limit in checks:
            r = row.get(key)
            if row["prior"] != variant or not isinstance(r, Ratio):
                continue
            verdict = _verdict(r, limit)
            out.append(f"{row['optimizer']}: {what} = {r} (target <= {limit:g}): {verdict}")
    return out


def _verdict(r: Ratio, limit: float) -> str:
    """met / NOT met where the ratio is known on the side that decides; undecided where censoring hides it."""
    undecided = "undecided (a median beyond its budget: raise --budget-fte or --random-budget)"
    if math.isnan(r.value):
        return undecided
    if r.bound == ">":  # the truth is above value
        return "NOT met" if r.value > limit else undecided
    if r.bound == "<":  # the truth is below value
        return "met" if r.value <= limit else undecided
    return "met" if r.value <= limit else "NOT met"


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| optimizer | prior | runs | FTE to target: median [IQR] | reached | vs same without prior "
             "| vs random |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        b = r["budget"]
        cell = f"{_fte(r['median'], b)} [{_fte(r['q25'], b)}, {_fte(r['q75'], b)}]"
        lines.append(f"| `{r['optimizer']}` | {r['prior']} | {r['runs']} | {cell} | {r['reached']}/{r['runs']} "
                     f"| {r.get('vs_no_prior', '')} | {r.get('vs_random', '')} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.priors", description=__doc__.split("\n")[0])
    p.add_argument("--problem", default="lcbench", help="a single-objective family (lcbench, hartmann6, branin)")
    p.add_argument("--tasks", default=None, help="comma-separated tasks (default: the family's development tasks)")
    p.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="prior-aware metaml optimizers")
    p.add_argument("--variants", default=",".join(VARIANTS), help="none, good, near, bad")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget-fte", type=float, default=30.0)
    p.add_argument("--random-budget", type=float, default=200.0, help="budget of the random-search reference")
    p.add_argument("--confidence", default="medium", choices=("low", "medium", "high"))
    p.add_argument("--quick", action="store_true", help="2 tasks, 2 seeds, priorband only, 20 FTE")
    p.add_argument("--out", type=Path, default=None, help="append one JSON line per run")
    p.add_argument("--results", type=Path, nargs="*", default=None, help="summarize these result files; run nothing")
    args = p.parse_args(argv)
    if args.results:
        results = [json.loads(line) for f in args.results for line in f.read_text().splitlines() if line.strip()]
    else:
        tasks = [t for t in (args.tasks or "").split(",") if t] or list(default_tasks(args.problem))
        optimizers = [o for o in args.optimizers.split(",") if o]
        seeds, budget = args.seeds, args.budget_fte
        if args.quick:
            tasks, seeds, budget, optimizers = tasks[:2], 2, 20.0, ["priorband"]
        variants = [v for v in args.variants.split(",") if v]
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown:
            p.error(f"unknown prior variant {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
        problems = make_problems(args.problem, tasks)
        if any(getattr(pr, "trains", False) for pr in problems):
            p.error(f"{args.problem} really trains: its 5,000 reference configurations (the prior locations) "
                    "are out of reach; choose a surrogate or synthetic family")
        if any(len(pr.objectives) > 1 for pr in problems):
            p.error("the prior benchmark measures FTE-to-target on one objective; choose a single-objective family")
        started = time.perf_counter()
        command = shlex.join(["python", "-m", "benchmarks.priors", *(sys.argv[1:] if argv is None else argv)])
        results = run(problems, optimizers, variants, seeds, budget, args.random_budget, args.confidence, args.out,
                      command)
        print(f"{len(results)} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows = summary_rows(results)
    print(markdown(rows))
    print()
    for line in verdicts(rows):
        print("- " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
