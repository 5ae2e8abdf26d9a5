"""Training functions importable by spawned worker processes (tests of the executors).

All but the last are the executor conformance suite's (``metaml.testing.executors``).
"""

from __future__ import annotations

from metaml import Trial
from metaml.testing.executors import SPACE, hangs_on_trial_2, hungry_on_trial_1, sleepy

__all__ = ["SPACE", "hangs_on_trial_2", "hungry_on_trial_1", "records_visible_gpu", "segfaults_on_trial_1", "sleepy"]


def segfaults_on_trial_1(config: dict, trial: Trial) -> dict:
    if trial.number == 1:
        import ctypes

        ctypes.string_at(0)  # reads address 0: the worker process dies with SIGSEGV
    return sleepy(config, trial)


def records_visible_gpu(config: dict, trial: Trial) -> dict:
    """Returns the GPU its worker process was given (CUDA_VISIBLE_DEVICES) as a metric."""
    import os

    result = dict(sleepy(config, trial))
    result["gpu"] = float(os.environ["CUDA_VISIBLE_DEVICES"])
    result["pid"] = float(os.getpid())
    return result
