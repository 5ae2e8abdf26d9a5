"""Tabular backbones: an MLP, a ResNet-MLP and a small feature-tokenizer transformer.

Every model splits into ``embed`` (inputs to a tensor: the encoded features, or one token
per feature) and ``head`` (that tensor to logits), so that mixup can mix examples where
mixing means something: after categorical codes have become vectors. The architectures
follow Gorishniy et al. 2021 ("Revisiting deep learning models for tabular data") for the
ResNet and the FT-Transformer, and Kadra et al. 2021 for the MLP's shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from metaml.pipelines.regularization import dropout_rates
from metaml.space import Categorical, Int, Parameter

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}

MODEL_DEFAULTS: dict[str, Any] = {
    "backbone": "mlp",
    "backbone.mlp.depth": 3,
    "backbone.mlp.width": 256,
    "backbone.mlp.shape": "brick",
    "backbone.mlp.skip": "disabled",
    "backbone.resnet.blocks": 2,
    "backbone.resnet.width": 128,
    "backbone.resnet.expansion": 2,
    "backbone.ft_transformer.layers": 2,
    "backbone.ft_transformer.heads": 2,
    "backbone.ft_transformer.head_dim": 16,
    "activation": "relu",
    "batch_norm": "disabled",
    "categorical_encoding": "one_hot",
    "categorical_encoding.embedding.dim": 8,
}


def model_parameters() -> dict[str, Parameter]:
    """The backbone choice with its nested knobs, the activation, batch norm and categorical encoding."""
    flat = {"backbone": ["mlp", "resnet"]}
    return {
        "backbone": Categorical(
            {
                "mlp": {
                    "depth": Int(1, 6, structural=True),
                    "width": Int(16, 1024, log=True, structural=True),
                    "shape": Categorical(["brick", "funnel"]),
                    "skip": Categorical(["disabled", "enabled"]),
                },
                "resnet": {
                    "blocks": Int(1, 4, structural=True),
                    "width": Int(16, 512, log=True, structural=True),
                    "expansion": Int(1, 4, structural=True),
                },
                "ft_transformer": {
                    "layers": Int(1, 3, structural=True),
                    "heads": Int(1, 4, structural=True),
                    "head_dim": Int(4, 32, log=True, structural=True),
                },
            }
        ),
        "activation": Categorical(list(ACTIVATIONS)),
        "batch_norm": Categorical(["disabled", "enabled"], when=flat),
        "categorical_encoding": Categorical({"one_hot": {}, "embedding": {"dim": Int(2, 32, log=True, structural=True)}}, when=flat),
    }


class FeatureEncoder(nn.Module):
    """Numeric columns as they are, categorical codes one-hot encoded or embedded, side by side."""

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], embedding_dim: int | None) -> None:
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.embeddings = nn.ModuleList(
            [nn.Embedding(c, embedding_dim) for c in cardinalities] if embedding_dim else []
        )
        self.out_features = n_numeric + (
            embedding_dim * len(self.cardinalities) if embedding_dim else sum(self.cardinalities)
        )

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        parts = [numeric]
        if self.embeddings:
            parts += [emb(codes[:, i]) for i, emb in enumerate(self.embeddings)]
        else:
            parts += [
                nn.functional.one_hot(codes[:, i], c).to(numeric.dtype) for i, c in enumerate(self.cardinalities)
            ]
        return torch.cat(parts, dim=1)


class TabularMLP(nn.Module):
    """Encoder, then an MLP (brick or funnel widths, optional skip connections), then a linear head."""

    def __init__(self, encoder: FeatureEncoder, n_classes: int, config: Mapping[str, Any]) -> None:
        super().__init__()
        self.encoder = encoder
        depth, width = int(config["backbone.mlp.depth"]), int(config["backbone.mlp.width"])
        if config["backbone.mlp.shape"] == "funnel":  # halve the width at each layer, never below 8
            widths = [max(8, width // 2**i) for i in range(depth)]
        else:
            widths = [width] * depth
        act = ACTIVATIONS[config["activation"]]
        skip, norm = config["backbone.mlp.skip"] == "enabled", config["batch_norm"] == "enabled"
        blocks: list[nn.Module] = []
        width_in = encoder.out_features
        for w, rate in zip(widths, dropout_rates(config, depth)):
            layer = nn.Sequential(
                nn.Linear(width_in, w), nn.BatchNorm1d(w) if norm else nn.Identity(), act(), nn.Dropout(rate)
            )
            shortcut = (nn.Identity() if width_in == w else nn.Linear(width_in, w, bias=False)) if skip else None
            blocks.append(_Residual(layer, shortcut))
            width_in = w
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(width_in, n_classes)

    def embed(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.encoder(numeric, codes)  # type: ignore[no-any-return]

    def head(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(z))  # type: ignore[no-any-return]

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(numeric, codes))


class _Residual(nn.Module):
    def __init__(self, layer: nn.Module, shortcut: nn.Module | None) -> None:
        super().__init__()
        self.layer, self.shortcut = layer, shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer(x)
        return y if self.shortcut is None else y + self.shortcut(x)


class TabularResNet(TabularMLP):
    """Gorishniy et al.'s ResNet: linear in, blocks of norm-linear-act-dropout-linear-dropout plus identity."""

    def __init__(self, encoder: FeatureEncoder, n_classes: int, config: Mapping[str, Any]) -> None:
        nn.Module.__init__(self)
        self.encoder = encoder
        blocks, width = int(config["backbone.resnet.blocks"]), int(config["backbone.resnet.width"])
        hidden = width * int(config["backbone.resnet.expansion"])
        act = ACTIVATIONS[config["activation"]]

        def norm() -> nn.Module:
            return nn.BatchNorm1d(width) if config["batch_norm"] == "enabled" else nn.Identity()

        rates = dropout_rates(config, blocks)
        layers: list[nn.Module] = [nn.Linear(encoder.out_features, width)]
        for rate in rates:
            block = nn.Sequential(
                norm(), nn.Linear(width, hidden), act(), nn.Dropout(rate), nn.Linear(hidden, width), nn.Dropout(rate)
            )
            layers.append(_Residual(block, nn.Identity()))
        layers += [norm(), act()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, n_classes)


class FTTransformer(nn.Module):
    """A small feature-tokenizer transformer: one token per feature plus [CLS], pre-norm layers."""

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], n_classes: int, config: Mapping[str, Any]) -> None:
        super().__init__()
        heads = int(config["backbone.ft_transformer.heads"])
        dim = heads * int(config["backbone.ft_transformer.head_dim"])
        rate = dropout_rates(config, 1)[0]
        scale = dim**-0.5
        self.weight = nn.Parameter(torch.randn(n_numeric, dim) * scale)
        self.bias = nn.Parameter(torch.randn(n_numeric, dim) * scale)
        self.embeddings = nn.ModuleList([nn.Embedding(c, dim) for c in cardinalities])
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * scale)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=2 * dim, dropout=rate, activation=ACTIVATIONS[config["activation"]](),
            batch_first=True, norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(
            layer, int(config["backbone.ft_transformer.layers"]), enable_nested_tensor=False
        )
        for module in self.transformer.modules():  # the encoder deep-copies one layer: give each its own weights
            reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
            if reset is not None and module is not self.transformer:
                reset()
        self.out = nn.Sequential(nn.LayerNorm(dim), ACTIVATIONS[config["activation"]](), nn.Linear(dim, n_classes))

    def embed(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        tokens = [numeric.unsqueeze(-1) * self.weight + self.bias]
        tokens += [emb(codes[:, i]).unsqueeze(1) for i, emb in enumerate(self.embeddings)]
        return torch.cat(tokens, dim=1)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.cls.expand(z.shape[0], -1, -1), z], dim=1)
        return self.out(self.transformer(x)[:, 0])  # type: ignore[no-any-return]

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(numeric, codes))


def build_tabular_model(
    config: Mapping[str, Any], n_numeric: int, cardinalities: Sequence[int], n_classes: int
) -> nn.Module:
    """The backbone the config names, for inputs of this shape."""
    if config["backbone"] == "ft_transformer":
        return FTTransformer(n_numeric, cardinalities, n_classes, config)
    dim = int(config["categorical_encoding.embedding.dim"]) if config["categorical_encoding"] == "embedding" else None
    encoder = FeatureEncoder(n_numeric, cardinalities, dim)
    kind = TabularResNet if config["backbone"] == "resnet" else TabularMLP
    return kind(encoder, n_classes, config)

