"""Where trials run: inline, in local worker processes, or as Ray tasks; all share one worker loop."""

from __future__ import annotations

from metaml.execution.base import Executor
from metaml.execution.dispatch import available_executors, execute, get_executor, register_executor, unregister_executor
from metaml.execution.inline import run_inline
from metaml.execution.runner import Heartbeat, call_trial_function, run_trial
from metaml.execution.settings import ExecutionSettings
from metaml.execution.worker import work

__all__ = [
    "ExecutionSettings",
    "Executor",
    "Heartbeat",
    "available_executors",
    "call_trial_function",
    "execute",
    "get_executor",
    "register_executor",
    "run_inline",
    "run_trial",
    "unregister_executor",
    "work",
]
