"""Training functions importable by spawned worker processes (tests of the executors)."""

from __future__ import annotations

import os
import time

import numpy as np

from metaml import Float, Int, Space, Trial

SPACE = Space({"x": Float(0.0, 1.0), "n": Int(1, 5)})


def sleepy(config: dict, trial: Trial) -> dict:
    """Sleeps (METAML_TEST_SLEEP seconds, default 0.3) and returns a cheap loss."""
    time.sleep(float(os.environ.get("METAML_TEST_SLEEP", "0.3")))
    return {"loss": (config["x"] - 0.5) ** 2 + 0.01 * config["n"]}


def hangs_on_trial_2(config: dict, trial: Trial) -> dict:
    if trial.number == 2:
        time.sleep(600)
    return sleepy(config, trial)


def hungry_on_trial_1(config: dict, trial: Trial) -> dict:
    if trial.number == 1:
        block = np.ones(2_000_000_000 // 8)  # 2 GB: more than the test's memory limit
        return {"loss": float(block.sum())}
    return sleepy(config, trial)


def segfaults_on_trial_1(config: dict, trial: Trial) -> dict:
    if trial.number == 1:
        import ctypes

        ctypes.string_at(0)  # reads address 0: the worker process dies with SIGSEGV
    return sleepy(config, trial)
