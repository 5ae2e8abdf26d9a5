"""Mixout (Lee et al. 2020): during training, weights fall back to their pretrained values at random.

Each element of a linear layer's weight is replaced by its pretrained value with
probability ``p`` at every training forward pass, and the mix is rescaled as dropout
rescales, so that its expectation is the current weight:

    w_mix = (mask * w_pre + (1 - mask) * w - p * w_pre) / (1 - p),  mask ~ Bernoulli(p)

It pulls a fine-tuned model towards the pretrained one without a penalty to tune, and
stabilizes fine-tuning on small data. At evaluation it is the identity (``w`` itself).

The masks come from torch's global generator, like dropout's: the training loop seeds it
from (seed, epoch) for every epoch, so the masks are a function of the seed and the step,
and continuing a checkpoint draws the same ones a straight run does.
"""

from __future__ import annotations

import torch
from torch import nn


class MixoutLinear(nn.Module):
    """A linear layer whose weight mixes with its pretrained value in training; its parameters keep their names.

    It holds the original layer's ``weight`` and ``bias`` themselves (a state dict, an
    optimizer or a checkpoint sees the same tensors under the same names) and the pretrained
    weight as a buffer that is not saved: it is rebuilt from the encoder with the model.
    """

    def __init__(self, linear: nn.Linear, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"mixout p must be in [0, 1), not {p}")
        self.p = float(p)
        self.weight = linear.weight
        self.bias = linear.bias
        self.register_buffer("pretrained", linear.weight.detach().clone(), persistent=False)

    def mixed_weight(self) -> torch.Tensor:
        """The weight of this forward pass: mixed with the pretrained one in training, the weight itself at eval."""
        if not self.training or self.p == 0.0:
            return self.weight
        mask = (torch.rand(self.weight.shape, device=self.weight.device) < self.p).to(self.weight.dtype)
        pre = self.get_buffer("pretrained")
        return (mask * pre + (1.0 - mask) * self.weight - self.p * pre) / (1.0 - self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.mixed_weight(), self.bias)


def apply_mixout(module: nn.Module, p: float) -> int:
    """Replace every ``nn.Linear`` inside ``module`` by a ``MixoutLinear`` at ``p``, in place; return how many.

    The current weights are taken as the pretrained ones, so call it on the freshly copied
    encoder layers, before any training.
    """
    targets = [(parent, name, child) for parent in module.modules() for name, child in parent.named_children()
               if isinstance(child, nn.Linear)]  # fmt: skip
    for parent, name, child in targets:
        setattr(parent, name, MixoutLinear(child, p))
    return len(targets)
