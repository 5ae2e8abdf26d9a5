"""Reports that explain and audit a search: importance, ablation, Pareto front, trajectories, HTML.

Everything here reads the store alone (through a ``Study``), so a report can be made for
any study, finished or still running, on any machine that reaches its store. The names are
imported on first use, so that the command line does not load scikit-learn and Plotly for
commands that never draw a report.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AblationPath": "ablation",
    "AblationStep": "ablation",
    "ablation_path": "ablation",
    "export_trial": "export",
    "render": "html",
    "write_report": "html",
    "Importance": "importance",
    "Surrogate": "importance",
    "fit_surrogate": "importance",
    "functional_anova": "importance",
    "importance": "importance",
    "ReportData": "summary",
    "gather": "summary",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'metaml.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"metaml.report.{_WHERE[name]}"), name)
    globals()[name] = value  # also replaces the submodule that importing bound to the same name
    return value
