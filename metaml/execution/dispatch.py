"""Executors by name, and ``execute``: run the study with the executor the settings ask for."""

from __future__ import annotations

from collections.abc import Callable

from metaml.budget import Budget
from metaml.core.records import TrialRecord
from metaml.errors import MetamlError
from metaml.execution.base import Executor
from metaml.execution.functions import FunctionRef, TrialFunction
from metaml.execution.handle import StudyHandle
from metaml.execution.settings import ExecutionSettings

_REGISTRY: dict[str, Executor] = {}
_BUILTINS_LOADED = False


def register_executor(executor: Executor) -> None:
    """Make ``executor`` available under its ``name`` (replacing one of that name)."""
    _REGISTRY[executor.name] = executor


def unregister_executor(name: str) -> None:
    """Forget the executor ``name`` (for tests that register one of their own)."""
    _REGISTRY.pop(name, None)


def available_executors() -> list[str]:
    """The names of the registered executors, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_executor(name: str) -> Executor:
    """The executor registered as ``name``; an unknown name says which exist."""
    _load_builtins()
    if name not in _REGISTRY:
        raise MetamlError(f"unknown executor {name!r}; choose one of auto, {', '.join(available_executors())}")
    return _REGISTRY[name]


def execute(
    study: StudyHandle,
    fn: TrialFunction | FunctionRef,
    budget: Budget,
    settings: ExecutionSettings,
    *,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> list[TrialRecord]:
    """Run ``study`` under ``budget`` with the executor of ``settings``; return the trials that finished.

    ``auto`` is resolved by ``ExecutionSettings.resolved_executor``. An executor that cannot
    enforce a limit of ``settings`` refuses it with a ``MetamlError`` before any trial runs.
    """
    executor = get_executor(settings.resolved_executor)
    done = executor.run(study, fn, budget, settings, on_trial=on_trial)
    study.record_reference()  # the decision log says where the hypervolume reference ended up, however it ran
    return done


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from metaml.execution.inline import InlineExecutor
    from metaml.execution.local import LocalExecutor
    from metaml.execution.ray_executor import RayExecutor  # imports Ray only when it runs

    for executor in (InlineExecutor(), LocalExecutor(), RayExecutor()):
        _REGISTRY.setdefault(executor.name, executor)
