"""``python -m benchmarks.pipelines``: the built-in pipelines' example studies against their default.

For each example study file (``examples/tabular_fairness.yaml``, ``tabular_fairness_compas.yaml``,
``vision_digits.yaml``, ``vision_ssl.yaml``, ``finetune_text.yaml``; the one-shot examples have
``benchmarks.oneshot``; whether SSL itself helps, ``benchmarks.ssl``):

1. the study runs with a fixed budget in full-training equivalents (FTE), with the
   optimizer and workers its file names, in a fresh store, as ``metaml run`` runs it: its
   first trial is the pipeline's default configuration trained once for the full length
   (every searched parameter at the pipeline's default) — the baseline a user would get
   without a search — and its budget includes that run;
2. after the search, each Pareto-front model and the default are scored once on the test
   split (``metaml.final_evaluation``); the search saw validation metrics only;
3. the report compares them: the best validation (and test) error on the Pareto front
   against the default's, the FTE spent, and on the front the lowest fairness gap or
   latency among the models at least as accurate as the default.

    python -m benchmarks.pipelines                        # both examples, each at its file's FTE budget
    python -m benchmarks.pipelines --examples vision_digits --fte 10 --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from metaml import Study
from metaml.budget import Budget
from metaml.final_evaluation import evaluate_front, score_trials
from metaml.pipelines.baseline import enqueue_default
from metaml.store import TrialRecord, TrialStatus
from metaml.studyfile import StudyFile, load_study_file

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = ("tabular_fairness", "tabular_fairness_compas", "vision_digits", "vision_ssl", "finetune_text")
#: Examples measured by a benchmark of their own (one-shot search against bohb: ``benchmarks.oneshot``).
ELSEWHERE = {"oneshot_tabular": "benchmarks.oneshot", "oneshot_tabular_bohb": "benchmarks.oneshot",
             "oneshot_vision": "benchmarks.oneshot", "oneshot_vision_bohb": "benchmarks.oneshot"}


def tuned_study(spec: StudyFile, store: Path, fte: float, workers: int | None) -> tuple[Study, float]:
    """The example study, default first, run in a fresh store until ``fte`` full-training equivalents are spent."""
    study = Study.create(spec.name, spec.space, spec.objectives, store=store, optimizer=spec.optimizer, seed=spec.seed)
    enqueue_default(study, spec.function)
    settings = spec.execution.with_overrides(workers=workers)
    started = time.perf_counter()
    study.optimize(spec.function_ref() if settings.workers > 1 else spec.load_function(), Budget(fte=fte),
                   settings=settings)  # fmt: skip
    return study, time.perf_counter() - started


def default_trial(study: Study) -> TrialRecord:
    """The study's run of the pipeline's default configuration (its first trial)."""
    info = study.metadata.default_trial
    if not info:
        raise RuntimeError(f"{study.name}: the default configuration was not run first")
    return study.store.trial(study.id, int(info["number"]))


def test_metrics(study: Study, spec: StudyFile, default: TrialRecord) -> tuple[dict[int, dict[str, float]], float]:
    """Each front model's and the default's test metrics, computed once after the search; (them, seconds)."""
    started = time.perf_counter()
    final = evaluate_front(study, spec.function)
    scores = dict(final.results)
    scores.update(score_trials(study, [default], spec.function))
    return scores, time.perf_counter() - started


def compare(
    spec: StudyFile, default: TrialRecord, study: Study, test: Mapping[int, Mapping[str, float]] | None = None
) -> dict[str, Any]:
    """What the search bought over the default: error, and the second objective among as-accurate models.

    ``test`` holds the test metrics computed once after the search, by trial number; they are
    shown beside the validation metrics of the same trials, never used to choose them.
    """
    test = test or {}

    def metrics(t: TrialRecord) -> dict[str, Any]:
        return {**(t.metrics or {}), **test.get(t.number, {})}

    error = spec.objectives[0].name
    base = metrics(default)
    front = study.pareto_front()
    trials = study.trials()
    out: dict[str, Any] = {
        "study": spec.name,
        "objectives": [o.name for o in spec.objectives],
        "default": {"trial": default.number, **{k: base.get(k) for k in _shown(spec, base)}},
        "default_feasible": all(o.feasible(base[o.name]) for o in spec.objectives if o.name in base),
        "trials": len(trials),
        "failed": sum(t.status is TrialStatus.FAILED for t in trials),
        "fte": study.cost_fte(),
        "front": [{"trial": t.number, **{k: metrics(t).get(k) for k in _shown(spec, metrics(t))}}
                  for t in sorted(front, key=lambda t: (t.metrics or {})[error])],  # fmt: skip
    }
    if not front or error not in base:
        return out
    best = min(front, key=lambda t: (t.metrics or {})[error])
    out["best_error"] = {"trial": best.number, error: metrics(best)[error], "test_error": metrics(best).get("test_error")}
    out["error_improvement"] = base[error] - metrics(best)[error]
    out["test_error_improvement"] = _difference(base.get("test_error"), metrics(best).get("test_error"))
    best_any = min(_full_length(study, error), key=lambda t: (t.metrics or {})[error])
    out["best_error_any"] = {"trial": best_any.number,
                             **{k: (best_any.metrics or {}).get(k) for k in _shown(spec, best_any.metrics or {})}}
    # On validation (what the search saw) and on the held-out test rows (scored once, after the
    # search): among the front's models at least as accurate as the default, the best value of
    # each other objective.
    view = [(t.number, metrics(t)) for t in front]
    out["gains"] = {"validation": _gains(spec, base, view, error, ""),
                    "test": _gains(spec, base, view, "test_error", "test_")}
    return out


def _full_length(study: Study, error: str) -> list[TrialRecord]:
    """Completed trials that trained the full length (whatever their other objectives)."""
    full = study.optimizer.full_fidelity
    return [
        t for t in study.trials([TrialStatus.COMPLETED])
        if error in (t.metrics or {}) and (full is None or (t.fidelity is not None and t.fidelity >= full))
    ]


def _gains(
    spec: StudyFile, base: Mapping[str, Any], front: Sequence[tuple[int, Mapping[str, Any]]], error: str, prefix: str
) -> dict[str, Any]:
    if error not in base:
        return {}
    as_accurate = [(n, m) for n, m in front if m.get(error, math.inf) <= base[error]]
    gains: dict[str, Any] = {"as_accurate": len(as_accurate)}
    for objective in spec.objectives[1:]:
        # a cost (latency, size) is the same on every split; a prediction metric has a test_ twin
        name = prefix + objective.name if prefix + objective.name in base else objective.name
        candidates = [(n, m) for n, m in as_accurate if name in m]
        if name not in base or not candidates:
            continue
        number, pick = min(candidates, key=lambda c: objective.sign * c[1][name])
        value = pick[name]
        gains[name] = {"trial": number, "default": base[name], "tuned": value, error: pick[error],
                       "default_" + error: base[error], "gain": objective.sign * (base[name] - value)}  # fmt: skip
    return gains


def _shown(spec: StudyFile, metrics: Mapping[str, Any]) -> list[str]:
    names = [o.name for o in spec.objectives]
    tests = ["test_error"] + [f"test_{n}" for n in names if f"test_{n}" in metrics]
    return [n for n in [*names, *tests] if n in metrics]


def _difference(a: Any, b: Any) -> float | None:
    return None if a is None or b is None else float(a) - float(b)


def run_example(name: str, fte: float | None, workers: int | None, folder: Path) -> dict[str, Any]:
    spec = load_study_file(EXAMPLES_DIR / f"{name}.yaml")
    budget = fte if fte is not None else (spec.budget.fte if spec.budget and spec.budget.fte else 10.0)
    (folder / name).mkdir(parents=True, exist_ok=True)  # a study keeps its trials' checkpoints beside its store
    study, study_s = tuned_study(spec, folder / name / "study.db", budget, workers)
    default = default_trial(study)
    if default.status is not TrialStatus.COMPLETED:
        raise RuntimeError(f"{name}: the default configuration failed: {default.error}")
    test, test_s = test_metrics(study, spec, default)
    result = compare(spec, default, study, test)
    result.update({"budget_fte": budget, "default_seconds": default.duration or 0.0, "study_seconds": study_s,
                   "test_seconds": test_s, "workers": spec.execution.with_overrides(workers=workers).workers})  # fmt: skip
    return result


def render(result: Mapping[str, Any]) -> str:
    """One example's comparison as Markdown."""
    lines = [f"### {result['study']}", ""]
    shown = {k: v for k, v in result["default"].items() if k != "trial"}
    lines.append(f"- default (trial {result['default'].get('trial')}, trained once, full length, "
                 f"{result['default_seconds']:.0f} s): {_fmt(shown)}"
                 + ("" if result["default_feasible"] else " — violates a limit"))  # fmt: skip
    lines.append(f"- study: {result['trials']} trials ({result['failed']} failed), {result['fte']:.2f} FTE of "
                 f"{result['budget_fte']:g} (the default's run included), {result['study_seconds']:.0f} s with "
                 f"{result['workers']} worker(s); test split scored once after it in {result.get('test_seconds', 0):.0f} s")  # fmt: skip
    if "best_error" in result:
        best = result["best_error"]
        lines.append(f"- error improvement: {result['error_improvement']:+.4f} validation"
                     + (f", {result['test_error_improvement']:+.4f} test" if result["test_error_improvement"] is not None else "")
                     + f" (trial {best['trial']})")  # fmt: skip
        any_best = result["best_error_any"]
        shown = {k: v for k, v in any_best.items() if k != "trial"}
        lines.append(f"- best error of any full-length trial, limits ignored: {_fmt(shown)} (trial {any_best['trial']})")
        for split, gains in result.get("gains", {}).items():
            for name, gain in gains.items():
                if name == "as_accurate":
                    continue
                error = "test_error" if split == "test" else result["objectives"][0]
                lines.append(f"- {split}: {name} of the {gains['as_accurate']} front models at least as accurate as the "
                             f"default ({error} <= {gain['default_' + error]:.4g}): {gain['default']:.4g} -> "
                             f"{gain['tuned']:.4g} (trial {gain['trial']}, {error} {gain[error]:.4g})")  # fmt: skip
            if gains.get("as_accurate") == 0:
                lines.append(f"- {split}: no front model is at least as accurate as the default")
    columns = [k for k in result["default"] if k != "trial"]
    lines += ["", "| trial | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for point in result["front"]:
        lines.append(f"| {point['trial']} | " + " | ".join(_num(point.get(k)) for k in columns) + " |")
    lines.append(f"| default ({result['default'].get('trial')}) | " + " | ".join(_num(result["default"][k]) for k in columns) + " |")
    return "\n".join(lines)


def _fmt(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_num(v)}" for k, v in values.items())


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipelines", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default=",".join(EXAMPLES), help="comma-separated example names")
    parser.add_argument("--fte", type=float, default=None, help="budget per study (default: the file's fte)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the file's)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON to this file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="metaml-bench-pipelines-") as folder:
        for name in [n.strip() for n in args.examples.split(",") if n.strip()]:
            results.append(run_example(name, args.fte, args.workers, Path(folder)))
            if not args.json:
                sys.stdout.write(render(results[-1]) + "\n\n")
                sys.stdout.flush()
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))
    if args.json:
        sys.stdout.write(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
