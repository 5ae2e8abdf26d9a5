"""metaml's executors run the package's executor conformance suite (``metaml.testing.executors``).

A new executor gets these checks by adding its name to ``EXECUTORS`` below, not by writing
its own copies: no trial lost or duplicated; ``run`` returns exactly the trials it finished;
each limit (``timeout``, ``memory_mb``) is enforced, or refused with a ``MetamlError`` naming
it before any trial runs.
"""

from __future__ import annotations

import pytest

from metaml.budget import Budget
from metaml.errors import MetamlError
from metaml.execution import Executor, available_executors, execute, get_executor, register_executor
from metaml.execution.settings import ExecutionSettings
from metaml.testing.executors import ExecutorSuite, sleepy, study

#: Every executor the conformance suite checks: a new one is added here.
EXECUTORS = ["inline", "local", "ray"]


class TestExecutors(ExecutorSuite):
    names = EXECUTORS


def test_every_registered_executor_is_checked() -> None:
    missing = sorted(set(available_executors()) - set(EXECUTORS))
    assert not missing, f"add {missing} to EXECUTORS in {__file__}"


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
        done = execute(study(sqlite_url), sleepy, Budget(trials=2), ExecutionSettings())  # auto, one worker
    finally:
        register_executor(original)
    assert ran == ["inline"] and [r.number for r in done] == [0, 1]
