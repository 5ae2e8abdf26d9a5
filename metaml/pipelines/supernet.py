"""A weight-sharing supernet over the tabular MLP's architecture choices, relaxed as in DARTS.

One network holds every candidate at once (Liu et al. 2019, with FBNetV2-style width masks):

- **depth**: the layers beyond the smallest depth are each a mixture of the layer and the
  identity (the parameter-free operation DARTS is known to collapse into);
- **width**: every layer is as wide as the widest candidate, its units masked by a mixture of
  the candidates' masks (the first ``w`` units for width ``w``);
- **activation**: a mixture of the candidate activations, shared by every layer (the space
  has one activation).

Each mixture's weights are the softmax of its architecture parameters (``alphas``). With
``fix(choice)`` every mixture becomes one-hot: the supernet then computes exactly the
discrete network of that choice with the weights it inherited, which is how a candidate
architecture is evaluated without training it (``test_supernet`` pins the equality).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from metaml.pipelines.models import ACTIVATIONS, FeatureEncoder
from metaml.pipelines.regularization import dropout_rates

DEPTH, WIDTH, ACTIVATION = "backbone.mlp.depth", "backbone.mlp.width", "activation"
#: The architecture parameters the tabular supernet relaxes.
ARCHITECTURE = (DEPTH, WIDTH, ACTIVATION)


@dataclass(frozen=True)
class Candidates:
    """The values each relaxed choice may take (a single value: not searched, fixed in the supernet)."""

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    activations: tuple[str, ...]

    @classmethod
    def from_info(cls, info: Mapping[str, Any], config: Mapping[str, Any]) -> Candidates:
        """The candidates the optimizer named (``info['candidates']``); the config's value where it named none."""
        named = dict(info.get("candidates") or {})
        depths = tuple(int(v) for v in named.get(DEPTH, [config[DEPTH]]))
        widths = tuple(int(v) for v in named.get(WIDTH, [config[WIDTH]]))
        activations = tuple(str(v) for v in named.get(ACTIVATION, [config[ACTIVATION]]))
        if list(depths) != list(range(min(depths), max(depths) + 1)):
            raise ValueError(f"the supernet's depths must be consecutive, got {list(depths)}")
        unknown = [a for a in activations if a not in ACTIVATIONS]
        if unknown or not depths or not widths or not activations or min(depths) < 1 or min(widths) < 1:
            raise ValueError(f"bad supernet candidates: depths {depths}, widths {widths}, activations {activations}")
        return cls(depths, tuple(sorted(set(widths))), activations)


class MixedActivation(nn.Module):
    """The weighted sum of the candidate activations."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.ops = nn.ModuleList([ACTIVATIONS[n]() for n in names])

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if len(self.ops) == 1:
            return self.ops[0](x)  # type: ignore[no-any-return]
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))  # type: ignore[return-value]


class SuperMLP(nn.Module):
    """The tabular MLP with every candidate depth, width and activation in one network."""

    def __init__(self, encoder: FeatureEncoder, n_classes: int, candidates: Candidates, config: Mapping[str, Any]):
        super().__init__()
        self.encoder = encoder
        self.candidates = candidates
        self.min_depth, max_depth = min(candidates.depths), max(candidates.depths)
        wide = max(candidates.widths)
        norm = config["batch_norm"] == "enabled"
        self.skip = config["backbone.mlp.skip"] == "enabled"
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        width_in = encoder.out_features
        for _ in range(max_depth):
            self.linears.append(nn.Linear(width_in, wide))
            self.norms.append(nn.BatchNorm1d(wide) if norm else nn.Identity())
            width_in = wide
        self.dropouts = nn.ModuleList([nn.Dropout(r) for r in dropout_rates(config, max_depth)])
        self.activation = MixedActivation(candidates.activations)
        masks = torch.zeros(len(candidates.widths), wide)
        for k, w in enumerate(candidates.widths):
            masks[k, :w] = 1.0
        self.register_buffer("masks", masks)
        self.out = nn.Linear(wide, n_classes)
        # architecture parameters: zeros = every candidate equally weighted at the start
        self.alpha_depth = nn.Parameter(torch.zeros(max_depth - self.min_depth, 2))  # [keep, identity] per layer
        self.alpha_width = nn.Parameter(torch.zeros(len(candidates.widths)))
        self.alpha_activation = nn.Parameter(torch.zeros(len(candidates.activations)))
        self.fixed: dict[str, Any] | None = None

    # ------------------------------------------------------------------ parameters
    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha_depth, self.alpha_width, self.alpha_activation]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    # ------------------------------------------------------------------ the relaxation
    def mixture_weights(self) -> dict[str, torch.Tensor]:
        """The softmax weights of every mixture, or the one-hot weights of the fixed choice."""
        if self.fixed is not None:
            return self._one_hot(self.fixed)
        return {
            "depth": torch.softmax(self.alpha_depth, dim=-1),
            "width": torch.softmax(self.alpha_width, dim=-1),
            "activation": torch.softmax(self.alpha_activation, dim=-1),
        }

    def _one_hot(self, choice: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        device = self.alpha_width.device
        keep = int(choice[DEPTH]) - self.min_depth
        depth = torch.zeros_like(self.alpha_depth)
        depth[:keep, 0] = 1.0
        depth[keep:, 1] = 1.0
        width = torch.zeros(len(self.candidates.widths), device=device)
        width[self.candidates.widths.index(int(choice[WIDTH]))] = 1.0
        act = torch.zeros(len(self.candidates.activations), device=device)
        act[self.candidates.activations.index(str(choice[ACTIVATION]))] = 1.0
        return {"depth": depth, "width": width, "activation": act}

    def fix(self, choice: Mapping[str, Any] | None) -> None:
        """Compute the discrete network of ``choice`` (None: the relaxed supernet again)."""
        self.fixed = None if choice is None else dict(choice)

    def embed(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.encoder(numeric, codes)  # type: ignore[no-any-return]

    def head(self, z: torch.Tensor) -> torch.Tensor:
        weights = self.mixture_weights()
        mask = weights["width"] @ self.get_buffer("masks")
        h = z
        for i, (linear, norm, dropout) in enumerate(zip(self.linears, self.norms, self.dropouts, strict=True)):
            y = dropout(self.activation(norm(linear(h)), weights["activation"]) * mask)
            if self.skip and i > 0:
                y = y + h
            if i >= self.min_depth:  # an optional layer: the layer, or the identity
                keep, identity = weights["depth"][i - self.min_depth]
                y = keep * y + identity * h
            h = y
        return self.out(h)  # type: ignore[no-any-return]

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(numeric, codes))

    # ------------------------------------------------------------------ reading it
    def derive(self) -> dict[str, Any]:
        """The discrete architecture with the largest weights (DARTS' argmax derivation)."""
        with torch.no_grad():
            keep = self.min_depth + int((self.alpha_depth[:, 0] > self.alpha_depth[:, 1]).sum())
            return {
                DEPTH: keep,
                WIDTH: self.candidates.widths[int(self.alpha_width.argmax())],
                ACTIVATION: self.candidates.activations[int(self.alpha_activation.argmax())],
            }

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
            if len(self.candidates.widths) > 1:
                for w, p in zip(self.candidates.widths, torch.softmax(self.alpha_width, 0).tolist(), strict=True):
                    out[f"alpha.width.{w}"] = float(p)
            if len(self.candidates.activations) > 1:
                acts = torch.softmax(self.alpha_activation, 0).tolist()
                for a, p in zip(self.candidates.activations, acts, strict=True):
                    out[f"alpha.activation.{a}"] = float(p)
            return out
