"""Reports that explain and audit a search: importance, ablation, Pareto front, trajectories, HTML.

Everything here reads the store alone (through a ``Study``), so a report can be made for
any study, finished or still running, on any machine that reaches its store.
"""

from __future__ import annotations

from metaml.report.ablation import AblationPath, AblationStep, ablation_path
from metaml.report.export import export_trial
from metaml.report.html import render, write_report
from metaml.report.importance import Importance, Surrogate, fit_surrogate, functional_anova, importance
from metaml.report.summary import ReportData, gather

__all__ = [
    "AblationPath",
    "AblationStep",
    "Importance",
    "ReportData",
    "Surrogate",
    "ablation_path",
    "export_trial",
    "fit_surrogate",
    "functional_anova",
    "gather",
    "importance",
    "render",
    "write_report",
]
