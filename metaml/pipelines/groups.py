"""The sensitive groups of a study's data, looked at before any training is paid for.

``metaml run`` calls ``check_groups`` on a built-in pipeline's study before its first trial:
it loads the data as a trial would, counts the rows of each sensitive group in each split,
and refuses (``PipelineError``, with the groups listed) what would make every trial's
fairness number meaningless: one group only in a split, or a ``reference`` group that a split
lacks. It returns the counts, so that the run can warn about groups too small to decide on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaml.metrics import MIN_GROUP_SIZE, get_metric
from metaml.pipelines.base import PipelineError

#: The settings of a fairness metric that name groups (see metaml.metrics.fairness.GroupChoice).
_CHOICE_KEYS = ("groups", "reference", "merge_below")


@dataclass(frozen=True)
class GroupSizes:
    """The rows of each group in each split (``sizes[split][group]``) and the smallest size worth deciding on."""

    column: str
    sizes: dict[str, dict[str, int]]
    min_group_size: int


def count_groups(splits: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{split: {group: rows}}`` of the given group arrays (a split without groups is left out)."""
    out: dict[str, dict[str, int]] = {}
    for split, groups in splits.items():
        if groups is None or not len(groups):
            continue
        names, counts = np.unique(np.asarray(groups).astype(str), return_counts=True)
        out[split] = {str(n): int(c) for n, c in zip(names, counts, strict=True)}
    return out


def check_groups(
    column: str, sizes: dict[str, dict[str, int]], metrics: list[str], settings: Mapping[str, Mapping[str, Any]]
) -> GroupSizes:
    """Refuse groups that no fairness metric can be computed on; return the sizes and the minimum to warn below."""
    fairness = [m for m in metrics if "sensitive" in get_metric(m).needs]
    for split, groups in sizes.items():
        listed = ", ".join(f"{g} ({n})" for g, n in sorted(groups.items()))
        if len(groups) < 2:
            raise PipelineError(
                f"the sensitive column {column!r} has one group only in the {split} split ({listed}), so no "
                "fairness metric can compare groups; choose another column or check the data"
            )
        for metric in fairness:
            reference = (settings.get(metric) or {}).get("reference")
            if reference is not None and str(reference) not in groups:
                raise PipelineError(
                    f"metric_settings.{metric}.reference: the group {reference!r} is not in the {split} split of "
                    f"the sensitive column {column!r}; its groups are {listed}"
                )
    minimum = min((int((settings.get(m) or {}).get("min_group_size", MIN_GROUP_SIZE)) for m in fairness),
                  default=MIN_GROUP_SIZE)  # fmt: skip
    return GroupSizes(column, sizes, minimum)
