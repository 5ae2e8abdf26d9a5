"""One hierarchy of errors, so that the CLI can turn any of them into one clear line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class ClaimLostError(TrialError):
    """This worker no longer holds the trial (it was requeued and claimed by another): stop, write nothing."""


class BudgetSpentError(TrialError):
    """A run that no longer fits in the study's budget (its earlier runs were lost and charged): stop before training."""


class OptimizerError(MetamlError, ValueError):
    """An optimizer is unknown, or its settings do not fit the space."""


class BudgetError(MetamlError, ValueError):
    """A budget is malformed."""


class UsageError(MetamlError, ValueError):
    """A command-line argument is malformed (``PARAM=VALUE`` without its ``=``, a range without ``..``)."""


#: The longest value a message shows in full; longer ones are cut (a message stays one readable line).
SHOWN_CHARS = 60


def shown(value: object) -> str:
    """``repr(value)`` short enough for a message: huge numbers and long texts are summarized, never printed in full."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        # (repr of an integer past 4,300 digits raises, and one of 400 digits helps nobody)
        return f"a {'negative ' if value < 0 else ''}number of about {int(value.bit_length() * 0.30103)} digits"
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails (or is itself too large) is still named by its type
        return f"a {type(value).__name__}"
    if len(text) > SHOWN_CHARS:
        return f"{text[: SHOWN_CHARS - 20]}... ({len(text)} characters)"
    return text


class MissingExtraError(MetamlError, ImportError):
    """An optional dependency is not installed; the message names the extra to install (``pip install 'metaml[x]'``)."""


def did_you_mean(word: object, known: Iterable[object]) -> str:
    """' (did you mean 'x'?)' for the known name closest to ``word``, or '' (also for a ``word`` that is no string):
    the hint every refusal of a misspelt name ends with."""
    if not isinstance(word, str):
        return ""
    match = difflib.get_close_matches(word, [str(k) for k in known], n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
