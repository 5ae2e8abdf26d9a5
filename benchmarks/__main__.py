"""``python -m benchmarks run|table``: simulate optimizers on benchmark problems and summarize.

    python -m benchmarks run --problem lcbench --tasks 3945,34539 --optimizers random,hyperband \\
        --seeds 10 --budget-fte 30 --out results.jsonl
    python -m benchmarks table results.jsonl more.jsonl
    python -m benchmarks compare --suite lcbench-dev --seeds 10     # metaml against every installed peer
    python -m benchmarks compare --suite lcbench-dev --quick        # the same in a few minutes
    python -m benchmarks compare --suite tabular --seeds 5 --budget-fte 10      # the real tabular pipeline
    python -m benchmarks compare --suite lcbench-mo-dev --seeds 5               # hypervolume, MO peers
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
    _compare_parser(sub)
    tab = sub.add_parser("table", help="summarize result files written by run --out")
    tab.add_argument("files", nargs="+", type=Path)
    tab.add_argument("--per-task", action="store_true")
    tab.add_argument("--json", action="store_true")
    tab.add_argument("--markdown", action="store_true")
    tab.add_argument("--plots", type=Path, default=None, metavar="PREFIX",
                     help="compare results: draw PREFIX-FAMILY.png per family (e.g. docs/img/compare-synthetic)")
    return p


def _compare_parser(sub: Any) -> None:
    cmp = sub.add_parser("compare", help="metaml's default optimizer against every installed peer, same runs")
    cmp.add_argument("--suite", default="lcbench-dev", help="lcbench-dev, synthetic, tabular or lcbench-mo-dev")
    cmp.add_argument("--tasks", default=None, help="comma-separated tasks (for a one-family suite)")
    cmp.add_argument("--families", default=None, help="only these families of the suite (e.g. hartmann6)")
    cmp.add_argument("--seeds", type=int, default=10, help="runs per optimizer and task (seeds 0..N-1)")
    cmp.add_argument("--budget-fte", type=float, default=None, help="budget per run (default: the suite's, 30 FTE)")
    cmp.add_argument("--peers", default="all", help="comma-separated peer specs, or 'all' (the default set)")
    cmp.add_argument("--metaml", default=None,
                     help="metaml optimizers to run (default: bohb; moasha,mohb,bo on lcbench-mo-dev)")
    cmp.add_argument("--no-metaml", action="store_true", help="run only the peers")
    cmp.add_argument("--slow-seeds", type=int, default=3, help="seeds for peers that take seconds per proposal")
    cmp.add_argument("--peer-seeds", default="neps-bo=1,smac-mf=5",
                     help="per-peer seed counts (default neps-bo=1,smac-mf=5: what docs/benchmarks.md reports)")
    cmp.add_argument("--time-box", type=float, default=600.0, help="wall-clock limit per peer run, seconds")
    cmp.add_argument("--slow-time-box", type=float, default=150.0, help="the same for slow peers (smac-mf, neps-bo)")
    cmp.add_argument("--peer-python", type=Path, default=None,
                     help="interpreter of the peers' venv (default: .venv-peers/bin/python when it exists)")
    cmp.add_argument("--no-delegate", action="store_true", help="never run peers in another interpreter")
    cmp.add_argument("--sequential", dest="parallel", action="store_false",
                     help="run the peers' venv after the local runs, not beside them (slower; cleaner overhead timings)")
    cmp.add_argument("--parallel", dest="parallel", action="store_true", default=True,
                     help="run the peers' venv at the same time as the local runs (the default)")
    cmp.add_argument("--quick", action="store_true", help="2 tasks per family, 3 seeds, 10 FTE, short time boxes")
    cmp.add_argument("--out", type=Path, default=None,
                     help="result lines (default: .benchmarks-cache/results/compare-SUITE[-quick].jsonl, rewritten)")
    cmp.add_argument("--plots-dir", type=Path, default=None,
                     help="where the PNGs go (default: docs/img, or .benchmarks-cache/img with --quick)")
    cmp.add_argument("--no-plots", action="store_true")
    cmp.add_argument("--per-task", action="store_true", help="also print median FTE-to-target per task")
    cmp.add_argument("--json", action="store_true", help="print the summary rows as JSON")
    cmp.add_argument("--markdown", action="store_true", help="print the summary as Markdown tables")


def _split(text: str | None) -> list[str]:
    from benchmarks.runner import split_optimizers

    return split_optimizers(text)


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


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from benchmarks.peers import DEFAULT_PEERS, PEERS
    from benchmarks.peers import compare as cmp
    from benchmarks.problems import make_problems
    from benchmarks.runner import command_line, run_many, versions
    from benchmarks.targets import load_targets
    from metaml.optimizers import available

    suite = cmp.suite(args.suite)
    seeds, budget = args.seeds, args.budget_fte or suite.budget_fte
    slow_seeds, time_box, slow_time_box = args.slow_seeds, args.time_box, args.slow_time_box
    n_tasks: int | None = None
    if args.quick:
        n_tasks, seeds, budget = QUICK_TASKS, QUICK_SEEDS, QUICK_BUDGET
        slow_seeds, time_box, slow_time_box = 1, min(time_box, 60.0), min(slow_time_box, 30.0)
    peers = list(suite.peers or DEFAULT_PEERS) if args.peers == "all" else _split(args.peers)
    unknown = [p for p in peers if p not in PEERS]
    metaml = [] if args.no_metaml else (_split(args.metaml) or list(suite.metaml or [cmp.METAML_DEFAULT]))
    unknown += [o for o in metaml if o not in available()]
    if unknown:
        raise OptimizerError(f"unknown optimizer or peer {', '.join(unknown)}; peers: {', '.join(PEERS)}")
    peer_seeds = cmp.parse_peer_seeds(args.peer_seeds)
    if args.quick:
        peer_seeds = {k: min(v, slow_seeds) for k, v in peer_seeds.items()}
    err = Console(stderr=True)
    peer_python = None if args.no_delegate else (args.peer_python or cmp.default_peer_python())
    plan = cmp.plan_peers(peers, peer_python, delegate=not args.no_delegate)
    for line in plan.skipped:
        err.print(f"[yellow]skipped {line}", highlight=False)
    if plan.delegated:
        err.print(f"in {peer_python}: {', '.join(plan.delegated)}", highlight=False)
    out_path = args.out or Path(".benchmarks-cache/results") / f"compare-{args.suite}{'-quick' if args.quick else ''}.jsonl"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out = out_path.open("w")
    extra = {"versions": versions(), "command": command_line(args.argv), "suite": args.suite}
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    child_out = cmp.temp_out() if plan.delegated else None
    child = None
    child_args = cmp.child_argv(args.argv)
    families = _split(args.families)
    work = []  # (problems, targets, extra measures) per family, references computed before any run starts
    for family, tasks in suite.families:
        if families and family not in families:
            continue
        chosen = _split(args.tasks) or list(tasks)
        problems = make_problems(family, chosen[:n_tasks] if n_tasks else chosen)
        targets = {p.name: load_targets(p) for p in problems}
        measures = None
        if suite.multi_objective:
            from benchmarks.peers.mo import measures_for
            from benchmarks.targets import load_mo_targets

            measures = measures_for({p.name: load_mo_targets(p) for p in problems})
        work.append((problems, targets, measures))
    try:
        if plan.delegated and args.parallel:
            child = cmp.start_delegate(peer_python, child_args, plan.delegated, child_out)  # type: ignore[arg-type]

        def on_result(r: dict[str, Any]) -> None:
            hv = f" fte_to_hv_target={r['mo']['fte_to_hv_target']}" if "mo" in r else ""
            err.print(f"  {r['problem']} {r['optimizer']} seed {r['seed']}: fte_to_target={r['fte_to_target']}{hv} "
                      f"overhead {r['overhead_s']:.1f} s{'' if r['stopped'] == 'budget' else ' ' + r['stopped']}",
                      highlight=False)
            out.write(json.dumps(r) + "\n")
            out.flush()
            results.append(r)

        for problems, targets, measures in work:
            if metaml:
                run_many(problems, metaml, list(range(seeds)), budget, targets, on_result=on_result, extra=extra,
                         measures=measures)
            for name in plan.local:
                n = cmp.seeds_for(name, seeds, slow_seeds, peer_seeds)
                run_many(problems, [name], list(range(n)), budget, targets, continuation_baseline=False,
                         on_result=on_result, extra=extra, time_box_s=cmp.time_box_for(name, time_box, slow_time_box),
                         measures=measures)
        if plan.delegated:
            if child is None:
                child = cmp.start_delegate(peer_python, child_args, plan.delegated, child_out)  # type: ignore[arg-type]
            for r in cmp.finish_delegate(child, peer_python, plan.delegated, child_out):  # type: ignore[arg-type]
                r["parent_command"] = extra["command"]  # the child's own command stays in "command"
                out.write(json.dumps(r) + "\n")
                results.append(r)
    finally:
        out.close()
        if child_out is not None:
            child_out.unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    err.print(f"wrote {len(results)} runs to {out_path} in {elapsed:.0f} s")
    _print_compare(results, args, budget, elapsed)
    if not args.no_plots and results:
        folder = args.plots_dir or (Path(".benchmarks-cache/img") if args.quick else Path("docs/img"))
        _plot_compare(results, folder / f"compare-{args.suite}", budget)
    return 0


def _plot_compare(results: list[dict[str, Any]], prefix: Path, budget: float) -> None:
    """One PNG per family: ``PREFIX-FAMILY.png``."""
    from rich.console import Console

    from benchmarks.peers.compare import group_by_family
    from benchmarks.peers.plots import plot_family, plot_mo_family
    from benchmarks.summary import best_label, best_mo_label, is_multi_objective

    for family, rs in group_by_family(results).items():
        path = prefix.parent / f"{prefix.name}-{family}.png"
        n_tasks = len({r["problem"] for r in rs})
        if is_multi_objective(rs):
            if not all("trajectory" in r["mo"] for r in rs):
                Console(stderr=True).print(f"no plot for {family}: result lines without a hypervolume trajectory",
                                           highlight=False)
                continue
            best = best_mo_label(rs, "peer")
            banded = {r["optimizer"] for r in rs if r.get("kind", "metaml") == "metaml"} | ({best} if best else set())
            plot_mo_family(rs, path, f"{family}: normalized hypervolume vs FTE, median over {n_tasks} tasks x seeds "
                                     f"(budget {budget:g} FTE)\nIQR bands for metaml and the best peer ({best}); "
                                     "HV is 0 before a run's first full-fidelity result", budget, banded)
            Console(stderr=True).print(f"plot: {path}", highlight=False)
            continue
        best = best_label(rs, "peer")
        banded = {r["optimizer"] for r in rs if r.get("kind", "metaml") == "metaml"} | ({best} if best else set())
        plot_family(rs, path, f"{family}: normalized regret vs FTE, median over {n_tasks} tasks x seeds (budget {budget:g} FTE)\n"
                              f"IQR bands for metaml and the best peer ({best})", budget, banded)
        Console(stderr=True).print(f"plot: {path}", highlight=False)


def _print_compare(results: list[dict[str, Any]], args: argparse.Namespace, budget: float, elapsed: float) -> None:
    from rich.console import Console

    from benchmarks.peers.compare import group_by_family
    from benchmarks.summary import (
        as_json,
        best_label,
        compare_markdown,
        compare_table,
        is_multi_objective,
        per_task_markdown,
        per_task_table,
        rows,
    )

    console = Console() if sys.stdout.isatty() else Console(width=200)
    payload = {}
    for family, rs in group_by_family(results).items():
        if is_multi_objective(rs):
            payload[family] = _print_mo(family, rs, args, budget, elapsed, console)
            continue
        ref = best_label(rs, "peer")
        table_rows = rows(rs, reference=ref or "random")
        n_tasks = len({r["problem"] for r in rs})
        title = (f"{family}: {n_tasks} tasks, budget {budget:g} FTE, ratios against the best peer ({ref})"
                 + (f"; {elapsed:.0f} s" if elapsed else ""))
        if args.json:
            payload[family] = {"reference": ref, "rows": as_json(table_rows)}
        elif args.markdown:
            print(f"**{title}**\n\n{compare_markdown(table_rows, ref)}\n")
            if args.per_task:
                print(per_task_markdown(rs) + "\n")
        else:
            console.print(compare_table(title, table_rows, ref))
            if args.per_task:
                console.print(per_task_table(rs))
    if args.json:
        print(json.dumps(payload, indent=1))


def _print_mo(family: str, rs: list[dict[str, Any]], args: argparse.Namespace, budget: float, elapsed: float,
              console: Any) -> dict[str, Any]:
    """The multi-objective table of one family: FTE to the hypervolume target, normalized hypervolume."""
    from benchmarks.summary import (
        best_mo_label,
        mo_as_json,
        mo_compare_markdown,
        mo_compare_table,
        mo_per_task_markdown,
        mo_rows,
    )

    ref = best_mo_label(rs, "peer")
    table_rows = mo_rows(rs, reference=ref)
    share = float(rs[0]["mo"]["share"])
    n_tasks = len({r["problem"] for r in rs})
    title = (f"{family}: {n_tasks} tasks, budget {budget:g} FTE, hypervolume of the full-fidelity results "
             f"(HV_rand: the 5,000-random-configuration front's), ratios against the best peer ({ref})"
             + (f"; {elapsed:.0f} s" if elapsed else ""))
    if args.markdown:
        print(f"**{title}**\n\n{mo_compare_markdown(table_rows, ref, share)}\n")
        if args.per_task:
            print(mo_per_task_markdown(rs) + "\n")
    elif not args.json:
        console.print(mo_compare_table(title, table_rows, ref, share))
        if args.per_task:
            console.print(mo_per_task_markdown(rs))
    return {"reference": ref, "rows": mo_as_json(table_rows)}


def cmd_table(args: argparse.Namespace) -> int:
    from benchmarks.summary import read_results

    results = read_results(args.files)
    if not results:
        raise MetamlError(f"no results in {', '.join(map(str, args.files))}")
    if any(r.get("kind") == "peer" for r in results):  # compare results: per family, against the best peer
        budget = max(float(r["budget_fte"]) for r in results)
        _print_compare(results, args, budget, 0.0)
        if args.plots is not None:
            _plot_compare(results, args.plots, budget)
        return 0
    _print_summary(results, args, f"{len(results)} runs from {', '.join(map(str, args.files))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        commands = {"run": cmd_run, "compare": cmd_compare, "table": cmd_table}
        return commands[args.command](args)
    except MetamlError as exc:
        if args.debug:
            raise
        from rich.console import Console

        Console(stderr=True).print(f"[red]{exc}", highlight=False)
        return 2 if isinstance(exc, OptimizerError) else 1


if __name__ == "__main__":
    sys.exit(main())
