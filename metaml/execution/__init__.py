"""Where trials run: inline in this process (more executors plug in beside it)."""

from __future__ import annotations

from metaml.execution.inline import budget_left, run_inline
from metaml.execution.runner import Heartbeat, call_trial_function, run_trial

__all__ = ["Heartbeat", "budget_left", "call_trial_function", "run_inline", "run_trial"]
