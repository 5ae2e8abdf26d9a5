"""``python -m benchmarks.transfer``: warm start across LCBench tasks, leave-one-task-out, with and without transfer.

For each LCBench development task, the earlier studies are ``bohb`` runs (``--source-fte``
FTE each, seed 0, made once through the same runner and cached under
``.benchmarks-cache/transfer/``) on the *other* development tasks; the held-out task is then
searched by ``bohb`` alone and by ``transfer`` over ``bohb`` warm-started from them, seeds
0..n-1, at equal FTE, through the same runner as every other table (``benchmarks.runner``:
FTE per epoch trained, continuations paying the extra epochs). The ``scrambled`` variant
gives transfer the same earlier studies with their results shuffled within each study (same
configurations, misleading values): what negative transfer costs.

    python -m benchmarks.transfer run --seeds 3 --budget-fte 30 --jobs 2 \\
        --out .benchmarks-cache/results/transfer.jsonl
    python -m benchmarks.transfer table .benchmarks-cache/results/transfer.jsonl [--per-task]

The table gives, per variant, the median (IQR) FTE to the top-1% target (``benchmarks.targets``,
found at full fidelity only), PAR2 (a miss counted as twice the budget), runs that reached it,
and the ratio of the medians to ``bohb``'s in the same run; the same for the strict top-0.1% target
(computed from the stored trajectories, when ``benchmarks.freeze_thaw`` has cached it); with how
many earlier studies and how much of their cost the transfer used.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

#: The compared variants: name -> (optimizer spec, which earlier studies it sees).
VARIANTS: dict[str, tuple[Any, str | None]] = {
    "bohb": ("bohb", None),
    "transfer": ({"name": "transfer", "base": "bohb"}, "real"),
    "transfer-scrambled": ({"name": "transfer", "base": "bohb"}, "scrambled"),
    "freeze_thaw": ("freeze_thaw", None),
    "transfer-freeze_thaw": ({"name": "transfer", "base": "freeze_thaw"}, "real"),
    "transfer-scrambled-freeze_thaw": ({"name": "transfer", "base": "freeze_thaw"}, "scrambled"),
}
DEFAULT_VARIANTS = ("bohb", "transfer", "transfer-scrambled")


def _source_path(task: int, fte: float) -> Path:
    from benchmarks.targets import cache_dir

    return cache_dir() / "transfer" / f"bohb-lcbench-{task}-{fte:g}fte-seed0.json"


def source_study(task: int, fte: float) -> dict[str, Any]:
    """The earlier ``bohb`` study on ``task`` (cached): its trials as a warm-start source's plain data."""
    path = _source_path(task, fte)
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    from benchmarks.problems.lcbench import LCBench
    from benchmarks.runner import simulate

    problem = LCBench(task)
    _, history, _ = simulate(problem, "bohb", 0, fte)
    full = problem.max_fidelity
    sign = problem.primary.sign
    observations = [{"trial": t.number, "config": t.config, "fraction": float(t.end_step or t.fidelity or full) / full,
                     "losses": [sign * float(t.metrics[problem.primary.name])]} for t in history if t.metrics]
    data = {"name": f"bohb-{task}", "store": "benchmarks.transfer (simulated)", "uid": None,
            "n_trials": len(history), "cost_fte": float(sum(t.cost_fte for t in history)), "notes": [],
            "observations": observations}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


def scrambled(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same study with its results shuffled among its trials (same configurations, misleading values)."""
    rng = np.random.default_rng([seed, 991])
    losses = [o["losses"] for o in data["observations"]]
    order = rng.permutation(len(losses))
    obs = [{**o, "losses": losses[int(j)]} for o, j in zip(data["observations"], order, strict=True)]
    return {**data, "name": data["name"] + "-scrambled", "observations": obs}


def _one(task: int, variant: str, seed: int, budget: float, source_fte: float, tasks: Sequence[int],
         command: str) -> dict[str, Any]:
    from benchmarks.freeze_thaw import fte_to
    from benchmarks.problems.lcbench import LCBench
    from benchmarks.runner import measure, simulate, versions
    from benchmarks.targets import load_targets
    from metaml.core.warm_start import PriorStudy
    from metaml.optimizers import make_optimizer

    spec, which = VARIANTS[variant]
    problem = LCBench(task)
    targets = load_targets(problem)
    sources: list[PriorStudy] = []
    if which is not None:
        for other in tasks:
            if other == task:
                continue
            data = source_study(other, source_fte)
            sources.append(PriorStudy.from_dict(scrambled(data, other) if which == "scrambled" else data))
    optimizer = make_optimizer(spec, problem.space, problem.objectives, seed)
    started = time.perf_counter()
    log, history, settings = simulate(problem, optimizer, seed, budget, warm_start=sources)
    result = {"problem": problem.name, "task": task, "variant": variant, "seed": seed, "budget_fte": budget,
              "optimizer_settings": settings, "sources": [s.name for s in sources],
              "source_fte": float(sum(s.cost_fte for s in sources)),
              "targets": {"target": targets.target, "best": targets.best, "median": targets.median},
              **measure(log, targets, budget, problem.max_fidelity), "stopped": log.stopped, "error": log.error,
              "sim_seconds": time.perf_counter() - started, "versions": versions(), "command": command}
    methods: dict[str, int] = defaultdict(int)
    for t in history:
        m = (t.info.get("transfer") or {}).get("method")
        if m:
            methods[m] += 1
    result["transfer_methods"] = dict(methods)
    last = next((t.info["transfer"] for t in reversed(history) if "weights" in (t.info.get("transfer") or {})), None)
    result["final_weights"] = last
    result["fte_to_target"] = fte_to(result["trajectory"], targets.target)
    return result


def cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.problems.lcbench import DEV_TASKS

    tasks = [int(t) for t in args.tasks.split(",")] if args.tasks else list(DEV_TASKS)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "-m", "benchmarks.transfer", *args.argv])
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:  # the earlier studies first, once each
        for _ in pool.map(source_study, list(DEV_TASKS), [args.source_fte] * len(DEV_TASKS)):
            pass
    print(f"earlier studies ready ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    # seed by seed, so that a run stopped early has covered every task and variant equally
    jobs = [(t, v, s) for s in range(args.first_seed, args.first_seed + args.seeds) for t in tasks for v in variants]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out, ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(_one, t, v, s, args.budget_fte, args.source_fte, list(DEV_TASKS), command): (t, v, s)
                   for t, v, s in jobs}
        for done, future in enumerate(as_completed(futures), start=1):
            r = future.result()
            out.write(json.dumps(r) + "\n")
            out.flush()
            print(f"[{done}/{len(jobs)} {time.perf_counter() - started:.0f} s] {r['problem']} {r['variant']} seed "
                  f"{r['seed']}: fte_to_target={r['fte_to_target']} ({r['sim_seconds']:.0f} s)", file=sys.stderr,
                  flush=True)
    print(table(read(args.out)))
    return 0


def read(*paths: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]


def strict_target(problem: str) -> float | None:
    """The top-0.1% target of a problem (``benchmarks.freeze_thaw``'s strict one), when it is cached."""
    from benchmarks.targets import cache_dir

    path = cache_dir() / "strict" / "targets" / f"{problem}.json"
    return float(json.loads(path.read_text())["target"]) if path.exists() else None


def table(results: list[dict[str, Any]]) -> str:
    """The comparison as a Markdown table: FTE to the 1% and 0.1% targets, PAR2, and the ratios to ``bohb``."""
    from benchmarks.freeze_thaw import fte_to, par2
    from benchmarks.stats import ratio, summarize

    strict = {r["problem"]: strict_target(r["problem"]) for r in results}
    for r in results:
        target = strict[r["problem"]]
        r["fte_to_strict"] = None if target is None else fte_to(r["trajectory"], target)

    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by[r["variant"]].append(r)
    if not by:
        return "(no results)"
    budget = max(r["budget_fte"] for r in results)
    base = by.get("bohb", [])
    base_median = summarize([r["fte_to_target"] for r in base]).median if base else float("nan")
    base_par2 = par2([r["fte_to_target"] for r in base], budget) if base else float("nan")
    base_strict = summarize([r["fte_to_strict"] for r in base]).median if base else float("nan")
    lines = ["| variant | runs | reached | median FTE to 1% target (IQR) | ratio to bohb | PAR2 | PAR2 ratio "
             "| reached 0.1% | median FTE to 0.1% | ratio | earlier studies (their FTE) "
             "| trials by portfolio / RGPE / base |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for variant in [v for v in VARIANTS if v in by]:
        rs = by[variant]
        values = [r["fte_to_target"] for r in rs]
        s = summarize(values)
        p2 = par2(values, budget)
        reached = sum(v is not None for v in values)
        n_src = statistics.median([len(r["sources"]) for r in rs])
        src_fte = statistics.median([r["source_fte"] for r in rs])
        methods = [sum(r["transfer_methods"].get(m, 0) for r in rs) / len(rs) for m in ("portfolio", "rgpe", "base")]
        used = "-" if not n_src else f"{n_src:g} ({src_fte:.0f} FTE)"
        made = "-" if not n_src else " / ".join(f"{m:.1f}" for m in methods)
        iqr = f"{s.median:.2f} ({s.q25:.2f}-{s.q75:.2f})" if np.isfinite(s.median) else f">{budget:g}"
        st = summarize([r["fte_to_strict"] for r in rs])
        st_reached = sum(r["fte_to_strict"] is not None for r in rs)
        st_median = f"{st.median:.2f}" if np.isfinite(st.median) else f">{budget:g}"
        lines.append(f"| {variant} | {len(rs)} | {reached} | {iqr} | {ratio(s.median, base_median, budget)} | "
                     f"{p2:.2f} | {p2 / base_par2:.2f} | {st_reached} | {st_median} | "
                     f"{ratio(st.median, base_strict, budget)} | {used} | {made} |")
    return "\n".join(lines)


def per_task(results: list[dict[str, Any]]) -> str:
    """Median FTE to the 1% target per held-out task and variant (``>B``: not reached in half the runs)."""
    from benchmarks.stats import summarize

    budget = max((r["budget_fte"] for r in results), default=0.0)
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in results)]
    tasks = sorted({r["task"] for r in results})
    lines = ["| task | " + " | ".join(variants) + " |", "| --- |" + " --- |" * len(variants)]
    for task in tasks:
        cells = []
        for v in variants:
            m = summarize([r["fte_to_target"] for r in results if r["task"] == task and r["variant"] == v]).median
            cells.append(f"{m:.2f}" if np.isfinite(m) else f">{budget:g}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cmd_table(args: argparse.Namespace) -> int:
    results = read(*args.paths)
    print(table(results))
    if args.per_task:
        print()
        print(per_task(results))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transfer", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the leave-one-task-out comparison")
    run.add_argument("--seeds", type=int, default=3)
    run.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    run.add_argument("--budget-fte", type=float, default=30.0)
    run.add_argument("--source-fte", type=float, default=30.0)
    run.add_argument("--tasks", default="", help="held-out tasks (default: the 8 development tasks)")
    run.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"of {', '.join(VARIANTS)}")
    run.add_argument("--jobs", type=int, default=1)
    run.add_argument("--out", type=Path, default=Path(".benchmarks-cache/results/transfer.jsonl"))
    tab = sub.add_parser("table", help="the table of a results file")
    tab.add_argument("paths", type=Path, nargs="+")
    tab.add_argument("--per-task", action="store_true", help="also the median per held-out task")
    args = parser.parse_args(argv)
    args.argv = argv
    return int(args.func(args)) if hasattr(args, "func") else (cmd_run(args) if args.command == "run"
                                                                 else cmd_table(args))


if __name__ == "__main__":
    raise SystemExit(main())
