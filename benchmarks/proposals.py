"""Dump the proposals metaml's schedulers make on LCBench, to check that a change of the core decides the same.

Run: ``python -m benchmarks.proposals --out new.json [--compare old.json]`` (make ``old.json``
with the same command at the earlier commit). Each run is ``benchmarks.runner.simulate`` of one
optimizer, task and seed; a proposal is its configuration, fidelity and the trial it continues.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.problems import make_problems
from benchmarks.runner import simulate


def proposals(tasks: list[str], optimizers: list[str], seeds: list[int], budget_fte: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for problem in make_problems("lcbench", tasks):
        for name in optimizers:
            for seed in seeds:
                _, history, _ = simulate(problem, name, seed, budget_fte)
                out[f"{problem.name}/{name}/{seed}"] = [[t.config, t.fidelity, t.continue_from] for t in history]
    return out


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Runs whose proposals differ, each with the index of the first proposal that does."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, []), new.get(key, [])
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            out.append(f"{key}: differs from proposal {first} ({len(a)} before, {len(b)} now)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proposals", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="3945,34539")
    parser.add_argument("--optimizers", default="bohb,hyperband,asha")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--budget-fte", type=float, default=8.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="an earlier --out file: say which runs decide differently")
    args = parser.parse_args(argv)
    made = proposals(args.tasks.split(","), args.optimizers.split(","), list(range(args.seeds)), args.budget_fte)
    args.out.write_text(json.dumps(made, sort_keys=True, default=float))
    print(f"{len(made)} runs, {sum(len(v) for v in made.values())} proposals -> {args.out}")
    if args.compare is None:
        return 0
    # through JSON both ways, so that a tuple and a list, or 3 and 3.0, compare as stored
    bad = differences(json.loads(args.compare.read_text()), json.loads(args.out.read_text()))
    print("\n".join(bad) if bad else f"the same proposals as {args.compare}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
