"""metaml: joint, cheap, multi-objective optimization of whole deep-learning pipelines."""

from __future__ import annotations

from metaml._version import __version__
from metaml.budget import Budget
from metaml.core.records import Proposal, TrialRecord, TrialStatus
from metaml.errors import (
    MetamlError,
    ObjectiveError,
    OptimizerError,
    SpaceError,
    StoreError,
    StudyFileError,
    StudyNotFoundError,
    TrialError,
)
from metaml.objectives import Objective
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space
from metaml.study import Study
from metaml.trial import Trial

__all__ = [
    "Budget",
    "Categorical",
    "Constant",
    "Fidelity",
    "Float",
    "Int",
    "MetamlError",
    "Objective",
    "ObjectiveError",
    "OptimizerError",
    "Proposal",
    "Space",
    "SpaceError",
    "StoreError",
    "Study",
    "StudyFileError",
    "StudyNotFoundError",
    "Trial",
    "TrialError",
    "TrialRecord",
    "TrialStatus",
    "__version__",
]
