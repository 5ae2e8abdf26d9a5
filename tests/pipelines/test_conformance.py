"""The contract every built-in pipeline keeps; a new pipeline joins the parameter lists here.

- its default configuration lies in its space, and every parameter has a default;
- it trains one epoch on a tiny slice and returns val_error and the metrics asked for,
  on the validation rows only (the test rows wait for the final evaluation);
- every choice of every categorical builds and trains (and every numeric knob at its ends);
- continuing from a checkpoint gives bitwise the weights and metrics of training straight
  through, with SWA, lookahead, snapshot ensembling, hypergradient and mixup/cutmix switched on;
- a diverging configuration fails with a message that says so.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from metaml.pipelines import DivergedError, PipelineError
from metaml.space import Categorical, Constant, Float, Int, Space
from metaml.store import Proposal, TrialStatus
from tests.pipelines.conftest import PipelineCase, run_trials

PIPELINES = ("tabular", "vision", "text")


def _space(name: str) -> Space:
    from metaml.pipelines import tabular, text, vision

    if name == "tabular":
        return Space(tabular.tabular_space(sensitive="group"))
    if name == "text":
        return Space(text.text_space(encoder="tiny"))
    return Space(vision.vision_space())


def _choices(name: str) -> list[tuple[str, Any, str]]:
    """(parameter, choice, corner) for every choice of every categorical; nested knobs at both ends."""
    space = _space(name)
    out = []
    for param_name in space.order:
        param = space.parameters[param_name]
        if not isinstance(param, Categorical):
            continue
        for choice in param.choices:
            knobs = [n for n in space.order if space.conditions[n].get(param_name) == (choice,)
                     and isinstance(space.parameters[n], (Float, Int))]  # fmt: skip
            out += [(param_name, choice, corner) for corner in (("lower", "upper") if knobs else ("lower",))]
    return out


def _forcing(space: Space, name: str, value: Any, corner: str) -> dict[str, Any]:
    """Overrides that make ``name == value`` active (its parents set too) with its own knobs at ``corner``."""
    config: dict[str, Any] = {name: value}
    pending = [name]
    while pending:  # the parents that must take a value for this parameter to be active
        for parent, values in space.conditions[pending.pop()].items():
            if parent not in config:
                config[parent] = values[0]
                pending.append(parent)
    for knob in space.order:
        param = space.parameters[knob]
        if space.conditions[knob].get(name) == (value,) and isinstance(param, (Float, Int)):
            config[knob] = param.lower if corner == "lower" else param.upper
    return config


def _case(request: pytest.FixtureRequest, name: str) -> PipelineCase:
    return request.getfixturevalue(f"{name}_case")  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ defaults
@pytest.mark.parametrize("name", PIPELINES)
def test_default_config_is_in_the_space_and_every_parameter_has_a_default(name: str) -> None:
    from metaml.pipelines import pipelines

    spec = pipelines()[name]
    space = Space(spec.space())
    module = __import__(f"metaml.pipelines.{name}", fromlist=["DEFAULT_CONFIG"])
    assert space.validate(module.DEFAULT_CONFIG) == {**module.DEFAULT_CONFIG, **{
        n: p.value for n, p in space.parameters.items() if isinstance(p, Constant)}}  # fmt: skip
    full = Space(spec.space(**({"sensitive": "group"} if name == "tabular" else {})))
    searched = {n for n in full.order if not isinstance(full.parameters[n], Constant)}
    assert searched == set(spec.defaults), "every searched parameter, in every branch, needs a default"
    # the defaults written as priors give the default configuration back
    assert Space(spec.space(priors="low")).default() == space.validate(module.DEFAULT_CONFIG)


def test_tabular_default_is_the_documented_baseline() -> None:
    from metaml.pipelines.tabular import DEFAULT_CONFIG

    assert DEFAULT_CONFIG["backbone"] == "mlp" and DEFAULT_CONFIG["backbone.mlp.depth"] == 3
    assert DEFAULT_CONFIG["backbone.mlp.width"] == 256 and DEFAULT_CONFIG["backbone.mlp.shape"] == "brick"
    assert DEFAULT_CONFIG["optimizer"] == "adamw" and DEFAULT_CONFIG["lr"] == 1e-3
    assert DEFAULT_CONFIG["schedule"] == "cosine" and DEFAULT_CONFIG["weight_decay.enabled.strength"] == 1e-4
    assert DEFAULT_CONFIG["dropout.enabled.rate"] == 0.1 and DEFAULT_CONFIG["mixing"] == "none"


# ------------------------------------------------------------------------------- training
def test_trains_one_epoch_and_returns_validation_metrics(case: PipelineCase, tmp_path: Path) -> None:
    space = case.space(epochs=3)
    study, (record,) = run_trials(case, space, [Proposal(case.config({}, space), 1)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    metrics = record.metrics or {}
    asked = case.settings["metrics"]
    assert {"val_error", *asked} <= set(metrics)
    assert not [m for m in metrics if m.startswith("test_")]  # scored once after the search, never by a trial
    assert 0.0 <= metrics["val_error"] <= 1.0 and metrics["n_parameters"] > 0
    curve = study.store.observations(study.id, record.number)
    assert [o.step for o in curve] == [1.0] and "train_loss" in curve[0].metrics
    provenance = study.trial_directory(record.number) / "pipeline.json"
    assert provenance.exists() and "content_hash" in provenance.read_text()


@pytest.mark.parametrize(
    "name,param,choice,corner",
    [(n, *c) for n in PIPELINES for c in _choices(n)],
    ids=lambda v: str(v),
)
def test_every_choice_builds_and_trains(
    request: pytest.FixtureRequest, name: str, param: str, choice: Any, corner: str, tmp_path: Path
) -> None:
    case = _case(request, name)
    space = case.space(epochs=2)
    config = case.config(_forcing(space, param, choice, corner), space)
    assert config[param] == choice
    _, (record,) = run_trials(case, space, [Proposal(config, 1)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    assert math.isfinite((record.metrics or {})["val_error"])


@pytest.mark.parametrize("corner", ["lower", "upper"])
@pytest.mark.parametrize("name", PIPELINES)
def test_every_numeric_knob_of_the_default_branches_at_its_ends(
    request: pytest.FixtureRequest, name: str, corner: str, tmp_path: Path
) -> None:
    case = _case(request, name)
    space = case.space(epochs=2)
    base = case.config({}, space)
    numeric = {n: space.parameters[n] for n in base if isinstance(space.parameters[n], (Float, Int))}
    # the learning rate stays sane: a top learning rate may diverge, which a test below covers
    ends = {n: (p.lower if corner == "lower" else p.upper) for n, p in numeric.items() if n != "lr"}  # type: ignore[union-attr]
    _, (record,) = run_trials(case, space, [Proposal(case.config(ends, space), 2)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error


# --------------------------------------------------------------------------- prefix invariant
COCKTAIL = {
    "swa": "enabled", "swa.enabled.start": 0.5, "lookahead": "enabled", "lookahead.enabled.k": 3,
    "lookahead.enabled.alpha": 0.5, "snapshots": "enabled", "snapshots.enabled.cycles": 2,
    "batch_size": 32, "batch_norm": "enabled", "dropout": "enabled", "dropout.enabled.rate": 0.2,
    "label_smoothing": "enabled", "hypergradient": "enabled", "hypergradient.enabled.beta": 0.05,
}  # fmt: skip
AUGMENTED = {"crop": "enabled", "trivial_augment": "enabled", "cutout": "enabled", "flip": "enabled"}


@pytest.mark.parametrize("mixing", ["mixup", "cutmix"])
def test_continuing_from_a_checkpoint_equals_training_straight_through(
    case: PipelineCase, mixing: str, tmp_path: Path
) -> None:
    space = case.space(epochs=6)
    overrides = {**COCKTAIL, "mixing": mixing, f"mixing.{mixing}.alpha": 0.4}
    if case.name == "vision":
        overrides.update(AUGMENTED)
    elif case.name == "text":
        if mixing == "cutmix":
            pytest.skip("text has no cutmix: mixup mixes the pooled vectors")
        # the top 2 layers train on the cached output of the 4 below, with mixout's masks drawn
        # (tests/pipelines/test_text.py: LoRA, full, a prompt ensemble)
        overrides = {k: v for k, v in overrides.items() if k != "batch_norm"} | {
            "adaptation": "top_k", "mixout": "enabled", "mixout.enabled.p": 0.5}
    else:
        overrides.update({"fairness": "penalty", "fairness.penalty.weight": 0.5})
    config = case.config(overrides, space)
    proposals = [Proposal(config, 2), Proposal(config, 6, continue_from=0), Proposal(config, 6)]
    study, records = run_trials(case, space, proposals, tmp_path)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 3, [r.error for r in records]
    assert records[1].start_step == 2 and records[2].start_step == 0

    def states(number: int) -> dict[str, Any]:
        payload = torch.load(study.trial_directory(number) / "checkpoint.pt", weights_only=True)
        return {k: v for k, v in payload["states"].items() if k != "progress"}  # resources used differ, of course

    continued, direct = states(1), states(2)
    assert set(continued) == {"model", "optimizer", "schedule", "swa", "lookahead", "snapshots", "hypergradient"}
    _assert_equal(continued, direct, "states")
    deterministic = [k for k in records[2].metrics or {} if k not in ("latency_ms", "energy_wh")]
    assert {k: records[1].metrics[k] for k in deterministic} == {k: records[2].metrics[k] for k in deterministic}  # type: ignore[index]


#: Self-supervised pretraining before epoch 1 (``metaml.pipelines.ssl``): once, at the start of a fresh trial.
SSL = {"rotation": {"ssl": "rotation", "ssl.rotation.epochs": 2},
       "contrastive": {"ssl": "contrastive", "ssl.contrastive.epochs": 2, "ssl.contrastive.projection": 16}}  # fmt: skip


@pytest.mark.parametrize("task", SSL)
def test_vision_ssl_keeps_the_prefix_continuation_and_determinism(
    vision_case: PipelineCase, task: str, tmp_path: Path
) -> None:
    space = vision_case.space(epochs=6)
    config = vision_case.config({**COCKTAIL, **AUGMENTED, "mixing": "mixup", "mixing.mixup.alpha": 0.4, **SSL[task]},
                                space)  # fmt: skip
    proposals = [Proposal(config, 2), Proposal(config, 6, continue_from=0), Proposal(config, 6), Proposal(config, 6)]
    study, records = run_trials(vision_case, space, proposals, tmp_path)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 4, [r.error for r in records]

    def states(number: int) -> dict[str, Any]:
        payload = torch.load(study.trial_directory(number) / "checkpoint.pt", weights_only=True)
        return {k: v for k, v in payload["states"].items() if k != "progress"}

    def curve(number: int) -> list[dict[str, float]]:
        return [dict(o.metrics) for o in study.store.observations(study.id, number)]

    _assert_equal(states(1), states(2), "continued vs direct")  # the continuation does not pretrain again
    _assert_equal(states(2), states(3), "direct vs direct")  # determinism under the seed
    assert curve(0) == curve(2)[:2] and curve(1) == curve(2)[2:]  # fidelity 2 is a prefix of the full run
    deterministic = [k for k in records[2].metrics or {} if k not in ("latency_ms", "energy_wh")]
    assert {k: records[1].metrics[k] for k in deterministic} == {k: records[2].metrics[k] for k in deterministic}  # type: ignore[index]


def _assert_equal(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


# ---------------------------------------------------------------------------- failures
#: SGD at a high learning rate with heavy momentum on unscaled inputs (one column ~60,000) and a deep MLP.
DIVERGING = {"scaling": "none", "optimizer": "sgd", "optimizer.sgd.momentum": 0.99, "lr": 0.3, "schedule": "constant",
             "weight_decay": "disabled", "dropout": "disabled", "batch_size": 16, "backbone.mlp.depth": 6}  # fmt: skip


def test_a_diverging_config_fails_with_a_clear_message(tabular_case: PipelineCase, tmp_path: Path) -> None:
    space = tabular_case.space(epochs=4)
    _, (record,) = run_trials(tabular_case, space, [Proposal(tabular_case.config(DIVERGING, space), 4)], tmp_path)
    assert record.status is TrialStatus.FAILED
    assert record.error is not None and record.error.startswith("DivergedError: training diverged: the loss became nan")
    assert "lower learning rate" in record.error


def test_a_non_finite_loss_fails_the_vision_trial_too(
    vision_case: PipelineCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small CNNs on [0, 1] pixels die rather than diverge at any learning rate; an infinite pixel makes them diverge
    from metaml.pipelines import vision

    data = vision.prepare("digits", 0, 64)
    images = data.train.inputs[0].clone()
    images[0, 0, 0, 0] = float("inf")
    broken = dataclasses.replace(data, train=dataclasses.replace(data.train, inputs=(images,)))
    monkeypatch.setattr(vision, "prepare", lambda *args: broken)
    space = vision_case.space(epochs=2)
    _, (record,) = run_trials(vision_case, space, [Proposal(vision_case.config({}, space), 2)], tmp_path)
    assert record.status is TrialStatus.FAILED
    assert (record.error or "").startswith("DivergedError: training diverged: the loss became nan in epoch 1")


@pytest.mark.parametrize(
    "error",
    [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
     RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592 bytes")],
    ids=["cuda", "cpu"],
)
def test_running_out_of_memory_fails_the_trial_with_a_clear_message(
    tabular_case: PipelineCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    from metaml.pipelines import training

    def exhausted(*args: Any, **kwargs: Any) -> float:
        raise error

    monkeypatch.setattr(training, "_train_epoch", exhausted)
    space = tabular_case.space(epochs=2)
    _, (record,) = run_trials(tabular_case, space, [Proposal(tabular_case.config({}, space), 1)], tmp_path)
    assert record.status is TrialStatus.FAILED
    # the runner words every memory error "out of memory: ..."; ours says where and what to change
    # where: the host for the CPU allocator's error, else the device the trial trains on (cuda on a GPU machine)
    where = "cpu" if isinstance(error, RuntimeError) and not isinstance(error, torch.OutOfMemoryError) else str(
        training.pick_device("auto"))
    assert (record.error or "").startswith(f"out of memory: training needs more memory than {where} has (batch size 256)")
    assert "a smaller batch size or model fits in less" in (record.error or "")


def test_an_unknown_parameter_or_bad_value_fails_before_training(case: PipelineCase) -> None:
    with pytest.raises(PipelineError, match="unknown parameter.*'widht'"):
        case.module.resolve({**case.settings, "widht": 3})
    with pytest.raises(PipelineError, match="'backbone'"):
        case.module.resolve({**case.settings, "backbone": "transformer-xl"})


def test_a_partial_config_takes_the_defaults(case: PipelineCase) -> None:
    full = case.module.resolve({**case.settings, "lr": 0.01})
    assert full["lr"] == 0.01
    assert {k: v for k, v in full.items() if k != "lr" and k in case.module.DEFAULT_CONFIG} == {
        k: v for k, v in case.module.DEFAULT_CONFIG.items() if k != "lr"
    }


def test_a_fairness_metric_without_a_sensitive_column_is_refused(tabular_case: PipelineCase, tmp_path: Path) -> None:
    settings = {**tabular_case.settings, "sensitive": None}
    space = Space(tabular_case.module.tabular_space(**settings, epochs=2))
    config = space.validate({k: v for k, v in tabular_case.module.resolve(settings).items() if k in space.parameters})
    study, (record,) = run_trials(tabular_case, space, [Proposal(config, 1)], tmp_path)
    assert record.status is TrialStatus.FAILED and "set the 'sensitive' setting" in (record.error or "")
    assert not (study.trial_directory(record.number) / "checkpoint.pt").exists()  # refused before any training


def test_diverged_error_is_a_pipeline_error() -> None:
    assert issubclass(DivergedError, PipelineError) and issubclass(DivergedError, FloatingPointError)
