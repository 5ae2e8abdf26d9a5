"""Spaces the space tests share: a whole pipeline with conditions and nesting to depth 2."""

from __future__ import annotations

from typing import Any

from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

PIPELINE_YAML = """
epochs: {type: fidelity, lower: 1, upper: 27}
lr: {type: float, lower: 1e-4, upper: 1e-1, log: true, prior: 3e-3, confidence: high}
batch_size: {type: int, lower: 16, upper: 256, log: true}
depth: {type: int, lower: 1, upper: 4}
dropout: {type: float, lower: 0.0, upper: 0.5}
weight_decay: {type: float, lower: -1.0, upper: 1.0}
optimizer:
  type: categorical
  choices:
    sgd:
      momentum: {type: float, lower: 0.0, upper: 0.99}
      schedule: {type: categorical, choices: [constant, cosine, step]}
      gamma: {type: float, lower: 0.1, upper: 0.9, when: {schedule: [step]}}
    adam:
      beta1: {type: float, lower: 0.8, upper: 0.999, prior: 0.9, confidence: low}
backbone:
  type: categorical
  prior: resnet
  confidence: medium
  choices:
    mlp:
      width: {type: int, lower: 32, upper: 512, log: true}
      act: {type: categorical, choices: [relu, gelu, tanh]}
    resnet:
      blocks: {type: int, lower: 1, upper: 3, prior: 2}
      norm:
        type: categorical
        choices:
          batch:
            momentum: {type: float, lower: 0.01, upper: 0.5}
            affine: {type: categorical, choices: [true, false]}
          group:
            groups: {type: int, lower: 1, upper: 8, when: {backbone.resnet.blocks: [2, 3]}}
          none: {}
augment: {type: categorical, choices: [none, flip, mixup], prior: flip, confidence: high}
mixup_alpha: {type: float, lower: 0.1, upper: 1.0, when: {augment: [mixup]}}
seed: {type: constant, value: 0}
label_smoothing: {type: constant, value: 0.1, when: {augment: [mixup]}}
"""


def pipeline_space() -> Space:
    """Architecture, optimizer and pipeline choices together; ``backbone.resnet.norm.batch.*`` is nested twice."""
    return Space(
        {
            "epochs": Fidelity(1, 27),
            "lr": Float(1e-4, 1e-1, log=True, prior=3e-3, confidence="high"),
            "batch_size": Int(16, 256, log=True),
            "depth": Int(1, 4),
            "dropout": Float(0.0, 0.5),
            "weight_decay": Float(-1.0, 1.0),
            "optimizer": Categorical(
                {
                    "sgd": {
                        "momentum": Float(0.0, 0.99),
                        "schedule": Categorical(["constant", "cosine", "step"]),
                        # a condition inside a sub-space names its sibling
                        "gamma": Float(0.1, 0.9, when={"schedule": ["step"]}),
                    },
                    "adam": {"beta1": Float(0.8, 0.999, prior=0.9, confidence="low")},
                }
            ),
            "backbone": Categorical(
                {
                    "mlp": {"width": Int(32, 512, log=True), "act": Categorical(["relu", "gelu", "tanh"])},
                    "resnet": {
                        "blocks": Int(1, 3, prior=2),
                        "norm": Categorical(
                            {
                                "batch": {
                                    "momentum": Float(0.01, 0.5),
                                    "affine": Categorical([True, False]),
                                },
                                # a condition on a full name, from two levels down
                                "group": {"groups": Int(1, 8, when={"backbone.resnet.blocks": [2, 3]})},
                                "none": {},
                            }
                        ),
                    },
                },
                prior="resnet",
                confidence="medium",
            ),
            "augment": Categorical(["none", "flip", "mixup"], prior="flip", confidence="high"),
            "mixup_alpha": Float(0.1, 1.0, when={"augment": ["mixup"]}),
            "seed": Constant(0),
            "label_smoothing": Constant(0.1, when={"augment": ["mixup"]}),
        }
    )


def expected_active(config: dict[str, Any]) -> set[str]:
    """The parameters a pipeline config must hold, worked out by hand (an oracle independent of Space)."""
    names = {"lr", "batch_size", "depth", "dropout", "weight_decay", "optimizer", "backbone", "augment", "seed"}
    if config["optimizer"] == "sgd":
        names |= {"optimizer.sgd.momentum", "optimizer.sgd.schedule"}
        if config["optimizer.sgd.schedule"] == "step":
            names.add("optimizer.sgd.gamma")
    else:
        names.add("optimizer.adam.beta1")
    if config["backbone"] == "mlp":
        names |= {"backbone.mlp.width", "backbone.mlp.act"}
    else:
        names |= {"backbone.resnet.blocks", "backbone.resnet.norm"}
        norm = config["backbone.resnet.norm"]
        if norm == "batch":
            names |= {"backbone.resnet.norm.batch.momentum", "backbone.resnet.norm.batch.affine"}
        elif norm == "group" and config["backbone.resnet.blocks"] in (2, 3):
            names.add("backbone.resnet.norm.group.groups")
    if config["augment"] == "mixup":
        names |= {"mixup_alpha", "label_smoothing"}
    return names
