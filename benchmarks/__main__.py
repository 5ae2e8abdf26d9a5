"""``python -m benchmarks run|table``: simulate optimizers on benchmark problems and summarize.

    python -m benchmarks run --problem lcbench --tasks 3945,34539 --optimizers random,hyperband \\
        --seeds 10 --budget-fte 30 --out results.jsonl
    python -m benchmarks table results.jsonl more.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metaml.errors import MetamlError, OptimizerError

#: --quick: the first 2 tasks, 3 seeds, 10 FTE.
QUICK_TASKS, QUICK_SEEDS, QUICK_BUDGET = 2, 3, 10.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate optimizers on a problem family and print the summary")
    run.add_argument("--problem", default="lcbench", help="lcbench, lcbench-mo, branin, hartmann6, zdt1")
    run.add_argument("--tasks", default=None,
                     help="comma-separated: OpenML task ids (lcbench) or correlation presets (synthetic); "
                          "default: the development tasks / all presets")
    run.add_argument("--optimizers", default="random", help="comma-separated registered names; NAME-scratch "
                                                            "charges promotions as retraining from scratch")
    run.add_argument("--seeds", type=int, default=10, help="runs per optimizer and task (seeds 0..N-1)")
    run.add_argument("--budget-fte", type=float, default=30.0, help="budget per run in full-training equivalents")
    run.add_argument("--out", type=Path, default=None, help="append one JSON line per run to this file")
    run.add_argument("--no-continuation-baseline", action="store_true",
                     help="do not add the NAME-scratch run after each optimizer that continued trials")
    run.add_argument("--quick", action="store_true", help="2 tasks, 3 seeds, 10 FTE")
    run.add_argument("--per-task", action="store_true", help="also print median FTE-to-target per task")
    run.add_argument("--json", action="store_true", help="print the summary rows as JSON")
    run.add_argument("--markdown", action="store_true", help="print the summary as a Markdown table")
    tab = sub.add_parser("table", help="summarize result files written by run --out")
    tab.add_argument("files", nargs="+", type=Path)
    tab.add_argument("--per-task", action="store_true")
    tab.add_argument("--json", action="store_true")
    tab.add_argument("--markdown", action="store_true")
    return p


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _print_summary(results: list[dict[str, Any]], args: argparse.Namespace, title: str) -> None:
    from rich.console import Console

    from benchmarks.summary import as_json, markdown, per_task_markdown, per_task_table, rows, table

    summary_rows = rows(results)
    if args.json:
        print(json.dumps(as_json(summary_rows), indent=1))
        return
    if args.markdown:
        print(markdown(summary_rows))
        if args.per_task:
            print("\n" + per_task_markdown(results))
        return
    # Piped output gets room for every column instead of rich's 80-column default.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(table(title, summary_rows))
    if args.per_task:
        console.print(per_task_table(results))
    problems = [r for r in results if r["error"] or r["stopped"] != "budget"]
    for r in problems[:10]:
        console.print(f"[yellow]{r['optimizer']} on {r['problem']} seed {r['seed']}: {r['stopped']}"
                      + (f": {r['error'].splitlines()[0]}" if r["error"] else ""))


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmarks.problems import default_tasks, make_problems
    from benchmarks.runner import command_line, run_many, split_name, versions
    from benchmarks.targets import load_targets
    from metaml.optimizers import available

    tasks = _split(args.tasks) or list(default_tasks(args.problem))
    seeds, budget = args.seeds, args.budget_fte
    if args.quick:
        tasks, seeds, budget = tasks[:QUICK_TASKS], QUICK_SEEDS, QUICK_BUDGET
    optimizers = _split(args.optimizers)
    unknown = [o for o in optimizers if split_name(o)[0] not in available()]
    if unknown:
        raise OptimizerError(f"unknown optimizer {', '.join(unknown)}; available: {', '.join(available())}")
    if seeds < 1 or budget <= 0:
        raise OptimizerError("--seeds must be at least 1 and --budget-fte positive")
    problems = make_problems(args.problem, tasks)
    err = Console(stderr=True)
    if any(len(p.objectives) > 1 for p in problems):
        err.print(f"[yellow]{args.problem} has several objectives: targets, regret and FTE-to-target "
                  f"measure only the first one ({problems[0].primary.name})")
    started = time.perf_counter()
    targets = {}
    for p in problems:
        targets[p.name] = load_targets(p)
    err.print(f"targets ready for {len(problems)} problems in {time.perf_counter() - started:.1f} s")
    extra = {"versions": versions(), "command": command_line(args.argv)}
    out = args.out.open("a") if args.out else None
    n_opt = len(optimizers) * (1 if args.no_continuation_baseline else 2)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            bar = progress.add_task("runs", total=len(problems) * n_opt * seeds)

            def on_result(r: dict[str, Any]) -> None:
                progress.update(bar, advance=1, description=f"{r['problem']} {r['optimizer']} seed {r['seed']}")
                if out is not None:
                    out.write(json.dumps(r) + "\n")
                    out.flush()

            results = run_many(problems, optimizers, list(range(seeds)), budget, targets,
                               continuation_baseline=not args.no_continuation_baseline,
                               on_result=on_result, extra=extra)
    finally:
        if out is not None:
            out.close()
    title = (f"{args.problem}: {len(problems)} tasks x {seeds} seeds, budget {budget:g} FTE "
             f"({time.perf_counter() - started:.0f} s)")
    _print_summary(results, args, title)
    if args.out:
        err.print(f"wrote {len(results)} runs to {args.out}")
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from benchmarks.summary import read_results

    results = read_results(args.files)
    if not results:
        raise MetamlError(f"no results in {', '.join(map(str, args.files))}")
    _print_summary(results, args, f"{len(results)} runs from {', '.join(map(str, args.files))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        return cmd_run(args) if args.command == "run" else cmd_table(args)
    except MetamlError as exc:
        if args.debug:
            raise
        from rich.console import Console

        Console(stderr=True).print(f"[red]{exc}", highlight=False)
        return 2 if isinstance(exc, OptimizerError) else 1


if __name__ == "__main__":
    sys.exit(main())
