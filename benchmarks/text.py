"""``python -m benchmarks.text``: what to adapt in a pretrained encoder, each at the same cost of 1 FTE.

The text pipeline's four adaptations of all-MiniLM-L6-v2 — a linear probe on frozen
features, the top 2 layers, LoRA (rank 8 on query and value), full fine-tuning — each
trained once for the full length with the pipeline's own recipe for it (AdamW, linear
warm-up over 10 % then linear decay; the head at 1e-3, the encoder at its adaptation's
default rate: 1e-4 top-k, 5e-4 LoRA, 2e-5 full), so each costs exactly 1 FTE of its own
study. Reported per adaptation and seed: validation error and ECE (what a search sees),
test error and ECE (scored once afterwards), trainable parameters, and the wall seconds the
run took here (the frozen-layer cache included, computed once per process and adaptation).

    python -m benchmarks.text                                  # SST-2, 1,000 training sentences, 3 epochs
    python -m benchmarks.text --train-rows 0 --epochs 3 --seeds 0 1 2 --json

Needs ``pip install 'metaml[text]'`` and SST-2 (or TREC, SMS spam) in the shared data folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from metaml import Study
from metaml.final_evaluation import score_trials
from metaml.pipelines import text
from metaml.space import Space
from metaml.store import Proposal, TrialStatus

FUNCTION = "metaml.pipelines.text:train"
ADAPTATIONS = ("probe", "top_k", "lora", "full")


def run_one(adaptation: str, seed: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Train ``adaptation`` once at full length in a fresh study; its validation and test figures."""
    settings = {"dataset": args.dataset, "encoder": "minilm", "seed": seed, "threads": args.threads,
                "train_rows": args.train_rows or None, "metrics": ["ece", "trainable_parameters"]}  # fmt: skip
    space = Space(text.text_space(**settings, epochs=args.epochs))
    full = text.resolve({**settings, "adaptation": adaptation, "max_len": args.max_len})
    config = space.validate({k: v for k, v in full.items() if k in space.parameters})
    name = f"text-{adaptation}-{seed}"
    study = Study.create(name, space, ["val_error", "ece"], store=folder / f"{name}.db", seed=seed)
    study.store.enqueue(study.id, Proposal(config, args.epochs))
    start = time.perf_counter()
    (record,) = study.optimize(text.train, budget=1)
    seconds = time.perf_counter() - start
    if record.status is not TrialStatus.COMPLETED:
        return {"adaptation": adaptation, "seed": seed, "error": record.error}
    test = score_trials(study, [record], FUNCTION).get(record.number, {})
    metrics = record.metrics or {}
    return {"adaptation": adaptation, "seed": seed, "fte": record.cost_fte, "seconds": round(seconds, 1),
            "val_error": metrics["val_error"], "val_ece": metrics["ece"],
            "test_error": test.get("test_error"), "test_ece": test.get("test_ece"),
            "trainable_parameters": int(metrics["trainable_parameters"])}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sst2")
    parser.add_argument("--adaptations", nargs="+", default=list(ADAPTATIONS), choices=ADAPTATIONS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--train-rows", type=int, default=1000, help="0: all training sentences")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=32, choices=text.MAX_LENGTHS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for adaptation in args.adaptations:
            for seed in args.seeds:
                rows.append(run_one(adaptation, seed, args, Path(folder)))
                if not args.json:
                    print(json.dumps(rows[-1]), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"\n{args.dataset}, {args.train_rows or 'all'} training rows, {args.epochs} epochs, max_len {args.max_len}")
    print(f"{'adaptation':<11}{'val err':>9}{'val ECE':>9}{'test err':>10}{'test ECE':>10}{'trainable':>11}{'s':>8}")
    for adaptation in args.adaptations:
        done = [r for r in rows if r["adaptation"] == adaptation and "error" not in r]
        if not done:
            print(f"{adaptation:<11} failed: {[r.get('error') for r in rows if r['adaptation'] == adaptation]}")
            continue

        def mean(key: str, done: list[dict[str, Any]] = done) -> float:
            return statistics.fmean(float(r[key]) for r in done)

        print(f"{adaptation:<11}{mean('val_error'):>9.4f}{mean('val_ece'):>9.4f}{mean('test_error'):>10.4f}"
              f"{mean('test_ece'):>10.4f}{done[0]['trainable_parameters']:>11,}{mean('seconds'):>8.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
