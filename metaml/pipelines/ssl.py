"""Self-supervised pretraining of a vision backbone on unlabeled images, before supervised training.

- ``rotation`` (Gidaris et al. 2018): each image is shown turned by 0, 90, 180 or 270
  degrees and a 4-way head on the backbone's pooled features learns which; recognizing
  the turn of a digit needs its shape, which is what the classifier needs too.
- ``contrastive`` (SimCLR, Chen et al. 2020): two augmented views of each image, a
  projection head, and the NT-Xent loss that pulls the two views of an image together and
  pushes the other images of the batch away.

The stage uses no labels: it trains on the training images and the unlabeled pool alike.
Its heads are thrown away afterwards; only the backbone (``model.features``, batch-norm
statistics included) keeps what it learned. Every random draw comes from streams seeded by
the study seed and the SSL epoch, so the pretrained weights are a function of (seed,
config) alone: a trial that continues a checkpoint never needs the stage again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from metaml.pipelines.augment import random_crop, trivial_augment
from metaml.pipelines.base import DivergedError
from metaml.pipelines.training import epoch_batches, seeded, stream_seed
from metaml.space import Categorical, Float, Int, Parameter

SSL_DEFAULTS: dict[str, Any] = {
    "ssl": "none",
    "ssl.rotation.epochs": 2,
    "ssl.contrastive.epochs": 2,
    "ssl.contrastive.temperature": 0.2,
    "ssl.contrastive.projection": 64,
    "ssl.contrastive.strength": 0.5,
}
#: The pretext tasks' optimizer: Adam at a fixed rate (the searched ``lr`` is the supervised one).
SSL_LR = 1e-3
#: Images per pretext batch (a rotation batch holds four turns of each).
SSL_BATCH = 64
#: Keys of the SSL stage's random streams under the study seed (the epochs use (seed, epoch)).
STREAM = (0, 1)


def ssl_parameters() -> dict[str, Parameter]:
    return {
        "ssl": Categorical(
            {
                "none": {},
                "rotation": {"epochs": Int(1, 5)},
                "contrastive": {
                    "epochs": Int(1, 5),
                    "temperature": Float(0.05, 1.0, log=True),
                    "projection": Int(16, 128, log=True, structural=True),
                    "strength": Float(0.1, 1.0),
                },
            }
        )
    }


def rotations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image of ``x`` ``[n, c, h, w]`` turned k quarter turns counterclockwise for k = 0..3, and k.

    The result is ``[4n, c, h, w]`` ordered by turn (all images at k = 0 first); the labels
    are ``[4n]``. Images must be square.
    """
    turned = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
    labels = torch.arange(4, device=x.device).repeat_interleave(x.shape[0])
    return turned, labels


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The NT-Xent loss of two views' projections ``[n, d]``: each view must pick its partner among 2n - 1."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    similarity = (z @ z.T) / temperature
    similarity = similarity.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, partner)


def views(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """One augmented view: a shift of up to ``strength`` of a quarter of the image, then, with
    probability ``strength``, a TrivialAugment operation."""
    padding = max(1, round(strength * x.shape[-1] / 4))
    out = random_crop(x, padding, generator)
    mixed = trivial_augment(out, generator)
    keep = (torch.rand(x.shape[0], generator=generator) < strength).to(x.device).view(-1, 1, 1, 1)
    return torch.where(keep, mixed, out)


class _Pretext(nn.Module):
    """The backbone's pooled features and a head for the pretext task (discarded after the stage)."""

    def __init__(self, model: nn.Module, width: int, head: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.head = head
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        model = self.model
        mean, std = model.get_buffer("mean"), model.get_buffer("std")
        return self.head(self.pool(model.get_submodule("features")((x - mean) / std)))  # type: ignore[no-any-return]


def feature_width(model: nn.Module) -> int:
    """The number of channels the backbone hands to the classifier (the input of its last linear layer)."""
    linear = [m for m in model.get_submodule("classifier").modules() if isinstance(m, nn.Linear)]
    return int(linear[-1].in_features)


def pretrain(
    config: Mapping[str, Any], model: nn.Module, images: torch.Tensor, seed: int, device: torch.device
) -> dict[str, float]:
    """Pretrain ``model``'s backbone in place on ``images`` with the config's pretext task; what it did.

    Returns ``{}`` for ``ssl: none``, else the epochs, images and steps trained and the last
    epoch's mean pretext loss (recorded with the trial, beside its cost).
    """
    task = str(config.get("ssl", "none"))
    if task == "none":
        return {}
    epochs = int(config[f"ssl.{task}.epochs"])
    width = feature_width(model)
    with seeded(stream_seed(seed, *STREAM), device):  # the heads' initialization
        if task == "rotation":
            head: nn.Module = nn.Linear(width, 4)
        else:
            projection = int(config["ssl.contrastive.projection"])
            head = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, projection))
    pretext = _Pretext(model, width, head).to(device)
    optimizer = torch.optim.Adam([p for p in pretext.parameters() if p.requires_grad], lr=SSL_LR)
    images = images.to(device)
    steps, loss = 0, float("nan")
    pretext.train()
    for epoch in range(1, epochs + 1):
        epoch_seed = stream_seed(seed, *STREAM, epoch)
        generator = torch.Generator().manual_seed(epoch_seed)
        total = torch.zeros((), device=device)
        batches = epoch_batches(len(images), min(SSL_BATCH, len(images)), generator)
        with seeded(epoch_seed, device):
            for rows in batches:
                x = images[rows.to(device)]
                if task == "rotation":
                    turned, labels = rotations(x)
                    step_loss = F.cross_entropy(pretext(turned), labels)
                else:
                    strength = float(config["ssl.contrastive.strength"])
                    z1, z2 = pretext(views(x, strength, generator)), pretext(views(x, strength, generator))
                    step_loss = nt_xent(z1, z2, float(config["ssl.contrastive.temperature"]))
                optimizer.zero_grad(set_to_none=True)
                step_loss.backward()
                optimizer.step()
                total += step_loss.detach()
                steps += 1
        loss = float(total) / len(batches)
        if not math.isfinite(loss):
            raise DivergedError(
                f"self-supervised pretraining ({task}) diverged: its loss became {loss} in SSL epoch {epoch}"
            )
    model.zero_grad(set_to_none=True)
    return {"epochs": float(epochs), "images": float(len(images)), "steps": float(steps), "loss": loss}
