"""Built-in PyTorch pipelines whose every meta-level choice is a parameter of one search space.

``metaml.pipelines.tabular`` (tables: MLP, ResNet-MLP, FT-Transformer, the regularization
cocktail, fairness interventions) and ``metaml.pipelines.vision`` (small CNNs and ResNets
with augmentation), ``metaml.pipelines.rl`` (PPO on Gymnasium's classic control) and
``metaml.pipelines.text`` (fine-tuning a pretrained sentence encoder: linear probe, top-k layers,
LoRA, full). Each offers ``<name>_space(...)`` (a dict of parameters),
``DEFAULT_CONFIG`` (a strong baseline) and ``train(config, trial)``, the function a study
file names as ``function: metaml.pipelines.tabular:train``.
"""

from __future__ import annotations

from metaml.pipelines.base import DivergedError, OutOfMemoryError, PipelineError, PipelineSpec

__all__ = ["DivergedError", "OutOfMemoryError", "PipelineError", "PipelineSpec", "pipelines"]


def pipelines() -> dict[str, PipelineSpec]:
    """Every built-in pipeline by name (imported on demand: torch models load only when asked for)."""
    from metaml.pipelines import rl, tabular, text, vision

    return {spec.name: spec for spec in (tabular.SPEC, vision.SPEC, rl.SPEC, text.SPEC)}
