"""One-shot search: the relaxation, the derivation, the failure signs, determinism, and a supernet trial."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from metaml.pipelines.models import ACTIVATIONS, FeatureEncoder
from metaml.pipelines.oneshot_health import Health, dominant_eigenvalue
from metaml.pipelines.supernet import (
    ACTIVATION,
    CHANNELS,
    CONVS,
    DEPTH,
    KERNEL,
    WIDTH,
    MixedActivation,
    SuperCNN,
    SuperMLP,
    candidates_from,
)
from metaml.pipelines.vision_models import VisionNet
from metaml.store import Proposal, TrialStatus
from tests.pipelines.conftest import PipelineCase, run_trials

CONFIG = {"batch_norm": "disabled", "backbone.mlp.skip": "disabled", "dropout": "disabled", DEPTH: 2, WIDTH: 8,
          ACTIVATION: "relu"}  # fmt: skip
CANDIDATES = {DEPTH: (1, 2, 3), WIDTH: (4, 8, 16), ACTIVATION: ("relu", "gelu", "silu")}


def _supernet(seed: int = 0) -> SuperMLP:
    torch.manual_seed(seed)
    return SuperMLP(FeatureEncoder(5, [], None), 3, CANDIDATES, CONFIG).eval()


def test_a_mixed_activation_at_a_one_hot_weight_is_the_chosen_activation() -> None:
    x = torch.linspace(-3, 3, 50)
    mixed = MixedActivation(["relu", "gelu", "silu"])
    for i, name in enumerate(["relu", "gelu", "silu"]):
        assert torch.equal(mixed(x, torch.eye(3)[i]), ACTIVATIONS[name]()(x))


@pytest.mark.parametrize("depth,width,activation", [(1, 4, "gelu"), (2, 8, "relu"), (3, 16, "silu"), (3, 4, "relu")])
def test_the_fixed_supernet_computes_the_discrete_mlp_with_the_weights_it_inherited(
    depth: int, width: int, activation: str
) -> None:
    net = _supernet()
    net.fix({DEPTH: depth, WIDTH: width, ACTIVATION: activation})
    layers: list[nn.Module] = []
    width_in = 5
    for linear in list(net.linears)[:depth]:  # the discrete network: the top-left blocks of the supernet's layers
        small = nn.Linear(width_in, width)
        small.weight.data = linear.weight.data[:width, :width_in].clone()
        small.bias.data = linear.bias.data[:width].clone()
        layers += [small, ACTIVATIONS[activation]()]
        width_in = width
    out = nn.Linear(width, 3)
    out.weight.data = net.out.weight.data[:, :width].clone()
    out.bias.data = net.out.bias.data.clone()
    discrete = nn.Sequential(*layers, out)
    x = torch.randn(20, 5)
    codes = torch.zeros(20, 0, dtype=torch.long)
    assert torch.allclose(net(x, codes), discrete(x), atol=1e-6)


VISION = {"backbone": "cnn", "backbone.cnn.stages": 2, "pooling": "max", "batch_norm": "disabled", "dropout": "disabled",
          CONVS: 1, CHANNELS: 4, KERNEL: 3, ACTIVATION: "relu"}  # fmt: skip


@pytest.mark.parametrize("pooling", ["max", "stride"])
@pytest.mark.parametrize("convs,width,kernel,activation", [(1, 4, 3, "relu"), (2, 8, 5, "gelu"), (3, 8, 3, "silu")])
def test_the_fixed_cnn_supernet_computes_the_vision_pipelines_cnn_with_its_weights(
    convs: int, width: int, kernel: int, activation: str, pooling: str
) -> None:
    torch.manual_seed(0)
    choices = {CONVS: (1, 2, 3), CHANNELS: (4, 8), KERNEL: (3, 5), ACTIVATION: ("relu", "gelu", "silu")}
    config = {**VISION, "pooling": pooling}
    net = SuperCNN((1, 8, 8), 10, choices, config, mean=0.3, std=0.2).eval()
    choice = {CONVS: convs, CHANNELS: width, KERNEL: kernel, ACTIVATION: activation}
    net.fix(choice)
    small = VisionNet((1, 8, 8), 10, {**config, **choice}, mean=0.3, std=0.2).eval()
    convs_small = [m for m in small.features if isinstance(m, nn.Conv2d)]
    kept = [layer["conv"] for stage in net.stages for layer in list(stage)[:convs]]
    assert len(convs_small) == len(kept)
    lo = (5 - kernel) // 2
    for target, source in zip(convs_small, kept):
        target.weight.data = source.weight.data[: target.out_channels, : target.in_channels, lo : lo + kernel,
                                                lo : lo + kernel].clone()  # fmt: skip
        target.bias.data = source.bias.data[: target.out_channels].clone()
    linear_small, linear = small.classifier[-1], net.classifier[-1]
    linear_small.weight.data = linear.weight.data[:, : linear_small.in_features].clone()
    linear_small.bias.data = linear.bias.data.clone()
    x = torch.rand(6, 1, 8, 8)
    assert torch.allclose(net(x), small(x), atol=1e-5)


def test_candidates_are_checked() -> None:
    config = {DEPTH: 2, WIDTH: 8, ACTIVATION: "relu"}
    assert candidates_from({}, config, (DEPTH, WIDTH, ACTIVATION)) == {DEPTH: (2,), WIDTH: (8,), ACTIVATION: ("relu",)}
    with pytest.raises(ValueError, match="consecutive"):
        candidates_from({"candidates": {DEPTH: [1, 3]}}, config, (DEPTH, WIDTH, ACTIVATION))
    with pytest.raises(ValueError, match="not kernel_size"):
        candidates_from({"candidates": {KERNEL: [3, 5]}}, config, (DEPTH, WIDTH, ACTIVATION))


def test_the_derivation_takes_the_largest_weights_and_counts_the_kept_layers() -> None:
    net = _supernet()
    with torch.no_grad():
        net.alpha_depth.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))  # layer 2 kept, layer 3 the identity
        net.alphas[0].copy_(torch.tensor([0.0, 0.0, 3.0]))  # width
        net.alphas[1].copy_(torch.tensor([0.0, 1.0, 0.5]))  # activation
    assert net.derive() == {DEPTH: 2, WIDTH: 16, ACTIVATION: "gelu"}
    assert net.parameter_free_share() == pytest.approx((torch.softmax(torch.tensor([2.0, 0.0]), 0)[1] + torch.softmax(
        torch.tensor([0.0, 1.0]), 0)[1]).item() / 2)  # fmt: skip
    report = net.weights_report()
    assert set(report) == {"alpha.layer2.keep", "alpha.layer3.keep", "alpha.width.4", "alpha.width.8",
                           "alpha.width.16", "alpha.activation.relu", "alpha.activation.gelu",
                           "alpha.activation.silu"}  # fmt: skip
    assert sum(v for k, v in report.items() if k.startswith("alpha.width")) == pytest.approx(1.0)


def test_the_dominant_eigenvalue_of_a_known_hessian() -> None:
    a = torch.tensor([[4.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    theta = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    value = dominant_eigenvalue(lambda: 0.5 * theta @ a @ theta, [theta], steps=30)
    assert value == pytest.approx(float(torch.linalg.eigvalsh(a).max()), rel=1e-6)


def test_a_collapse_is_detected_by_each_sign() -> None:
    rising = Health()
    assert [rising.check(e, v, 0.3, 0.2) for e, v in enumerate([1.0, 1.1, 1.05], 1)] == [None] * 3
    assert "eigenvalue" in (rising.check(4, 2.0, 0.3, 0.2) or "")
    identity = Health()
    shares = [0.5, 0.55, 0.62, 0.7]
    reasons = [identity.check(e, 1.0, s, 0.2) for e, s in enumerate(shares, 1)]
    assert reasons[:2] == [None, None] and "parameter-free" in (reasons[2] or "")
    diverging = Health()
    assert diverging.check(1, 1.0, 0.3, 0.1) is None
    assert "above its best" in (diverging.check(2, 1.0, 0.3, 0.45) or "")
    assert "not finite" in (Health().check(1, math.nan, 0.3, 0.1) or "")
    state = rising.state_dict()
    again = Health()
    again.load_state_dict(state)
    assert again.eigenvalues == rising.eigenvalues


def _supernet_trial(case: PipelineCase, tmp_path: Path, robust: bool = True, epochs: int = 3) -> tuple:
    space = case.space(epochs=epochs)
    config = case.config({"backbone": "mlp", "batch_size": 16}, space)
    info = {"oneshot": "supernet", "robust": robust, "candidates": {DEPTH: [1, 2, 3], WIDTH: [8, 32],
                                                                    ACTIVATION: ["relu", "gelu"]}}  # fmt: skip
    return run_trials(case, space, [Proposal(config, epochs, info=info)], tmp_path)


def test_a_supernet_trial_reports_its_architecture_weights_and_signs_and_what_it_found(
    tabular_case: PipelineCase, tmp_path: Path
) -> None:
    study, (record,) = _supernet_trial(tabular_case, tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    metrics = record.metrics or {}
    assert metrics[f"oneshot.{DEPTH}"] in (0, 1, 2) and metrics[f"oneshot.{WIDTH}"] in (0, 1)  # indices
    assert metrics[f"oneshot.{ACTIVATION}"] in (0, 1) and metrics["oneshot.unremedied"] in (0, 1)
    curve = [o.metrics for o in study.store.observations(study.id, record.number)]
    assert len(curve) == 3
    for point in curve:
        assert {"val_error", "supernet_val_error", "hessian_eigenvalue", "parameter_free_share", "arch_loss",
                "alpha.layer2.keep", "alpha.width.32", "alpha.activation.gelu"} <= set(point)  # fmt: skip
    assert record.is_supernet and study.pareto_front() == []  # charged and kept, never a result
    assert record.cost_fte == pytest.approx(1.0)


def test_the_supernet_is_deterministic_under_its_seed(tabular_case: PipelineCase, tmp_path: Path) -> None:
    (_, (a,)), (_, (b,)) = _supernet_trial(tabular_case, tmp_path / "a", epochs=2), _supernet_trial(
        tabular_case, tmp_path / "b", epochs=2)  # fmt: skip
    keys = [k for k in a.metrics or {} if k.startswith("oneshot.") or k == "val_error"]
    assert {k: a.metrics[k] for k in keys} == {k: b.metrics[k] for k in keys}  # type: ignore[index]


def test_a_vision_supernet_trial_relaxes_convs_width_kernel_and_activation(vision_case: PipelineCase,
                                                                           tmp_path: Path) -> None:  # fmt: skip
    space = vision_case.space(epochs=2)
    config = vision_case.config({"backbone": "cnn", "batch_size": 16}, space)
    info = {"oneshot": "supernet", "candidates": {CONVS: [1, 2], CHANNELS: [4, 8], KERNEL: [3, 5],
                                                  ACTIVATION: ["relu", "gelu"]}}  # fmt: skip
    study, (record,) = run_trials(vision_case, space, [Proposal(config, 2, info=info)], tmp_path)
    assert record.status is TrialStatus.COMPLETED, record.error
    metrics = record.metrics or {}
    assert all(metrics[f"oneshot.{n}"] in (0, 1) for n in (CONVS, CHANNELS, KERNEL, ACTIVATION))
    point = study.store.observations(study.id, record.number)[-1].metrics
    assert {"alpha.layer2.keep", "alpha.kernel_size.5", "alpha.width.8", "hessian_eigenvalue"} <= set(point)
