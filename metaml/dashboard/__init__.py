"""The live dashboard: a local web page that watches a study from its store and offers the interventions as forms.

``metaml dashboard FILE`` serves it (``metaml.dashboard.app.make_app``); it reads only the
store, so it can watch a study that runs on another machine, and every form writes the same
intervention events as the command line (``metaml.interventions``).
"""

from __future__ import annotations

from metaml.dashboard.app import make_app
from metaml.dashboard.state import dashboard_state

__all__ = ["dashboard_state", "make_app"]
