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

from metaml.metrics import MIN_GROUP_SIZE, MetricError, get_metric
from metaml.metrics.fairness import compared_sizes, fairness_choice
from metaml.pipelines.base import PipelineError

#: The splits whose groups decide a fairness number (the training split's only train the model).
DECIDING_SPLITS = ("validation", "test")


@dataclass(frozen=True)
class GroupSizes:
    """The rows of each group in each split (``sizes[split][group]``), and what each fairness metric compares.

    ``compared[metric][split][group]`` are the rows of the groups the metric compares (after
    its group choice: pooled, the two largest), ``minimum[metric]`` its ``min_group_size``.
    """

    column: str
    sizes: dict[str, dict[str, int]]
    compared: dict[str, dict[str, dict[str, int]]]
    minimum: dict[str, int]


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
    compared: dict[str, dict[str, dict[str, int]]] = {}
    minimum: dict[str, int] = {}
    for metric in fairness:
        chosen = dict(settings.get(metric) or {})
        minimum[metric] = int(chosen.get("min_group_size", MIN_GROUP_SIZE))
        chosen.pop("pos_label", None)
        try:
            choice = fairness_choice(chosen)
        except MetricError as exc:
            raise PipelineError(f"metric_settings.{metric}: {exc}") from None
        compared[metric] = {split: compared_sizes(groups, choice) for split, groups in sizes.items()
                            if split in DECIDING_SPLITS}  # fmt: skip
    return GroupSizes(column, sizes, compared, minimum)
