"""The pipeline's default configuration run first: the baseline a search must beat, measured in the study.

A practitioner without a search would train the pipeline's defaults; a study of a built-in
pipeline therefore trains that configuration first, at full fidelity (a mature tuner's
"baseline first"). Its result is then a measured reference for the report ("how far did
the search move from the default, and what did it buy") and a candidate for the front.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from metaml.budget import Budget
from metaml.errors import MetamlError, SpaceError, StudyFileError, did_you_mean
from metaml.pipelines.base import PipelineSpec
from metaml.space import Constant, Space
from metaml.spending import EPSILON_FTE
from metaml.store import TrialRecord


def builtin_pipeline(function: str | Callable[..., Any] | None) -> PipelineSpec | None:
    """The built-in pipeline a study's function names (``metaml.pipelines.tabular:train``), or None.

    Only the module the function names is imported (a user's function imports none): importing every
    pipeline (torch, scikit-learn, fairlearn, Gymnasium) cost each command that reads a study file about 4 s.
    """
    if function is None:
        return None
    module = function.partition(":")[0] if isinstance(function, str) else getattr(function, "__module__", "")
    if not isinstance(module, str) or not module.startswith("metaml.pipelines."):
        return None
    try:
        spec = getattr(importlib.import_module(module), "SPEC", None)
    except ImportError:
        return None
    if isinstance(spec, PipelineSpec) and (function == spec.function or function is spec.train):
        return spec
    return None


def default_config(spec: PipelineSpec, space: Space) -> tuple[dict[str, Any] | None, str]:
    """The pipeline's default on the study's searched parameters, or (None, why it is not in the space)."""
    config: dict[str, Any] = {}
    for name in space.order:
        param = space.parameters[name]
        if not space.is_active(name, config):
            continue
        if isinstance(param, Constant):
            config[name] = param.value
        elif name in spec.defaults:
            config[name] = spec.defaults[name]
        else:
            return None, f"the study's parameter {name!r} is not one of the {spec.name} pipeline's"
    try:
        checked = space.validate(config)
    except SpaceError as exc:  # the study narrowed a range or a choice past the default
        return None, f"the {spec.name} pipeline's default is outside the study's space: {exc}"
    return {k: v for k, v in checked.items() if not isinstance(space.parameters[k], Constant)}, ""


def enqueue_default(
    study: Any, function: str | Callable[..., Any] | None, budget: Budget | None = None
) -> TrialRecord | None:
    """Queue the built-in pipeline's default at full fidelity as the study's first trial (None: not done).

    Only a study with no trial yet gets it (a resumed study already has its history); a
    user's function has no recorded default. The trial's number and configuration go into
    the study's info under ``default_trial`` so that the report finds its reference. A
    ``budget`` in FTE too small for one full run skips it: budgets are strict, and a queued
    trial would run whatever it costs.
    """
    spec = builtin_pipeline(function)
    if spec is None or study.trials():
        return None
    config, why = default_config(spec, study.space)
    if config is not None and budget is not None and budget.fte is not None and budget.fte < 1.0 - EPSILON_FTE:
        config, why = None, f"a run at full fidelity costs 1 FTE, more than the budget of {budget.fte:g} FTE"
    if config is None:
        study.log_event("default_skipped", f"the default configuration is not run first: {why}")
        return None
    record: TrialRecord = study.enqueue(config, reason=f"the {spec.name} pipeline's default configuration, run first "
                                                       "at full fidelity as the baseline to beat")  # fmt: skip
    info: Mapping[str, Any] = {"number": record.number, "config": dict(record.config), "pipeline": spec.name}
    study.update_metadata(default_trial=dict(info))
    return record


def check_pipeline_parameters(function: str | Callable[..., Any] | None, space: Space) -> None:
    """Refuse, before the first trial, a study parameter the built-in pipeline does not know (a misspelt name).

    The pipeline would refuse it in every trial, and a study of failed trials would end "done" with nothing
    measured. Its settings (the study's constants among ``spec.settings``) shape the pipeline's whole space,
    as they do for a trial.
    """
    spec = builtin_pipeline(function)
    if spec is None:
        return
    settings = {n: p.value for n, p in space.parameters.items() if n in spec.settings and isinstance(p, Constant)}
    try:
        whole = Space(spec.space(**settings))
    except (TypeError, MetamlError) as exc:
        raise StudyFileError(f"space: the {spec.name} pipeline's settings {settings} are refused: {exc}") from None
    for name in space.order:
        if name not in whole.parameters:
            raise StudyFileError(
                f"space.{name}: the {spec.name} pipeline has no parameter {name!r}"
                f"{did_you_mean(name, whole.parameters)}; docs/pipelines.md lists its parameters"
            )


def check_sensitive_groups(function: str | Callable[..., Any] | None, space: Space) -> Any:
    """A built-in pipeline's sensitive groups per split, checked before the first trial (None: nothing to check).

    Loads the data the study's constants name, as a trial would. A problem that would fail
    every trial's fairness metric (a missing column, one group only, an absent reference
    group) raises ``StudyFileError`` naming the groups, before anything is stored.
    """
    spec = builtin_pipeline(function)
    sensitive = space.parameters.get("sensitive")
    if spec is None or spec.group_sizes is None or not isinstance(sensitive, Constant) or sensitive.value is None:
        return None
    from metaml.data.dataset import DataError

    try:
        return spec.group_sizes(space.default())
    except DataError as exc:  # the data itself: a missing file, an unknown dataset
        raise StudyFileError(str(exc)) from None
    except MetamlError as exc:
        raise StudyFileError(f"the sensitive groups cannot be compared: {exc}") from None
