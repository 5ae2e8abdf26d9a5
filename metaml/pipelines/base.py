"""What every built-in pipeline shares: its errors, its settings, and how a config is completed.

A built-in pipeline is three things: a function that returns its search space (a dict of
parameters, so that Python and YAML can use it), the defaults of every parameter (a strong
baseline), and ``train(config, trial) -> metrics``. A study's space may list only some of
the pipeline's parameters (the ones worth searching); ``resolve_config`` fills in the
others from the defaults and checks the result against the pipeline's whole space, so a
typo or a value the pipeline cannot take fails the trial with a clear message.

Settings (the data, the sensitive attribute, the metrics to compute, the seed) are
``Constant`` parameters of the same space: they are stored with the study, so a result is
always traceable to what produced it. The run settings (``device``, ``threads``) say how a
trial trains on a machine, not what it trains: they come from the study's execution
settings through the trial context (``trial.run_settings``), so a study may be resumed on
another device; the space's ``device``/``threads`` constants (their older place) are read
only when the execution settings leave them unset.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaml.core.trial_context import TrialContext
from metaml.errors import SpaceError, TrialError, did_you_mean
from metaml.space import Categorical, Constant, Float, Int, Parameter, Space


class PipelineError(TrialError):
    """A built-in pipeline cannot run this configuration; the message says why and what to change."""


class DivergedError(PipelineError, FloatingPointError):
    """The training loss became NaN or infinite: the configuration diverged."""


class OutOfMemoryError(PipelineError, MemoryError):
    """Training ran out of memory (host or accelerator)."""


#: Settings every pipeline reads from its space's constants (see docs/pipelines.md, "Settings").
COMMON_SETTINGS = ("seed", "device", "threads", "train_rows", "metric_settings", "latency_batch")
#: The settings that say how a trial trains on a machine, not what: the trial's run settings win over the space's.
RUN_SETTINGS = ("device", "threads")


def with_run_settings(config: Mapping[str, Any], trial: TrialContext) -> dict[str, Any]:
    """A resolved ``config`` with the trial's run settings (device, threads) in place of the space's, where set."""
    run = trial.run_settings
    chosen = {name: getattr(run, name) for name in RUN_SETTINGS if getattr(run, name) is not None}
    return {**config, **chosen}


def settings_parameters(settings: Mapping[str, Any]) -> dict[str, Parameter]:
    """Constants holding the given settings (``None`` values included: they mean "the default")."""
    return {name: Constant(_plain(value)) for name, value in settings.items()}


@dataclass(frozen=True)
class PipelineSpec:
    """One built-in pipeline: its space, the default of every parameter, its settings, its training function.

    ``evaluate(config, checkpoint_trial)`` scores a finished trial's checkpointed model on
    the test rows, once, after the search (``metaml.final_evaluation``).
    """

    name: str
    space: Callable[..., dict[str, Parameter]]
    defaults: Mapping[str, Any]
    settings: tuple[str, ...]
    train: Callable[..., dict[str, Any]]
    evaluate: Callable[..., dict[str, Any]] | None = None
    #: group_sizes(config) -> the sensitive groups' rows per split, checked before any trial
    #: (``metaml.pipelines.groups.GroupSizes``); None when the pipeline has no sensitive attribute.
    group_sizes: Callable[[Mapping[str, Any]], Any] | None = None

    @property
    def function(self) -> str:
        """How a study file names the training function: ``module:train``."""
        return f"{self.train.__module__}:{self.train.__name__}"


def resolve_config(
    pipeline: str,
    config: Mapping[str, Any],
    build_space: Callable[..., dict[str, Parameter]],
    defaults: Mapping[str, Any],
    setting_names: Sequence[str],
) -> dict[str, Any]:
    """``config`` completed with the pipeline's defaults and checked against its whole space.

    The settings found in ``config`` shape the whole space (e.g. a sensitive attribute adds
    the fairness choices); every active parameter the config lacks takes its default.
    """
    settings = {name: config[name] for name in setting_names if name in config}
    try:
        space = Space(build_space(**settings))
    except (TypeError, SpaceError) as exc:
        raise PipelineError(f"{pipeline} pipeline: bad settings {settings}: {exc}") from None
    unknown = sorted(k for k in config if k not in space.parameters)
    if unknown:
        raise PipelineError(
            f"{pipeline} pipeline: unknown parameter(s) {unknown}{did_you_mean(unknown[0], space.parameters)}; it knows {', '.join(space.order)} "
            "(see docs/pipelines.md)"
        )
    full: dict[str, Any] = {}
    for name in space.order:
        if not space.is_active(name, full):
            continue
        param = space.parameters[name]
        if name in config:
            full[name] = config[name]
        elif isinstance(param, Constant):
            full[name] = param.value
        elif name in defaults:
            full[name] = defaults[name]
        else:  # pragma: no cover - the defaults table covers every parameter (a test checks it)
            full[name] = param.default()  # type: ignore[union-attr]
    try:
        return space.validate(full)
    except SpaceError as exc:
        raise PipelineError(f"{pipeline} pipeline: {exc}") from None


def searched_defaults(parameters: Mapping[str, Parameter], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The default configuration of a space: its active searched parameters at their defaults."""
    space = Space(parameters)
    config: dict[str, Any] = {}
    for name in space.order:
        param = space.parameters[name]
        if space.is_active(name, config):
            config[name] = param.value if isinstance(param, Constant) else defaults[name]
    return {k: v for k, v in space.validate(config).items() if not isinstance(space.parameters[k], Constant)}


def with_priors(
    parameters: dict[str, Parameter], defaults: Mapping[str, Any], confidence: str | None, prefix: str = ""
) -> dict[str, Parameter]:
    """The same parameters with each default written as an expert prior of ``confidence``.

    Priors steer prior-aware samplers (``sampler: prior``, PriorBand) towards the defaults;
    without them (``confidence=None``) the space samples uniformly.
    """
    if confidence is None:
        return parameters
    out: dict[str, Parameter] = {}
    for name, param in parameters.items():
        full = prefix + name
        if isinstance(param, Categorical):
            subspaces = {
                c: with_priors(param.subspaces.get(c, {}), defaults, confidence, f"{full}.{c}.") for c in param.choices
            }
            choices: Any = subspaces if param.subspaces else list(param.choices)
            out[name] = Categorical(choices, prior=defaults.get(full), confidence=confidence, when=param.when,
                                    schedulable=param.schedulable)
        elif isinstance(param, (Float, Int)) and full in defaults:
            kind = Int if isinstance(param, Int) else Float
            out[name] = kind(param.lower, param.upper, log=param.log, prior=defaults[full], confidence=confidence,
                             when=param.when, schedulable=param.schedulable, structural=param.structural)
        else:
            out[name] = param
    return out


#: Written beside a trial's checkpoint: what it trained, and on which data.
PROVENANCE_FILE = "pipeline.json"


def data_provenance(content_hash: str, train: Sized, val: Sized, test: Sized | None) -> dict[str, Any]:
    """What to record about a trial's data: its content hash and the rows of each split."""
    return {"content_hash": content_hash, "train_rows": len(train), "val_rows": len(val),
            "test_rows": 0 if test is None else len(test)}  # fmt: skip


def write_provenance(
    trial: TrialContext, pipeline: str, config: Mapping[str, Any], data: Mapping[str, Any], metrics: Sequence[str] = ()
) -> None:
    """The resolved config, the data's hash and sizes and the metrics computed, as ``pipeline.json`` beside the checkpoint."""
    directory = trial.directory
    if directory is None:  # a stand-in trial without a study folder
        return
    directory.mkdir(parents=True, exist_ok=True)
    record = {"pipeline": pipeline, "config": dict(config), "data": dict(data), "metrics": list(metrics)}
    (directory / PROVENANCE_FILE).write_text(json.dumps(record, indent=1, sort_keys=True, default=str))


def recorded_metrics(folder: Path) -> list[str]:
    """The metrics a trial computed, as the ``pipeline.json`` in ``folder`` records them (none for older trials)."""
    try:
        record = json.loads((Path(folder) / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        return []
    metrics = record.get("metrics") if isinstance(record, dict) else None
    return [str(m) for m in metrics] if isinstance(metrics, list) else []


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
