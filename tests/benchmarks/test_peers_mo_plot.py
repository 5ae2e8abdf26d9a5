"""The multi-objective compare plot: normalized hypervolume against FTE, from each run's ``mo.trajectory``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.__main__ import main
from benchmarks.peers.plots import hv_bands, hv_norm_at, plot_mo_family

pytest.importorskip("matplotlib")


def line(optimizer: str, kind: str, seed: int, trajectory: list[list[float]], problem: str = "mo-a") -> dict[str, Any]:
    """A result line of the ``lcbench-mo-dev`` kind with the fields the tables and the plot read."""
    hv_random = 100.0
    checkpoints = {}
    for x in (5.0, 10.0):
        found = [v for f, v in trajectory if f <= x]
        checkpoints[f"{x:g}"] = found[-1] if found else 0.0
    final = trajectory[-1][1] if trajectory else 0.0
    reached = [f for f, v in trajectory if v >= 99.0]
    return {
        "problem": problem, "family": "toy-mo", "optimizer": optimizer, "kind": kind, "seed": seed,
        "optimizer_settings": {}, "budget_fte": 10.0, "n_evaluations": 12, "n_continuations": 3,
        "overhead_ms": 1.0, "overhead_s": 0.1, "stopped": "budget", "error": None,
        "mo": {"hv": checkpoints, "hv_norm": {k: v / hv_random for k, v in checkpoints.items()},
               "final_hv": final, "final_hv_norm": final / hv_random,
               "fte_to_hv_target": reached[0] if reached else None, "trajectory": trajectory,
               "n_front_points": len(trajectory), "reference": [1.0, 1.0], "hv_random": hv_random,
               "hv_target": 99.0, "share": 0.99},
    }


#: Three runs of one optimizer (two tasks pooled); hv_random is 100, so HV 50 reads 0.5.
RUNS = [
    line("m", "metaml", 0, [[1.0, 50.0], [4.0, 90.0]]),
    line("m", "metaml", 1, [[3.0, 80.0]]),
    line("m", "metaml", 0, [[1.5, 60.0], [4.5, 100.0]], problem="mo-b"),
]


def test_hv_norm_at_is_a_step_function_from_zero() -> None:
    grid = np.array([0.5, 1.0, 2.0, 4.0, 5.0])
    assert hv_norm_at(RUNS[0], grid).tolist() == [0.0, 0.5, 0.5, 0.9, 0.9]
    # the checkpoints written by benchmarks.peers.mo are points of the same curve
    for r in RUNS:
        assert hv_norm_at(r, np.array([5.0, 10.0])).tolist() == pytest.approx(
            [r["mo"]["hv_norm"]["5"], r["mo"]["hv_norm"]["10"]])


def test_bands_pool_tasks_and_seeds() -> None:
    b = hv_bands(RUNS, np.array([0.5, 2.0, 5.0]))
    # at 2 FTE the runs read 0.5, 0 and 0.6; at 5 FTE 0.9, 0.8 and 1.0 (linear interpolation between order statistics)
    assert b["median"].tolist() == pytest.approx([0.0, 0.5, 0.9])
    assert b["q25"].tolist() == pytest.approx([0.0, 0.25, 0.85])
    assert b["q75"].tolist() == pytest.approx([0.0, 0.55, 0.95])


def test_plot_mo_family_writes_a_png(tmp_path: Path) -> None:
    results = [*RUNS, line("p", "peer", 0, [[1.0, 40.0], [8.0, 95.0]])]
    path = plot_mo_family(results, tmp_path / "sub" / "mo.png", "toy", banded={"m"})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_plots_draw_the_multi_objective_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = [*RUNS, line("p", "peer", 0, [[1.0, 40.0], [8.0, 95.0]]), line("p", "peer", 1, [[2.0, 99.5]])]
    jsonl = tmp_path / "compare-toy.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in results))
    assert main(["table", str(jsonl), "--markdown", "--plots", str(tmp_path / "img" / "compare-toy")]) == 0
    png = tmp_path / "img" / "compare-toy-toy-mo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot: {png}" in capsys.readouterr().err.replace("\n", "")
