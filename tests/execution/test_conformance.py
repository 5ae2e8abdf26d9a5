"""The executor contract, checked of every registered executor (a new one joins the parameter list).

No trial lost or duplicated; ``run`` returns exactly the trials it finished; each limit
(``timeout``, ``memory_mb``) is enforced, or refused with a ``MetamlError`` naming it before
any trial runs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from metaml.budget import Budget
from metaml.core.records import TrialRecord
from metaml.errors import MetamlError
from metaml.execution import Executor, available_executors, execute, get_executor, register_executor
from metaml.execution.settings import ExecutionSettings
from tests.execution import functions

HAS_RAY = importlib.util.find_spec("ray") is not None
ROOT = Path(__file__).resolve().parents[2]


def _param(name: str) -> object:
    if name == "ray":
        return pytest.param(name, id=name, marks=pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed"))
    return pytest.param(name, id=name)


EXECUTORS = [_param(name) for name in available_executors()]


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    """One small local Ray for the module; its workers import ``tests.execution.functions`` from here."""
    import ray

    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), previous) if p)
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


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Executor:
    if request.param == "ray":
        request.getfixturevalue("ray_instance")
    return get_executor(request.param)


def _study(url: str) -> Study:
    return Study.create("conformance", functions.SPACE, ["loss"], store=url, seed=7)


def _settings(executor: Executor, timeout: float | None = None, memory_mb: float | None = None) -> ExecutionSettings:
    return ExecutionSettings(executor=executor.name, workers=2, timeout=timeout, memory_mb=memory_mb)


def _numbers(records: list[TrialRecord]) -> list[int]:
    return [r.number for r in records]


def test_every_trial_is_finished_exactly_once_and_the_run_returns_them(executor: Executor, sqlite_url: str) -> None:
    study = _study(sqlite_url)
    seen: list[int] = []
    done = executor.run(study, functions.sleepy, Budget(trials=6), _settings(executor), on_trial=lambda r: seen.append(r.number))
    trials = study.trials()
    assert _numbers(trials) == list(range(6))  # none lost, none duplicated
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    assert _numbers(done) == list(range(6))  # each once, in number order
    assert [r.status for r in done] == [TrialStatus.COMPLETED] * 6 and [r.metrics for r in done] == [t.metrics for t in trials]
    assert sorted(seen) == list(range(6))  # on_trial heard of each one once


def test_a_resumed_run_returns_only_its_own_trials(executor: Executor, sqlite_url: str) -> None:
    study = _study(sqlite_url)
    first = executor.run(study, functions.sleepy, Budget(trials=3), _settings(executor))
    again = executor.run(Study.load(study.name, sqlite_url), functions.sleepy, Budget(trials=5), _settings(executor))
    assert _numbers(first) == [0, 1, 2]
    assert _numbers(again) == [3, 4]
    assert _numbers(study.trials()) == list(range(5))
    assert all(t.status is TrialStatus.COMPLETED for t in study.trials())


def test_a_trial_past_its_timeout_is_failed_or_the_run_is_refused(executor: Executor, sqlite_url: str) -> None:
    study = _study(sqlite_url)
    settings = _settings(executor, timeout=2)
    if "timeout" not in executor.enforces:
        with pytest.raises(MetamlError, match="timeout") as refused:
            executor.run(study, functions.hangs_on_trial_2, Budget(trials=4), settings)
        assert "memory_mb" not in str(refused.value)
        assert study.trials() == []  # refused before any trial was asked for
        return
    done = executor.run(study, functions.hangs_on_trial_2, Budget(trials=4), settings)
    by_number = {t.number: t for t in study.trials()}
    assert sorted(by_number) == [0, 1, 2, 3]
    assert by_number[2].status is TrialStatus.FAILED and "timed out" in (by_number[2].error or "")
    assert all(by_number[n].status is TrialStatus.COMPLETED for n in (0, 1, 3))
    assert _numbers(done) == [0, 1, 2, 3]  # the trial failed at its timeout is one this run finished


def test_a_trial_past_its_memory_limit_fails_or_the_run_is_refused(executor: Executor, sqlite_url: str) -> None:
    study = _study(sqlite_url)
    settings = _settings(executor, memory_mb=1500)
    if "memory_mb" not in executor.enforces:
        with pytest.raises(MetamlError, match="memory_mb") as refused:
            executor.run(study, functions.hungry_on_trial_1, Budget(trials=3), settings)
        assert "timeout" not in str(refused.value)
        assert study.trials() == []
        return
    done = executor.run(study, functions.hungry_on_trial_1, Budget(trials=3), settings)
    by_number = {t.number: t for t in study.trials()}
    assert by_number[1].status is TrialStatus.FAILED and "out of memory" in (by_number[1].error or "")
    assert by_number[0].status is by_number[2].status is TrialStatus.COMPLETED
    assert _numbers(done) == [0, 1, 2]


def test_the_builtin_executors_are_registered_and_execute_resolves_auto(sqlite_url: str) -> None:
    assert {"inline", "local", "ray"} <= set(available_executors())
    assert {name: get_executor(name).enforces for name in ("inline", "local", "ray")} == {
        "inline": frozenset(), "local": frozenset({"timeout", "memory_mb"}), "ray": frozenset(),
    }  # fmt: skip
    with pytest.raises(MetamlError, match="unknown executor 'nope'.*inline, local, ray"):
        get_executor("nope")

    ran: list[str] = []

    class Spy(Executor):
        """Records which name ``execute`` picked, then runs inline."""

        name = "inline"

        def launch(self, study, fn, budget, settings, on_trial):  # type: ignore[no-untyped-def]
            ran.append(self.name)
            return original.run(study, fn, budget, settings, on_trial=on_trial)

    original = get_executor("inline")
    register_executor(Spy())
    try:
        done = execute(_study(sqlite_url), functions.sleepy, Budget(trials=2), ExecutionSettings())  # auto, one worker
    finally:
        register_executor(original)
    assert ran == ["inline"] and _numbers(done) == [0, 1]
