"""Image augmentations on batches of tensors, each drawn from an explicit generator.

Written for tensors ``[n, c, h, w]`` in pixel space [0, 1] (no torchvision): random crop
with zero padding, horizontal flip, TrivialAugment-style single operations (Müller & Hutter
2021: one operation per image, uniformly chosen, at a uniformly drawn strength), cutout
(DeVries & Taylor 2017) and the image form of cutmix (Yun et al. 2019). Every random draw
comes from the ``torch.Generator`` passed in, so an epoch's augmentations depend on its
seed only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch.nn import functional as F

from metaml.space import Categorical, Float, Int, Parameter

AUGMENT_DEFAULTS: dict[str, Any] = {
    "crop": "disabled",
    "crop.enabled.padding": 1,
    "flip": "disabled",
    "trivial_augment": "disabled",
    "cutout": "disabled",
    "cutout.enabled.size": 0.25,
}

#: TrivialAugment's operations here (geometric ones through one affine warp, then photometric ones).
OPERATIONS = ("identity", "rotate", "shear_x", "shear_y", "translate_x", "translate_y", "brightness", "contrast",
              "solarize")  # fmt: skip
MAX_ROTATE_DEGREES, MAX_SHEAR, MAX_TRANSLATE, MAX_ENHANCE = 30.0, 0.3, 0.3, 0.9


def augment_parameters() -> dict[str, Parameter]:
    return {
        "crop": Categorical({"disabled": {}, "enabled": {"padding": Int(1, 4)}}),
        "flip": Categorical(["disabled", "enabled"]),
        "trivial_augment": Categorical(["disabled", "enabled"]),
        "cutout": Categorical({"disabled": {}, "enabled": {"size": Float(0.1, 0.6)}}),
    }


def augmenter(config: Mapping[str, Any]) -> Any:
    """``augment(inputs, generator) -> inputs`` applying the config's augmentations, or None if none is on."""
    steps = []
    if config["crop"] == "enabled":
        padding = int(config["crop.enabled.padding"])
        steps.append(lambda x, g: random_crop(x, padding, g))
    if config["flip"] == "enabled":
        steps.append(horizontal_flip)
    if config["trivial_augment"] == "enabled":
        steps.append(trivial_augment)
    if config["cutout"] == "enabled":
        size = float(config["cutout.enabled.size"])
        steps.append(lambda x, g: cutout(x, size, g))
    if not steps:
        return None

    def augment(inputs: tuple[torch.Tensor, ...], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        (x,) = inputs
        for step in steps:
            x = step(x, generator)
        return (x,)

    return augment


def _uniform(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=generator).to(device)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by up to ``padding`` pixels each way, the gap filled with zeros."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # [n, h, 1]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # [n, 1, w]
    out = padded.permute(0, 2, 3, 1)[torch.arange(n, device=x.device)[:, None, None], rows, cols]  # [n, h, w, c]
    return out.permute(0, 3, 1, 2).contiguous()


def horizontal_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Half of the images (drawn) mirrored left to right."""
    flip = _uniform(x.shape[0], generator, x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def trivial_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One operation per image, uniformly chosen, at a uniform strength with a random sign."""
    n = x.shape[0]
    op = torch.randint(0, len(OPERATIONS), (n,), generator=generator).to(x.device)
    strength = _uniform(n, generator, x.device)
    sign = torch.where(_uniform(n, generator, x.device) < 0.5, -1.0, 1.0)
    m = strength * sign

    def chosen(name: str) -> torch.Tensor:
        return (op == OPERATIONS.index(name)).to(x.dtype)

    angle = chosen("rotate") * m * math.radians(MAX_ROTATE_DEGREES)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle), -torch.sin(angle) + chosen("shear_x") * m * MAX_SHEAR
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) + chosen("shear_y") * m * MAX_SHEAR, torch.cos(angle)
    theta[:, 0, 2] = chosen("translate_x") * m * 2 * MAX_TRANSLATE  # the grid spans [-1, 1]: 2 is the width
    theta[:, 1, 2] = chosen("translate_y") * m * 2 * MAX_TRANSLATE
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    factor = (1 + MAX_ENHANCE * m)[:, None, None, None]
    bright = (out * factor).clamp(0, 1)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = (mean + (out - mean) * factor).clamp(0, 1)
    threshold = (1 - strength)[:, None, None, None]
    solarized = torch.where(out >= threshold, 1 - out, out)
    for name, value in (("brightness", bright), ("contrast", contrast), ("solarize", solarized)):
        out = torch.where(chosen(name)[:, None, None, None].bool(), value, out)
    return out


def cutout(x: torch.Tensor, size: float, generator: torch.Generator) -> torch.Tensor:
    """A square of side ``size`` * image side set to zero in each image, centred anywhere (clipped at edges)."""
    n, _, h, w = x.shape
    side = max(1, round(size * min(h, w)))
    cy = torch.randint(0, h, (n,), generator=generator).to(x.device)
    cx = torch.randint(0, w, (n,), generator=generator).to(x.device)
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    top, left = cy - side // 2, cx - side // 2
    inside_y = (ys[None, :] >= top[:, None]) & (ys[None, :] < (top + side)[:, None])
    inside_x = (xs[None, :] >= left[:, None]) & (xs[None, :] < (left + side)[:, None])
    hole = inside_y[:, :, None] & inside_x[:, None, :]
    return x.masked_fill(hole[:, None], 0.0)


def image_cutmix(
    inputs: tuple[torch.Tensor, ...], perm: torch.Tensor, lam: float, generator: torch.Generator
) -> tuple[tuple[torch.Tensor, ...], float]:
    """CutMix: a box of area (1 - lam) from each image's partner; return the area actually kept."""
    (x,) = inputs
    _, _, h, w = x.shape
    cut = math.sqrt(1.0 - lam)
    bh, bw = int(round(h * cut)), int(round(w * cut))
    cy = int(torch.randint(0, h, (1,), generator=generator))
    cx = int(torch.randint(0, w, (1,), generator=generator))
    y0, y1 = max(cy - bh // 2, 0), min(cy + bh - bh // 2, h)
    x0, x1 = max(cx - bw // 2, 0), min(cx + bw - bw // 2, w)
    mixed = x.clone()
    mixed[:, :, y0:y1, x0:x1] = x[perm][:, :, y0:y1, x0:x1]
    return (mixed,), 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
