"""Where trials run: inline, in local worker processes, or as Ray tasks; all share one worker loop."""

from __future__ import annotations

from metaml.execution.inline import run_inline
from metaml.execution.runner import Heartbeat, call_trial_function, run_trial
from metaml.execution.settings import ExecutionSettings
from metaml.execution.worker import work

__all__ = ["ExecutionSettings", "Heartbeat", "call_trial_function", "run_inline", "run_trial", "work"]
