"""Bring in what users already have: an Optuna study, trials from a CSV file, as ordinary metaml studies.

An imported study is a study of its own in a metaml store, which a later study can learn from
(warm start). Its trials were not trained here: each is marked ``TrialRecord.imported`` (its
provenance), costs 0 FTE, has no checkpoint, and no budget counts it.
"""

from __future__ import annotations

from metaml.imports.base import ImportReport, write_import
from metaml.imports.from_csv import import_csv
from metaml.imports.from_optuna import import_optuna

__all__ = ["ImportReport", "import_csv", "import_optuna", "write_import"]
