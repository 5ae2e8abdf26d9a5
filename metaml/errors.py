"""One hierarchy of errors, so that the CLI can turn any of them into one clear line."""

from __future__ import annotations


class MetamlError(Exception):
    """Base of every error metaml raises on purpose; the message says what to do."""


class SpaceError(MetamlError, ValueError):
    """A search space is malformed, or a configuration lies outside it."""


class ObjectiveError(MetamlError, ValueError):
    """An objective is malformed, or a trial's metrics do not match the objectives."""


class StudyFileError(MetamlError):
    """A study YAML file is wrong; the message names the field and line."""


class StoreError(MetamlError):
    """The study database cannot be reached, has the wrong schema, or lacks the study."""


class StudyNotFoundError(StoreError):
    """The named study does not exist in the store."""


class TrialError(MetamlError):
    """A trial's function failed, or returned something that is not a metric."""


class OptimizerError(MetamlError, ValueError):
    """An optimizer is unknown, or its settings do not fit the space."""


class BudgetError(MetamlError, ValueError):
    """A budget is malformed."""
