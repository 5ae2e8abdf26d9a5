"""``python -m benchmarks.text_search``: the text example's search against the standard fine-tuning recipe.

Issue 17's target, per seed in one run: the standard full fine-tuning recipe (AdamW, encoder
at 2e-5, head at 1e-3, linear warm-up over 10 % then linear decay, 3 epochs) and the linear
probe, each trained once (``benchmarks.text``'s runs, 1 FTE each), against the search of
``examples/finetune_text.yaml`` (its space, objectives, latency limit, optimizer and workers)
given ``--fte`` full-training equivalents, its default configuration first and inside the
budget. The seed sets the 500 training sentences (the pipeline's ``seed``), the study's seed
and the baselines' seed alike, so both sides train on the same rows; the 872 dev sentences
validate, and after the search the front and the baselines are scored once on the 1,821 test
sentences. Reported per seed: the front's most accurate model (by validation error) and its
best calibrated (by validation ECE), each with its test figures, beside the baselines'.

FTE counts epochs of the search's full length (3), whatever a trial adapts: a probe epoch
costs far less time than a full fine-tuning epoch, so the wall seconds are reported too.

    python -m benchmarks.text_search --seeds 0 1 2 --fte 5 --out benchmarks/results/text/search.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks import text
from benchmarks.pipelines import EXAMPLES_DIR, default_trial, test_metrics, tuned_study
from benchmarks.stats import mean_sd
from metaml.store import TrialRecord
from metaml.studyfile import StudyFile, load_study_file

EXAMPLE = EXAMPLES_DIR / "finetune_text.yaml"
BASELINES = ("full", "probe")


def seeded_example(seed: int, folder: Path) -> StudyFile:
    """The example file with its training rows and study seeded by ``seed`` (a copy in ``folder``)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["seed"] = seed
    data["space"]["seed"] = {"type": "constant", "value": seed}
    path = folder / f"finetune_text-{seed}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_study_file(path)


def _figures(trial: TrialRecord, test: dict[int, dict[str, float]]) -> dict[str, Any]:
    metrics, scored = trial.metrics or {}, test.get(trial.number, {})
    return {"trial": trial.number, "config": dict(trial.config), "fidelity": trial.fidelity,
            "val_error": metrics.get("val_error"), "val_ece": metrics.get("ece"),
            "latency_ms": metrics.get("latency_ms"), "test_error": scored.get("test_error"),
            "test_ece": scored.get("test_ece")}  # fmt: skip


def run_search(seed: int, fte: float, folder: Path) -> dict[str, Any]:
    """The example study at ``seed`` within ``fte``; its front's most accurate and best calibrated models."""
    spec = seeded_example(seed, folder)
    study, seconds = tuned_study(spec, folder / f"search-{seed}.db", fte, None)
    default = default_trial(study)
    test, test_seconds = test_metrics(study, spec, default)
    front = study.pareto_front()
    out: dict[str, Any] = {"seed": seed, "fte": study.cost_fte(), "seconds": round(seconds, 1),
                           "test_seconds": round(test_seconds, 1), "trials": len(study.trials()),
                           "front": [_figures(t, test) for t in front], "default": _figures(default, test)}  # fmt: skip
    if front:
        out["most_accurate"] = _figures(min(front, key=lambda t: (t.metrics or {})["val_error"]), test)
        out["best_calibrated"] = _figures(min(front, key=lambda t: (t.metrics or {})["ece"]), test)
    return out


def baseline_args() -> argparse.Namespace:
    """``benchmarks.text``'s settings for the baselines: the example's rows, tokens and length."""
    return argparse.Namespace(dataset="sst2", train_rows=500, epochs=3, max_len=32, threads=2)


def verdict(row: dict[str, Any]) -> dict[str, Any]:
    """Whether the front beats the standard recipe on accuracy and on calibration, on dev and on test."""
    full, best, calibrated = row["baselines"].get("full", {}), row.get("most_accurate"), row.get("best_calibrated")
    if not best or not calibrated or "val_error" not in full:
        return {}
    def below(mine: Any, theirs: Any) -> bool:  # a figure that was not scored wins nothing
        return mine is not None and theirs is not None and mine < theirs

    return {"more_accurate_val": below(best["val_error"], full["val_error"]),
            "more_accurate_test": below(best["test_error"], full.get("test_error")),
            "better_calibrated_val": below(calibrated["val_ece"], full["val_ece"]),
            "better_calibrated_test": below(calibrated["test_ece"], full.get("test_ece"))}  # fmt: skip


def render(rows: list[dict[str, Any]]) -> str:
    """The per-seed table and the mean ± sd over seeds."""
    lines = ["| seed | side | trial | val error | val ECE | test error | test ECE | FTE | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    columns: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        sides = [("standard recipe (full, 2e-5)", row["baselines"].get("full", {}), 1.0),
                 ("linear probe", row["baselines"].get("probe", {}), 1.0),
                 ("front: most accurate", row.get("most_accurate", {}), row["fte"]),
                 ("front: best calibrated", row.get("best_calibrated", {}), row["fte"])]  # fmt: skip
        for side, r, fte in sides:
            seconds = r.get("seconds", row["seconds"])
            lines.append(f"| {row['seed']} | {side} | {r.get('trial', '-')} | {_n(r.get('val_error'))} | "
                         f"{_n(r.get('val_ece'))} | {_n(r.get('test_error'))} | {_n(r.get('test_ece'))} | "
                         f"{fte:.2f} | {seconds:.0f} |")  # fmt: skip
            for key in ("val_error", "val_ece", "test_error", "test_ece"):
                if r.get(key) is not None:
                    columns.setdefault(side, {}).setdefault(key, []).append(float(r[key]))
    lines += ["", "| side | val error | val ECE | test error | test ECE |", "| --- | --- | --- | --- | --- |"]
    for side, values in columns.items():
        lines.append(f"| {side} | " + " | ".join(mean_sd(values.get(k, [])) for k in
                                                ("val_error", "val_ece", "test_error", "test_ece")) + " |")  # fmt: skip
    return "\n".join(lines)


def _n(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--fte", type=float, default=5.0, help="the search's budget in full-training equivalents")
    parser.add_argument("--out", type=Path, help="write the raw results as JSON here")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for seed in args.seeds:
            started = time.perf_counter()
            baselines = {a: text.run_one(a, seed, baseline_args(), folder) for a in BASELINES}
            row = {**run_search(seed, args.fte, folder), "baselines": baselines}
            row["verdict"] = verdict(row)
            rows.append(row)
            print(json.dumps({"seed": seed, "verdict": row["verdict"], "minutes": round(
                (time.perf_counter() - started) / 60, 1)}), flush=True)  # fmt: skip
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(rows, indent=1, default=str))
    print(render(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
