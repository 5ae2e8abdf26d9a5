"""The LCBench wrapper against values from yahpo-gym 1.0.2 (BenchmarkSet('lcbench'), computed once)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.problems import ProblemUnavailable
from benchmarks.targets import compute_targets

DEFAULT = {"batch_size": 91, "learning_rate": 0.0031622777, "momentum": 0.545, "weight_decay": 0.050005,
           "num_layers": 3, "max_units": 256, "max_dropout": 0.5}
# (task, epoch, config, time, val_accuracy, val_cross_entropy, test_balanced_accuracy) from yahpo-gym
REFERENCE = [
    (3945, 52, DEFAULT, 165.68974, 93.39881, 0.3800975, 0.67015153),
    (3945, 1, DEFAULT, 15.923601, 38.19505, 0.6803293, 0.4578325),
    (189909, 17, {"batch_size": 300, "learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.0001,
                  "num_layers": 2, "max_units": 700, "max_dropout": 0.1}, 80.28957, 70.49722, 0.6313955, 0.749264),
    (34539, 52, {"batch_size": 16, "learning_rate": 0.0001, "momentum": 0.1, "weight_decay": 0.1,
                 "num_layers": 5, "max_units": 1024, "max_dropout": 0.9}, 585.52295, 92.00623, 0.5390348, 0.5312571),
]


@pytest.mark.parametrize("task,epoch,config,t,acc,ce,test_bacc", REFERENCE)
def test_matches_yahpo_gym(lcbench_or_skip: type, task: int, epoch: int, config: dict, t: float, acc: float,
                           ce: float, test_bacc: float) -> None:
    p = lcbench_or_skip(task)
    out = p.evaluate(p.space.validate(config), epoch)
    assert out["time"] == pytest.approx(t, rel=1e-4)
    assert out["val_accuracy"] == pytest.approx(acc, rel=1e-4)
    assert out["val_cross_entropy"] == pytest.approx(ce, rel=1e-4)
    assert out["test_balanced_accuracy"] == pytest.approx(test_bacc, rel=1e-4)
    assert out["val_error"] == pytest.approx(1 - acc / 100, rel=1e-4)  # val_accuracy is in percent


def test_space_and_objectives_come_from_the_surrogate_files(lcbench_or_skip: type) -> None:
    p = lcbench_or_skip(3945)
    assert (p.min_fidelity, p.max_fidelity) == (1.0, 52.0)
    assert sorted(p.space.searchable) == sorted(DEFAULT)
    assert p.space.parameters["learning_rate"].log and not p.space.parameters["momentum"].log
    assert [o.name for o in p.objectives] == ["val_error"]
    mo = lcbench_or_skip(3945, multi_objective=True)
    assert [o.name for o in mo.objectives] == ["val_error", "time"] and mo.name == "lcbench-mo-3945"
    with pytest.raises(ProblemUnavailable, match="no task 12345"):
        lcbench_or_skip(12345)


def test_targets_for_5000_configs_are_one_fast_vectorized_call(lcbench_or_skip: type) -> None:
    p = lcbench_or_skip(146212)
    started = time.perf_counter()
    t = compute_targets(p)
    assert time.perf_counter() - started < 5.0
    assert t.best <= t.target < t.median < 1.0 and t.n == 5000
    assert t.regret(t.median) == pytest.approx(1.0) and t.regret(t.best) == 0.0
    assert np.isinf(t.regret(None))


def test_missing_data_says_where_to_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.problems.lcbench import LCBench

    monkeypatch.setenv("METAML_DATA_DIR", str(tmp_path))
    with pytest.raises(ProblemUnavailable, match="METAML_DATA_DIR"):
        LCBench(3945)
