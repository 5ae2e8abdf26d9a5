"""The executor contract's conformance suite: every registered executor must pass all of it.

An executor is checked by name: register it (``metaml.execution.register_executor``), then
subclass :class:`ExecutorSuite` in a test module with ``names = ["yours"]``; pytest then runs
every check below once per name, on small studies in a SQLite store in the test's temporary
folder (override the ``study_url`` fixture for another store), with the training functions of
this module (importable by worker processes, wherever they run): no trial is lost or
duplicated, ``run`` returns exactly the trials it finished, each once, in number order (a
resumed run only its own), and each limit (``timeout``, ``memory_mb``) is enforced as the
executor's ``enforces`` claims, or refused with a ``MetamlError`` naming it before any trial
runs. The executor named ``ray`` gets a small local Ray for the test class (and is skipped
where Ray is not installed). metaml's own executors run it in
``tests/execution/test_conformance.py``::

    class TestMyExecutor(ExecutorSuite):
        names = ["mine"]
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import metaml
from metaml import Float, Int, Space, Study, Trial, TrialStatus
from metaml.budget import Budget
from metaml.core.records import TrialRecord
from metaml.errors import MetamlError
from metaml.execution import Executor, get_executor
from metaml.execution.settings import ExecutionSettings

SPACE = Space({"x": Float(0.0, 1.0), "n": Int(1, 5)})

HAS_RAY = importlib.util.find_spec("ray") is not None


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
        block = np.ones(2_000_000_000 // 8)  # 2 GB: more than the suite's memory limit
        return {"loss": float(block.sum())}
    return sleepy(config, trial)


def study(url: str) -> Study:
    """The suite's study: ``SPACE``, one objective (loss), seed 7."""
    return Study.create("conformance", SPACE, ["loss"], store=url, seed=7)


def settings(executor: Executor, timeout: float | None = None, memory_mb: float | None = None) -> ExecutionSettings:
    """Two workers on ``executor``, with the given limits."""
    return ExecutionSettings(executor=executor.name, workers=2, timeout=timeout, memory_mb=memory_mb)


def _numbers(records: list[TrialRecord]) -> list[int]:
    return [r.number for r in records]


class ExecutorSuite:
    """The executor contract's checks, once per name in ``names`` (see the module)."""

    #: The registered executors to check.
    names: ClassVar[Sequence[str]] = ()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "name" in metafunc.fixturenames:
            if not self.names:
                raise ValueError(f"{type(self).__name__}.names is empty: list the executors to check")
            no_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed")
            metafunc.parametrize("name", [pytest.param(n, id=n, marks=no_ray if n == "ray" else ()) for n in self.names])

    @pytest.fixture(scope="class")
    @classmethod
    def ray_instance(cls) -> Iterator[None]:
        """One small local Ray for the test class; its workers import the functions from where this metaml is."""
        import ray

        previous = os.environ.get("PYTHONPATH")
        root = str(Path(metaml.__file__).resolve().parents[1])
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, previous) if p)
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as exc:  # no room for Ray here (shared memory, ports): the other executors still run
            pytest.skip(f"Ray cannot start here: {exc}")
        finally:
            if previous is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = previous
        try:
            yield
        finally:
            ray.shutdown()

    @pytest.fixture
    def executor(self, name: str, request: pytest.FixtureRequest) -> Executor:
        if name == "ray":
            request.getfixturevalue("ray_instance")
        return get_executor(name)

    @pytest.fixture
    def study_url(self, tmp_path: Path) -> str:
        """Where the suite's studies are stored: a new SQLite file per test."""
        return f"sqlite:///{tmp_path / 'study.db'}"

    def test_every_trial_is_finished_exactly_once_and_the_run_returns_them(
        self, executor: Executor, study_url: str
    ) -> None:
        s = study(study_url)
        seen: list[int] = []
        done = executor.run(s, sleepy, Budget(trials=6), settings(executor), on_trial=lambda r: seen.append(r.number))
        trials = s.trials()
        assert _numbers(trials) == list(range(6))  # none lost, none duplicated
        assert all(t.status is TrialStatus.COMPLETED for t in trials)
        assert _numbers(done) == list(range(6))  # each once, in number order
        assert [r.status for r in done] == [TrialStatus.COMPLETED] * 6
        assert [r.metrics for r in done] == [t.metrics for t in trials]
        assert sorted(seen) == list(range(6))  # on_trial heard of each one once

    def test_a_resumed_run_returns_only_its_own_trials(self, executor: Executor, study_url: str) -> None:
        s = study(study_url)
        first = executor.run(s, sleepy, Budget(trials=3), settings(executor))
        again = executor.run(Study.load(s.name, study_url), sleepy, Budget(trials=5), settings(executor))
        assert _numbers(first) == [0, 1, 2]
        assert _numbers(again) == [3, 4]
        assert _numbers(s.trials()) == list(range(5))
        assert all(t.status is TrialStatus.COMPLETED for t in s.trials())

    def test_a_trial_past_its_timeout_is_failed_or_the_run_is_refused(self, executor: Executor, study_url: str) -> None:
        s = study(study_url)
        limited = settings(executor, timeout=2)
        if "timeout" not in executor.enforces:
            with pytest.raises(MetamlError, match="timeout") as refused:
                executor.run(s, hangs_on_trial_2, Budget(trials=4), limited)
            assert "memory_mb" not in str(refused.value)
            assert s.trials() == []  # refused before any trial was asked for
            return
        done = executor.run(s, hangs_on_trial_2, Budget(trials=4), limited)
        by_number = {t.number: t for t in s.trials()}
        assert sorted(by_number) == [0, 1, 2, 3]
        assert by_number[2].status is TrialStatus.FAILED and "timed out" in (by_number[2].error or "")
        assert all(by_number[n].status is TrialStatus.COMPLETED for n in (0, 1, 3))
        assert _numbers(done) == [0, 1, 2, 3]  # the trial failed at its timeout is one this run finished

    def test_a_trial_past_its_memory_limit_fails_or_the_run_is_refused(self, executor: Executor, study_url: str) -> None:
        s = study(study_url)
        limited = settings(executor, memory_mb=1500)
        if "memory_mb" not in executor.enforces:
            with pytest.raises(MetamlError, match="memory_mb") as refused:
                executor.run(s, hungry_on_trial_1, Budget(trials=3), limited)
            assert "timeout" not in str(refused.value)
            assert s.trials() == []
            return
        done = executor.run(s, hungry_on_trial_1, Budget(trials=3), limited)
        by_number = {t.number: t for t in s.trials()}
        assert by_number[1].status is TrialStatus.FAILED and "out of memory" in (by_number[1].error or "")
        assert by_number[0].status is by_number[2].status is TrialStatus.COMPLETED
        assert _numbers(done) == [0, 1, 2]
