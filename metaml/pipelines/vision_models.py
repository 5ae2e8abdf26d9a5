"""Small image classifiers: a plain CNN and a ResNet, in stages whose width doubles as the image shrinks.

Sized for 8x8 to 28x28 digits on a CPU: one to three stages, 4 to 64 channels in the first.
Between stages the image is halved by max or average pooling, or by a stride-2 convolution.
The model normalizes its [0, 1] input itself (augmentations work on pixels), and its
``embed`` is the identity, so mixup mixes the images themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from metaml.pipelines.models import ACTIVATIONS
from metaml.pipelines.regularization import dropout_rates
from metaml.space import Categorical, Int, Parameter

VISION_MODEL_DEFAULTS: dict[str, Any] = {
    "backbone": "cnn",
    "backbone.cnn.stages": 2,
    "backbone.cnn.width": 32,
    "backbone.cnn.convs": 1,
    "backbone.resnet.stages": 2,
    "backbone.resnet.width": 16,
    "backbone.resnet.blocks": 1,
    "kernel_size": 3,
    "pooling": "max",
    "activation": "relu",
    "batch_norm": "enabled",
}


def vision_model_parameters() -> dict[str, Parameter]:
    return {
        "backbone": Categorical(
            {
                "cnn": {
                    "stages": Int(1, 3, structural=True),
                    "width": Int(4, 64, log=True, structural=True),
                    "convs": Int(1, 3, structural=True),
                },
                "resnet": {
                    "stages": Int(1, 3, structural=True),
                    "width": Int(4, 64, log=True, structural=True),
                    "blocks": Int(1, 2, structural=True),
                },
            }
        ),
        "kernel_size": Categorical([3, 5]),
        "pooling": Categorical(["max", "avg", "stride"]),
        "activation": Categorical(list(ACTIVATIONS)),
        "batch_norm": Categorical(["disabled", "enabled"]),
    }


class _Block(nn.Module):
    """A basic residual block: two convolutions, the shortcut projected when the shape changes."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, norm: bool, act: type[nn.Module] | Any) -> None:
        super().__init__()
        pad = kernel // 2
        self.main = nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=not norm), _norm(c_out, norm), act(),
            nn.Conv2d(c_out, c_out, kernel, 1, pad, bias=not norm), _norm(c_out, norm),
        )  # fmt: skip
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=not norm), _norm(c_out, norm))
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.main(x) + self.shortcut(x))  # type: ignore[no-any-return]


def _norm(channels: int, on: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if on else nn.Identity()


class VisionNet(nn.Module):
    """Normalize, stages of convolutions (or residual blocks), global average pooling, dropout, linear."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        n_classes: int,
        config: Mapping[str, Any],
        mean: float,
        std: float,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(max(float(std), 1e-6)))
        kind = str(config["backbone"])
        stages, width = int(config[f"backbone.{kind}.stages"]), int(config[f"backbone.{kind}.width"])
        repeats = int(config["backbone.cnn.convs"] if kind == "cnn" else config["backbone.resnet.blocks"])
        kernel, pooling = int(config["kernel_size"]), str(config["pooling"])
        act, norm = ACTIVATIONS[config["activation"]], config["batch_norm"] == "enabled"
        c_in, size = shape[0], min(shape[1], shape[2])
        layers: list[nn.Module] = []
        for s in range(stages):
            c_out = width * 2**s
            stride = 1
            if s > 0 and size >= 2:  # halve the image between stages while there is an image to halve
                size = (size + 1) // 2
                if pooling == "stride":
                    stride = 2
                else:
                    layers.append(nn.MaxPool2d(2, ceil_mode=True) if pooling == "max" else nn.AvgPool2d(2, ceil_mode=True))
            for r in range(repeats):
                first = stride if r == 0 else 1
                if kind == "resnet":
                    layers.append(_Block(c_in, c_out, kernel, first, norm, act))
                else:
                    layers += [nn.Conv2d(c_in, c_out, kernel, first, kernel // 2, bias=not norm), _norm(c_out, norm), act()]
                c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout_rates(config, 1)[0]), nn.Linear(c_in, n_classes)
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        return self.classifier(self.features((x - mean) / std))  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)
