"""Weight-sharing supernets over the built-in pipelines' architecture choices, relaxed as in DARTS.

One network holds every candidate at once (Liu et al. 2019, with FBNetV2-style masks):

- **depth** (the tabular MLP's layers, the CNN's convolutions per stage): the layers beyond
  the smallest depth are each a mixture of the layer and the identity (the parameter-free
  operation DARTS is known to collapse into);
- **width** (units, channels): every layer is as wide as the widest candidate, its units
  masked by a mixture of the candidates' masks (the first ``w`` units for width ``w``);
- **kernel size** (CNN): every convolution has the largest kernel, its weights masked by a
  mixture of the candidates' centred masks (a 3x3 inside a 5x5, with the 5x5's padding, is
  the 3x3 convolution);
- **activation**: a mixture of the candidate activations, shared by every layer (the space
  has one activation).

Each mixture's weights are the softmax of its architecture parameters. With ``fix(choice)``
every mixture becomes one-hot: the supernet then computes exactly the discrete network of
that choice with the weights it inherited (``tests/pipelines/test_supernet.py`` pins the
equality against the pipelines' own models), which is how a candidate is evaluated without
training it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from metaml.pipelines.models import ACTIVATIONS, FeatureEncoder
from metaml.pipelines.regularization import dropout_rates

DEPTH, WIDTH, ACTIVATION = "backbone.mlp.depth", "backbone.mlp.width", "activation"
CONVS, CHANNELS, KERNEL = "backbone.cnn.convs", "backbone.cnn.width", "kernel_size"
#: The architecture parameters each supernet relaxes, the depth-like one first.
TABULAR_ARCHITECTURE = (DEPTH, WIDTH, ACTIVATION)
VISION_ARCHITECTURE = (CONVS, CHANNELS, KERNEL, ACTIVATION)


def candidates_from(info: Mapping[str, Any], config: Mapping[str, Any], names: Sequence[str]) -> dict[str, tuple]:
    """The values each choice may take: as the optimizer named them (``info['candidates']``), else the config's."""
    named = dict(info.get("candidates") or {})
    unknown = sorted(set(named) - set(names))
    if unknown:
        raise ValueError(f"this pipeline's supernet relaxes {', '.join(names)}, not {', '.join(unknown)}")
    out = {name: tuple(named.get(name, [config[name]])) for name in names}
    depth = [int(v) for v in out[names[0]]]
    if depth != list(range(min(depth), max(depth) + 1)) or min(depth) < 1:
        raise ValueError(f"the supernet's {names[0]} must be consecutive integers from 1 up, got {depth}")
    if any(a not in ACTIVATIONS for a in out[ACTIVATION]):
        raise ValueError(f"unknown activations among {list(out[ACTIVATION])}; known: {', '.join(ACTIVATIONS)}")
    return out


class MixedActivation(nn.Module):
    """The weighted sum of the candidate activations."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.ops = nn.ModuleList([ACTIVATIONS[n]() for n in names])

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if len(self.ops) == 1:
            return self.ops[0](x)  # type: ignore[no-any-return]
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))  # type: ignore[return-value]


class Supernet(nn.Module):
    """What every supernet shares: its choices, their architecture parameters, fixing and deriving.

    ``choices[name]`` are the candidates of each relaxed parameter; the first name is the
    depth-like one (a count of layers, each optional layer a keep-or-identity mixture), the
    others one softmax each over their candidates.
    """

    def __init__(self, choices: Mapping[str, Sequence[Any]], n_optional: int) -> None:
        super().__init__()
        self.choices = {name: tuple(values) for name, values in choices.items()}
        self.depth_name, *self.other_names = list(self.choices)
        self.min_depth = int(min(self.choices[self.depth_name]))
        self.alpha_depth = nn.Parameter(torch.zeros(n_optional, 2))  # [keep, identity] per optional layer
        self.alphas = nn.ParameterList([nn.Parameter(torch.zeros(len(self.choices[n]))) for n in self.other_names])
        self.fixed: dict[str, Any] | None = None

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha_depth, *self.alphas]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def mixture_weights(self) -> dict[str, torch.Tensor]:
        """Each choice's mixture weights: the softmax of its parameters, or one-hot at the fixed choice."""
        if self.fixed is not None:
            return self._one_hot(self.fixed)
        out = {self.depth_name: torch.softmax(self.alpha_depth, dim=-1)}
        out.update({n: torch.softmax(a, dim=-1) for n, a in zip(self.other_names, self.alphas, strict=True)})
        return out

    def _one_hot(self, choice: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        keep = int(choice[self.depth_name]) - self.min_depth
        depth = torch.zeros_like(self.alpha_depth)
        depth[:keep, 0] = 1.0
        depth[keep:, 1] = 1.0
        out = {self.depth_name: depth}
        for name, alpha in zip(self.other_names, self.alphas, strict=True):
            hot = torch.zeros_like(alpha)
            hot[self.choices[name].index(choice[name])] = 1.0
            out[name] = hot
        return out

    def fix(self, choice: Mapping[str, Any] | None) -> None:
        """Compute the discrete network of ``choice`` (None: the relaxed supernet again)."""
        self.fixed = None if choice is None else dict(choice)

    def derive(self) -> dict[str, Any]:
        """The discrete architecture with the largest weights (DARTS' argmax derivation)."""
        with torch.no_grad():
            out: dict[str, Any] = {
                self.depth_name: self.min_depth + int((self.alpha_depth[:, 0] > self.alpha_depth[:, 1]).sum())
            }
            for name, alpha in zip(self.other_names, self.alphas, strict=True):
                out[name] = self.choices[name][int(alpha.argmax())]
            return out

    def parameter_free_share(self) -> float:
        """The mean weight of the identity over the optional layers (0 without optional layers)."""
        if self.alpha_depth.numel() == 0:
            return 0.0
        with torch.no_grad():
            return float(torch.softmax(self.alpha_depth, dim=-1)[:, 1].mean())

    def weights_report(self) -> dict[str, float]:
        """Every mixture weight by name, for the learning curve (the report draws their evolution)."""
        with torch.no_grad():
            out: dict[str, float] = {}
            for i, (keep, _) in enumerate(torch.softmax(self.alpha_depth, dim=-1).tolist()):
                out[f"alpha.layer{self.min_depth + i + 1}.keep"] = float(keep)
            for name, alpha in zip(self.other_names, self.alphas, strict=True):
                if len(self.choices[name]) > 1:
                    short = name.rsplit(".", 1)[-1]
                    for value, p in zip(self.choices[name], torch.softmax(alpha, 0).tolist(), strict=True):
                        out[f"alpha.{short}.{value}"] = float(p)
            return out


def width_mask(widths: Sequence[int], wide: int, weights: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """The mixture of the candidates' unit masks (the first ``w * scale`` units of ``wide * scale``)."""
    masks = torch.zeros(len(widths), wide * scale, device=weights.device, dtype=weights.dtype)
    for k, w in enumerate(widths):
        masks[k, : int(w) * scale] = 1.0
    return weights @ masks


class SuperMLP(Supernet):
    """The tabular MLP with every candidate depth, width and activation in one network."""

    def __init__(self, encoder: FeatureEncoder, n_classes: int, choices: Mapping[str, Sequence[Any]],
                 config: Mapping[str, Any]) -> None:  # fmt: skip
        depths = [int(d) for d in choices[DEPTH]]
        super().__init__({DEPTH: depths, WIDTH: [int(w) for w in choices[WIDTH]], ACTIVATION: choices[ACTIVATION]},
                         max(depths) - min(depths))  # fmt: skip
        self.encoder = encoder
        self.wide = max(self.choices[WIDTH])
        norm = config["batch_norm"] == "enabled"
        self.skip = config["backbone.mlp.skip"] == "enabled"
        self.linears, self.norms = nn.ModuleList(), nn.ModuleList()
        width_in = encoder.out_features
        for _ in range(max(depths)):
            self.linears.append(nn.Linear(width_in, self.wide))
            self.norms.append(nn.BatchNorm1d(self.wide) if norm else nn.Identity())
            width_in = self.wide
        self.dropouts = nn.ModuleList([nn.Dropout(r) for r in dropout_rates(config, max(depths))])
        self.activation = MixedActivation(self.choices[ACTIVATION])
        self.out = nn.Linear(self.wide, n_classes)

    def embed(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.encoder(numeric, codes)  # type: ignore[no-any-return]

    def head(self, z: torch.Tensor) -> torch.Tensor:
        weights = self.mixture_weights()
        mask = width_mask(self.choices[WIDTH], self.wide, weights[WIDTH])
        h = z
        for i, (linear, norm, dropout) in enumerate(zip(self.linears, self.norms, self.dropouts, strict=True)):
            y = dropout(self.activation(norm(linear(h)), weights[ACTIVATION]) * mask)
            if self.skip and i > 0:
                y = y + h
            if i >= self.min_depth:  # an optional layer: the layer, or the identity
                keep, identity = weights[DEPTH][i - self.min_depth]
                y = keep * y + identity * h
            h = y
        return self.out(h)  # type: ignore[no-any-return]

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(numeric, codes))


class SuperCNN(Supernet):
    """The vision pipeline's plain CNN with every candidate convolution count, width, kernel and activation.

    Stages, pooling and batch norm are the config's (outer choices); the channels of stage
    ``s`` are the width times 2^s, as in ``VisionNet``.
    """

    def __init__(self, shape: tuple[int, int, int], n_classes: int, choices: Mapping[str, Sequence[Any]],
                 config: Mapping[str, Any], mean: float, std: float) -> None:  # fmt: skip
        convs = [int(c) for c in choices[CONVS]]
        kernels = [int(k) for k in choices[KERNEL]]
        super().__init__({CONVS: convs, CHANNELS: [int(w) for w in choices[CHANNELS]], KERNEL: kernels,
                          ACTIVATION: choices[ACTIVATION]}, max(convs) - min(convs))  # fmt: skip
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(max(float(std), 1e-6)))
        self.wide, self.kernel = max(self.choices[CHANNELS]), max(kernels)
        if any(k % 2 == 0 for k in kernels):
            raise ValueError(f"kernel sizes must be odd to share one centre, got {kernels}")
        stages, pooling = int(config["backbone.cnn.stages"]), str(config["pooling"])
        norm = config["batch_norm"] == "enabled"
        self.activation = MixedActivation(self.choices[ACTIVATION])
        c_in, size = shape[0], min(shape[1], shape[2])
        self.stages = nn.ModuleList()
        self.pools: list[str | None] = []
        self.scales: list[int] = []
        for s in range(stages):
            stride, pool = 1, None
            if s > 0 and size >= 2:
                size = (size + 1) // 2
                stride, pool = (2, None) if pooling == "stride" else (1, pooling)
            self.pools.append(pool)
            self.scales.append(2**s)
            layers = nn.ModuleList()
            for r in range(max(convs)):
                conv = nn.Conv2d(c_in, self.wide * 2**s, self.kernel, stride if r == 0 else 1, self.kernel // 2,
                                 bias=not norm)  # fmt: skip
                layers.append(nn.ModuleDict({"conv": conv, "norm": nn.BatchNorm2d(self.wide * 2**s) if norm
                                             else nn.Identity()}))  # fmt: skip
                c_in = self.wide * 2**s
            self.stages.append(layers)
        kernel_masks = torch.zeros(len(kernels), self.kernel, self.kernel)
        for i, k in enumerate(kernels):
            lo = (self.kernel - k) // 2
            kernel_masks[i, lo : lo + k, lo : lo + k] = 1.0
        self.register_buffer("kernel_masks", kernel_masks)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout_rates(config, 1)[0]),
                                        nn.Linear(c_in, n_classes))  # fmt: skip

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.mixture_weights()
        kernel = torch.einsum("k,kij->ij", weights[KERNEL], self.get_buffer("kernel_masks"))
        h = (x - self.get_buffer("mean")) / self.get_buffer("std")
        for layers, pool, scale in zip(self.stages, self.pools, self.scales, strict=True):
            if pool is not None:
                h = nn.functional.max_pool2d(h, 2, ceil_mode=True) if pool == "max" else nn.functional.avg_pool2d(
                    h, 2, ceil_mode=True)  # fmt: skip
            mask = width_mask(self.choices[CHANNELS], self.wide, weights[CHANNELS], scale).view(1, -1, 1, 1)
            for r, layer in enumerate(layers):  # type: ignore[arg-type, var-annotated]
                conv: nn.Conv2d = layer["conv"]  # type: ignore[index]
                y = nn.functional.conv2d(h, conv.weight * kernel, conv.bias, conv.stride, conv.padding)
                y = self.activation(layer["norm"](y), weights[ACTIVATION]) * mask  # type: ignore[index]
                if r >= self.min_depth:
                    keep, identity = weights[CONVS][r - self.min_depth]
                    y = keep * y + identity * h
                h = y
        return self.classifier(h)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)
