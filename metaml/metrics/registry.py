"""Metrics by name, so that a study (or its YAML file) can ask for them as objectives.

``compute_metrics(["val_error", "ece", "latency_ms"], probabilities=p, labels=y,
model=m, example_batch=x)`` returns ``{"val_error": ..., "ece": ..., "latency_ms": ...}``.
Each metric declares the inputs it needs; when one is missing, nothing is computed and the
error lists every metric with what it lacks, so that one run shows every gap at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from metaml.metrics import calibration, classification, efficiency, fairness, group_audit
from metaml.metrics.base import MetricError

INPUTS = ("probabilities", "labels", "sensitive", "model", "example_batch", "usage")


@dataclass(frozen=True)
class MetricInputs:
    """What a trial has to compute metrics from; any of it may be absent.

    ``probabilities`` ``[n, k]`` (or ``[n]`` for class 1 of a binary problem) and
    ``labels`` ``[n]`` of the validation set; ``sensitive`` ``[n]``, the group of each of
    those examples; ``model`` the trained ``torch.nn.Module`` and ``example_batch`` an input
    it accepts; ``usage`` the ``ResourceUsage`` measured around training.
    """

    probabilities: Any = None
    labels: Any = None
    sensitive: Any = None
    model: Any = None
    example_batch: Any = None
    usage: efficiency.ResourceUsage | None = None
    # Latency is measured once per call and settings, even when two metrics read it.
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def present(self) -> set[str]:
        return {f.name for f in fields(self) if f.name in INPUTS and getattr(self, f.name) is not None}


MetricFunction = Callable[..., float]


@dataclass(frozen=True)
class MetricSpec:
    """A named metric: the inputs it needs, how to compute it, and which way is better."""

    name: str
    needs: tuple[str, ...]
    compute: MetricFunction  # compute(inputs: MetricInputs, **settings) -> float
    goal: str = "min"
    description: str = ""
    #: details(inputs, **settings) -> a JSON-ready dict of what the number is made of (a fairness
    #: metric's per-group breakdown), stored beside the value; None when there is nothing to add.
    details: Callable[..., dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        unknown = [n for n in self.needs if n not in INPUTS]
        if unknown:
            raise MetricError(f"metric {self.name!r} needs unknown inputs {unknown}; inputs are {', '.join(INPUTS)}")
        if self.goal not in ("min", "max"):
            raise MetricError(f"metric {self.name!r}: goal must be 'min' or 'max', not {self.goal!r}")


_REGISTRY: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec, replace: bool = False) -> None:
    """Make ``spec`` available under its name; refuses to shadow one unless ``replace``."""
    if spec.name in _REGISTRY and not replace:
        raise MetricError(f"a metric named {spec.name!r} exists already; pass replace=True to override it")
    _REGISTRY[spec.name] = spec


def available_metrics() -> list[str]:
    """The names that ``compute_metrics`` accepts, sorted."""
    return sorted(_REGISTRY)


def get_metric(name: str) -> MetricSpec:
    """The metric registered as ``name``; an unknown name lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MetricError(f"unknown metric {name!r}; choose one of {', '.join(available_metrics())}") from None


def compute_metrics(
    names: Iterable[str],
    *,
    probabilities: Any = None,
    labels: Any = None,
    sensitive: Any = None,
    model: Any = None,
    example_batch: Any = None,
    usage: efficiency.ResourceUsage | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, float]:
    """The value of each named metric, in the order asked.

    ``settings`` passes keyword arguments to one metric, e.g. ``{"ece": {"n_bins": 10},
    "latency_ms": {"threads": 4}, "demographic_parity_difference": {"pos_label": 2}}``.
    Raises ``MetricError`` before computing anything when a name is unknown or an input
    that a metric needs is missing.
    """
    wanted = list(dict.fromkeys(names))
    specs = [get_metric(n) for n in wanted]
    settings = dict(settings or {})
    stray = sorted(set(settings) - set(wanted))
    if stray:
        raise MetricError(
            f"settings given for metrics not asked for: {', '.join(stray)}; asked for {', '.join(wanted)}"
        )
    inputs = MetricInputs(probabilities, labels, sensitive, model, example_batch, usage)
    present = inputs.present()
    lacking = [
        f"{s.name!r} needs {', '.join(n for n in s.needs if n not in present)}"
        for s in specs
        if not set(s.needs) <= present
    ]
    if lacking:
        raise MetricError(
            "cannot compute the metrics asked for: " + "; ".join(lacking) + ". Pass those inputs to compute_metrics"
        )
    results: dict[str, float] = {}
    for spec in specs:
        try:
            results[spec.name] = float(spec.compute(inputs, **settings.get(spec.name, {})))
        except TypeError as exc:
            raise MetricError(f"metric {spec.name!r}: {exc}") from None
    return results


def compute_details(
    names: Iterable[str],
    *,
    probabilities: Any = None,
    labels: Any = None,
    sensitive: Any = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """What each named metric that has details is made of (a fairness metric: its group breakdown), by name.

    Call it after ``compute_metrics`` succeeded on the same inputs: it checks nothing that
    the metric did not check already.
    """
    settings = dict(settings or {})
    inputs = MetricInputs(probabilities, labels, sensitive)
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(names):
        spec = get_metric(name)
        if spec.details is not None:
            out[name] = spec.details(inputs, **settings.get(name, {}))
    return out


def _breakdown(metric: str) -> Callable[..., dict[str, Any]]:
    def details(i: MetricInputs, pos_label: int | None = None, min_group_size: int = group_audit.MIN_GROUP_SIZE,
                **choice: Any) -> dict[str, Any]:  # fmt: skip
        return group_audit.group_breakdown(metric, i.probabilities, i.labels, i.sensitive, pos_label=pos_label,
                                           min_group_size=min_group_size, choice=fairness.GroupChoice(**choice))  # fmt: skip

    return details


def _latency(inputs: MetricInputs, **settings: Any) -> efficiency.Latency:
    key = ("latency", tuple(sorted(settings.items())))
    if key not in inputs._cache:
        inputs._cache[key] = efficiency.measure_latency(inputs.model, inputs.example_batch, **settings)
    latency: efficiency.Latency = inputs._cache[key]
    return latency


def _register_builtins() -> None:
    prediction = ("probabilities", "labels")
    group = ("probabilities", "labels", "sensitive")
    builtins = [
        MetricSpec(
            "val_error",
            prediction,
            lambda i, **s: classification.validation_error(i.probabilities, i.labels, **s),
            description="fraction of misclassified validation examples",
        ),
        MetricSpec(
            "log_loss",
            prediction,
            lambda i, **s: classification.log_loss(i.probabilities, i.labels, **s),
            description="mean negative log-probability of the true class (nats)",
        ),
        MetricSpec(
            "balanced_error",
            prediction,
            lambda i, **s: classification.balanced_error(i.probabilities, i.labels, **s),
            description="one minus the mean per-class recall",
        ),
        MetricSpec(
            "ece",
            prediction,
            lambda i, **s: calibration.expected_calibration_error(i.probabilities, i.labels, **s),
            description="top-label expected calibration error, equal-width bins (15)",
        ),
        MetricSpec(
            "demographic_parity_difference",
            ("probabilities", "sensitive"),
            lambda i, **s: fairness.demographic_parity_difference(i.probabilities, i.sensitive, i.labels, **s),
            description="largest between-group gap in the positive prediction rate",
            details=_breakdown("demographic_parity_difference"),
        ),
        MetricSpec(
            "demographic_parity_ratio",
            ("probabilities", "sensitive"),
            lambda i, **s: fairness.demographic_parity_ratio(i.probabilities, i.sensitive, i.labels, **s),
            goal="max",
            description="smallest between-group ratio of positive prediction rates (1 when equal)",
            details=_breakdown("demographic_parity_ratio"),
        ),
        MetricSpec(
            "equal_opportunity_difference",
            group,
            lambda i, **s: fairness.equal_opportunity_difference(i.probabilities, i.labels, i.sensitive, **s),
            description="largest between-group gap in the true positive rate",
            details=_breakdown("equal_opportunity_difference"),
        ),
        MetricSpec(
            "equalized_odds_difference",
            group,
            lambda i, **s: fairness.equalized_odds_difference(i.probabilities, i.labels, i.sensitive, **s),
            description="larger of the between-group gaps in true and false positive rate",
            details=_breakdown("equalized_odds_difference"),
        ),
        MetricSpec(
            "equalized_odds_ratio",
            group,
            lambda i, **s: fairness.equalized_odds_ratio(i.probabilities, i.labels, i.sensitive, **s),
            goal="max",
            description="smaller of the between-group ratios of true and false positive rate (1 when equal)",
            details=_breakdown("equalized_odds_ratio"),
        ),
        MetricSpec(
            "latency_ms",
            ("model", "example_batch"),
            lambda i, **s: _latency(i, **s).per_example_ms,
            description="median inference milliseconds per example (batch time / batch size)",
        ),
        MetricSpec(
            "batch_latency_ms",
            ("model", "example_batch"),
            lambda i, **s: _latency(i, **s).per_batch_ms,
            description="median inference milliseconds per batch",
        ),
        MetricSpec(
            "n_parameters",
            ("model",),
            lambda i, **s: efficiency.parameter_count(i.model, **s),
            description="number of parameters",
        ),
        MetricSpec(
            "trainable_parameters",
            ("model",),
            lambda i, **s: efficiency.parameter_count(i.model, trainable_only=True, **s),
            description="number of parameters that training updates (a fine-tune's frozen encoder excluded)",
        ),
        MetricSpec(
            "model_size_bytes",
            ("model",),
            lambda i, **s: efficiency.model_size_bytes(i.model, **s),
            description="bytes of the serialized state dict",
        ),
        MetricSpec(
            "energy_wh",
            ("usage",),
            lambda i, **s: efficiency.training_energy_wh(i.usage, **s),
            description="estimated training energy in watt-hours from CPU and GPU time",
        ),
    ]
    for spec in builtins:
        register_metric(spec)


_register_builtins()
