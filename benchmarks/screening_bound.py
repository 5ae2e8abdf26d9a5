"""``python -m benchmarks.screening_bound``: how few FTE *any* screen-then-train search could need on LCBench.

Why: issue 15 asks for a median of 2.5 FTE to a top-1% configuration, and no setting of
``freeze_thaw`` came near it. This measures what a search would need if its judgement were
perfect, so that the gap can be told apart into proposals (which configurations are tried)
and recognition (which of them are trained to the end). A *proposer* (``random`` or ``bo``,
through the same ``benchmarks.runner.simulate`` as every table) sees each configuration's
error after ``K`` epochs, and from that sequence of proposals these optimistic figures follow:

* **perfect judge**: the first proposal that is a top-1% configuration is recognized at once,
  after its ``K`` screening epochs, and trained on to the end: ``n K / full + (full - K) / full``
  FTE for the ``n``-th proposal. No search whose proposals are these can do better.
* **best at K, promoted at the right time**: the best configuration so far by its ``K``-epoch
  error is trained to the end, once, exactly when it is a top-1% one (an oracle picks the
  moment): the same cost at the first ``n`` where it is.
* **two-stage, promoted at the right time**: each proposal among the best third so far by its
  K-epoch error (``--deep-share``; 0: only a new best) is trained on to 4 K epochs
  (``--deep-factor``), and the best of those by that error is trained to the end at the moment
  an oracle knows it to be a hit (the screens and deepenings paid).
* **the GP's best at K, promoted at the right time** (``--gp-judge``): as "best at K", but the
  best is the one freeze_thaw's curve model, refitted on the K-epoch curves after each screen,
  predicts best at the end: whether the model recognizes better than the screen's value.
* **the trend's best at K, promoted at the right time**: as "best at K", but by each curve's own
  log-log slope over its last epochs continued to the end, shrunk (``trend_estimates``), the
  estimate that ranked a uniform population best offline (docs/benchmarks.md, "The curve's own trend").
* **every N, no oracle** (``--every``): a search anyone could run: after every N screens the best
  proposal not yet promoted, by the screen's value or by the trend, is trained to the end; the run
  ends at the first promoted configuration that is a hit (every screen and promotion paid). The
  oracle-timed figures bound this one from below.

All of them use the true 52-epoch errors of the surrogate, which no optimizer sees; they are bounds
of a search with these proposals, not a search. A run that does not meet the target within
``--max-evals`` proposals counts as unreached.

    python -m benchmarks.screening_bound --seeds 5 --epochs 2,4,8 --proposers random,bo --jobs 2
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from metaml.optimizers.curve_trend import trend_estimates

#: The two-stage figure's defaults: the best ``DEEP_SHARE`` of the proposals so far by the screen go on to
#: ``DEEP_FACTOR`` x K (a share of 0 deepens only a proposal that is the best so far at K).
DEEP_FACTOR, DEEP_SHARE = 4, 1.0 / 3.0


def screening_costs(at_k: Sequence[float], final: Sequence[float], target: float, k: float,
                    full: float) -> tuple[float | None, float | None]:
    """(perfect judge, best at K promoted at the right time): FTE to a configuration at or below ``target``."""
    one = (full - k) / full
    judge = next((n * k / full + one for n, f in enumerate(final, start=1) if f <= target), None)
    best, best_at_k = None, None
    for n, (a, f) in enumerate(zip(at_k, final), start=1):
        if best is None or a < best[0]:
            best = (a, f)
        if best[1] <= target:
            best_at_k = n * k / full + one
            break
    return judge, best_at_k


def every_n_cost(estimates: Sequence[float], final: Sequence[float], target: float, k: float, full: float,
                 every: int) -> float | None:
    """FTE to the target of the search that, after every ``every`` screens, trains the best proposal by
    ``estimates`` not yet promoted to the end, and stops at the first promoted hit (None: not within the proposals).
    No oracle: the moment of each promotion is fixed in advance, and a promotion that is not a hit is paid in full."""
    spent, promoted = 0.0, set()
    for n in range(every, len(final) + 1, every):
        spent += every * k / full
        chosen = min((i for i in range(n) if i not in promoted), key=lambda i: estimates[i])
        promoted.add(chosen)
        spent += (full - k) / full
        if final[chosen] <= target:
            return spent
    return None


def two_stage_cost(at_k: Sequence[float], at_deep: Sequence[float], final: Sequence[float], target: float,
                   k: float, deep: float, full: float, share: float) -> float | None:
    """FTE to the target when each proposal whose ``k``-step error is among the best ``share`` of those so far is
    trained on to ``deep``, and the best of those by its ``deep``-step error is trained to the end, once, at the
    moment an oracle knows it to be a hit (None: not within the proposals)."""
    spent, best = 0.0, None
    for n, (a, d, f) in enumerate(zip(at_k, at_deep, final), start=1):
        spent += k / full
        rank = sum(1 for x in at_k[:n] if x < a)  # proposals so far better at k
        if rank < max(1, math.ceil(share * n)):
            spent += (deep - k) / full
            if best is None or d < best[0]:
                best = (d, f)
        if best is not None and best[1] <= target:
            return spent + (full - deep) / full
    return None


def gp_judge_cost(problem: Any, configs: Sequence[dict[str, Any]], final: Sequence[float], target: float,
                  k: int, metric: str = "val_error") -> float | None:
    """FTE to the target when, after each screen, freeze_thaw's curve GP is fitted on the ``k``-epoch curves so far
    and the proposal it predicts best at the end is trained to the end at the moment it is a hit (None: never)."""
    from metaml.core.records import Observation, TrialRecord, TrialStatus
    from metaml.core.view import StudyView
    from metaml.objectives import Objective
    from metaml.optimizers.bo.model import HyperparameterCache
    from metaml.optimizers.freeze_thaw_model import CurveModel, Encodings, StepScale, build_rows, fit
    from metaml.optimizers.freeze_thaw_runs import build_runs

    full = float(problem.max_fidelity)
    curves = np.stack([problem.evaluate_batch(list(configs), e)[metric] for e in range(1, k + 1)], axis=1)
    scale, encode, cache = StepScale(problem.space.fidelity, full), Encodings(problem.space), HyperparameterCache()
    trials: list[Any] = []
    points: list[Any] = []
    for n, config in enumerate(configs, start=1):
        i = n - 1
        trials.append(TrialRecord(0, i, dict(config), k, None, TrialStatus.COMPLETED,
                                  metrics={metric: float(curves[i, -1])}, start_step=0.0, end_step=float(k)))
        points += [Observation(i, float(s), {metric: float(curves[i, s - 1])}, 0.0) for s in range(1, k + 1)]
        if n < 3:  # too few curves for a fit: the best at the screen
            chosen = int(np.argmin(curves[:n, -1]))
        else:
            runs = build_runs(StudyView.of(trials, points), (Objective(metric),), full)
            rows = build_rows(runs, scale, encode)
            model = CurveModel(rows, fit(rows, 0, cache))
            X = np.stack([np.r_[problem.space.encode(c), 1.0] for c in configs[:n]])
            chosen = int(np.argmin(model.predict(X)[0]))
        if final[chosen] <= target:
            return n * k / full + (full - k) / full
    return None


def _screened(task: int, epochs: int) -> Any:
    """The LCBench task with its fidelity cut at ``epochs``: a proposer's "full" run is the screen."""
    from benchmarks.problems.lcbench import LCBench
    from metaml.space import Fidelity, Space

    problem = LCBench(task)
    params = dict(problem.space.parameters)
    params[problem.space.fidelity_name or "epoch"] = Fidelity(1, epochs)
    problem.space = Space(params)
    problem.name = f"{problem.name}@{epochs}"
    return problem


def _one(task: int, proposer: str, epochs: int, seed: int, max_evals: int, deep_factor: int = DEEP_FACTOR,
         deep_share: float = DEEP_SHARE, gp_judge: bool = False, every: Sequence[int] = ()) -> dict[str, Any]:
    from benchmarks.problems.lcbench import LCBench
    from benchmarks.runner import simulate
    from benchmarks.targets import load_targets

    full_problem = LCBench(task)
    targets = load_targets(full_problem)
    full = full_problem.max_fidelity
    _, history, _ = simulate(_screened(task, epochs), proposer, seed, budget_fte=float(max_evals),
                             max_evaluations=max_evals)
    configs = [t.config for t in sorted(history, key=lambda t: t.number)][:max_evals]
    curves = np.stack([full_problem.evaluate_batch(configs, e)["val_error"] for e in range(1, epochs + 1)], axis=1)
    at_k = curves[:, -1].tolist()
    final = full_problem.evaluate_batch(configs, full)["val_error"].tolist()
    judge, best_at_k = screening_costs(at_k, final, targets.target, epochs, full)
    deep = min(full, deep_factor * epochs)
    at_deep = full_problem.evaluate_batch(configs, deep)["val_error"].tolist()
    two_stage = two_stage_cost(at_k, at_deep, final, targets.target, epochs, deep, full, deep_share)
    gp = gp_judge_cost(full_problem, configs, final, targets.target, epochs) if gp_judge else None
    trend = trend_estimates(curves, float(full)).tolist()
    _, trend_fte = screening_costs(trend, final, targets.target, epochs, full)
    policies = {f"{judge}@{n}": every_n_cost(values, final, targets.target, epochs, full, n)
                for n in every for judge, values in (("screen", at_k), ("trend", trend))}
    first_top = next((n for n, f in enumerate(final, start=1) if f <= targets.target), None)
    return {"problem": full_problem.name, "proposer": proposer, "epochs": epochs, "seed": seed,
            "max_evals": max_evals, "proposals": len(configs), "first_top": first_top,
            "tops": int(sum(f <= targets.target for f in final)),
            "tops_20": int(sum(f <= targets.target for f in final[:20])), "judge_fte": judge, "best_at_k_fte": best_at_k,
            "deep": deep, "deep_share": deep_share, "two_stage_fte": two_stage, "gp_judge": gp_judge, "gp_judge_fte": gp,
            "trend_fte": trend_fte, "every_n_fte": policies}


def _fte(value: float | None) -> float:
    """A run's FTE to the target, an unreached one (None) above every reached one."""
    return math.inf if value is None else value


def _median(values: list[float | None]) -> str:
    xs = [_fte(v) for v in values]
    m = float(statistics.median(xs)) if xs else float("nan")
    return ">max" if not np.isfinite(m) else f"{m:.2f}"


def gp_against_best(rows: Sequence[dict[str, Any]]) -> tuple[int, int, int]:
    """Runs where the GP's best at K reaches the target (earlier, later, as soon as) the screen's best at K;
    an unreached run counts as later than every reached one, two unreached as the same."""
    pairs = [(_fte(r.get("gp_judge_fte")), _fte(r["best_at_k_fte"])) for r in rows]
    earlier = sum(1 for g, b in pairs if g < b - 1e-9)
    later = sum(1 for g, b in pairs if g > b + 1e-9)
    return earlier, later, len(pairs) - earlier - later


def table(results: list[dict[str, Any]]) -> str:
    groups: dict[tuple[str, int, int, float], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        k = int(r["epochs"])
        groups[(r["proposer"], k, int(r.get("deep", DEEP_FACTOR * k)), float(r.get("deep_share", DEEP_SHARE)))].append(r)
    lines = ["| proposer | screen (epochs) | runs | perfect judge: median FTE | reached | best at K, promoted "
             "at the right time: median FTE | reached | two-stage: deepened to (epochs) | share deepened | two-stage, "
             "promoted at the right time: median FTE | reached | GP's best at K, promoted at the right time: median FTE "
             "| reached | GP against best at K: earlier / later / same (runs) | top-1% among the first 20 proposals (mean) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for (proposer, k, deep, share), rs in sorted(groups.items()):
        judge = [r["judge_fte"] for r in rs]
        best = [r["best_at_k_fte"] for r in rs]
        two = [r.get("two_stage_fte") for r in rs]
        gp = [r.get("gp_judge_fte") for r in rs]
        gp_cells = (f"{_median(gp)} | {sum(v is not None for v in gp)} | {' / '.join(map(str, gp_against_best(rs)))}"
                    if all(r.get("gp_judge") for r in rs) else "- | - | -")
        early = np.mean([r["tops_20"] for r in rs])
        lines.append(f"| `{proposer}` | {k} | {len(rs)} | {_median(judge)} | {sum(v is not None for v in judge)} "
                     f"| {_median(best)} | {sum(v is not None for v in best)} "
                     f"| {deep} | {share:.2f} | {_median(two)} | {sum(v is not None for v in two)} | {gp_cells} "
                     f"| {early:.2f} |")
    return "\n".join(lines)


def policy_table(results: list[dict[str, Any]]) -> str:
    """Recognition by the trend against the screen's value, with an oracle's moment and without one."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if "trend_fte" in r:
            groups[(r["proposer"], int(r["epochs"]))].append(r)
    names = sorted({name for rs in groups.values() for r in rs for name in r.get("every_n_fte", {})},
                   key=lambda name: (int(name.split("@")[1]), name))
    lines = ["| proposer | screen (epochs) | runs | best at K, oracle's moment: median FTE | reached | trend's best at K, "
             "oracle's moment: median FTE | reached | " + " | ".join(
                 f"{name.split('@')[0]}'s best every {name.split('@')[1]}, no oracle: median FTE | reached"
                 for name in names) + " |",
             "|---|---:|---:|---:|---:|---:|---:|" + "---:|---:|" * len(names)]
    for (proposer, k), rs in sorted(groups.items()):
        cells = [_median([r["best_at_k_fte"] for r in rs]), str(sum(r["best_at_k_fte"] is not None for r in rs)),
                 _median([r["trend_fte"] for r in rs]), str(sum(r["trend_fte"] is not None for r in rs))]
        for name in names:
            values = [r.get("every_n_fte", {}).get(name) for r in rs]
            cells += [_median(values), str(sum(v is not None for v in values))]
        lines.append(f"| `{proposer}` | {k} | {len(rs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.problems.lcbench import DEV_TASKS

    ap = argparse.ArgumentParser(prog="python -m benchmarks.screening_bound", description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default=None, help="comma-separated OpenML task ids (default: the development tasks)")
    ap.add_argument("--proposers", default="random,bo")
    ap.add_argument("--epochs", default="2,4,8", help="screening lengths K")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-evals", type=int, default=100, help="proposals per run at most")
    ap.add_argument("--deep-factor", type=int, default=DEEP_FACTOR, help="two-stage: deepen to this x K epochs")
    ap.add_argument("--deep-share", type=float, default=DEEP_SHARE,
                    help="two-stage: deepen proposals among this best share so far at K (0: only a new best)")
    ap.add_argument("--gp-judge", action="store_true",
                    help="also the GP's best at K (freeze_thaw's curve model refitted after every screen; slow)")
    ap.add_argument("--every", default="", help="comma-separated N: also the no-oracle search that trains the best "
                    "proposal not yet promoted to the end after every N screens")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(".benchmarks-cache/results/screening-bound.jsonl"))
    args = ap.parse_args(argv)
    tasks = [int(t) for t in args.tasks.split(",")] if args.tasks else list(DEV_TASKS)
    every = [int(n) for n in args.every.split(",") if n.strip()]
    if any(n < 1 for n in every):
        ap.error(f"--every takes whole numbers of screens, at least 1 (got {args.every!r})")
    jobs = [(t, p.strip(), int(k), s) for t in tasks for p in args.proposers.split(",") if p.strip()
            for k in args.epochs.split(",") for s in range(args.seeds)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started, results = time.perf_counter(), []
    with args.out.open("a") as out, ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_one, t, p, k, s, args.max_evals, args.deep_factor, args.deep_share,
                               args.gp_judge, every) for t, p, k, s in jobs]
        for done, future in enumerate(as_completed(futures), start=1):
            r = future.result()
            results.append(r)
            out.write(json.dumps(r) + "\n")
            out.flush()
            print(f"[{done}/{len(jobs)} {time.perf_counter() - started:.0f} s] {r['problem']} {r['proposer']} "
                  f"K={r['epochs']} seed {r['seed']}: judge {r['judge_fte']} best-at-K {r['best_at_k_fte']}",
                  file=sys.stderr, flush=True)
    print(table(results))
    print()
    print(policy_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
