"""The values in force in each epoch of a built-in pipeline's run, applied to the objects it trains.

A run's hyperparameters may change between epochs in two ways: population-based training
continues another trial's checkpoint with perturbed values (the restored optimizer still
holds the parent's weight decay), and a study replaying a fixed schedule changes them inside
one run (``TrialContext.config_at``). Either way the loop asks ``Scheduled.epoch`` for the
configuration of each epoch and it sets what the objects hold: the base learning rate of the
schedule, the optimizer's weight decay and the dropout rates; the mixing alpha, label
smoothing and clipping norm are read from the returned configuration batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from metaml.core.trial_context import TrialContext
from metaml.pipelines import regularization as reg
from metaml.pipelines.optim import LRSchedule

#: What the built-in pipelines change between epochs: only these may be ``schedulable`` in their spaces.
SCHEDULABLE = (
    "lr",
    "weight_decay.enabled.strength",
    "dropout.enabled.rate",
    "mixing.mixup.alpha",
    "mixing.cutmix.alpha",
    "label_smoothing.enabled.epsilon",
    "grad_clip.enabled.max_norm",
)


class Scheduled:
    """Gives each epoch's configuration and sets the learning rate, weight decay and dropout it asks for."""

    def __init__(
        self,
        config: Mapping[str, Any],
        trial: TrialContext,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        schedule: LRSchedule,
        build: Callable[[Mapping[str, Any]], nn.Module] | None = None,
    ) -> None:
        self.config, self.trial = dict(config), trial
        self.model, self.optimizer, self.schedule, self.build = model, optimizer, schedule, build
        self._dropout = _dropout_key(config)

    def epoch(self, epoch: int) -> dict[str, Any]:
        """The configuration of ``epoch`` (counted from 1), with the objects set to it."""
        own = self.trial.config
        at = self.trial.config_at(epoch)
        changed = {k: v for k, v in at.items() if k in self.config and (k not in own or own[k] != v)}
        config = {**self.config, **changed}
        self.schedule.base_lr = float(config["lr"])
        decay = reg.weight_decay(config)
        for group in self.optimizer.param_groups:  # a restored optimizer holds the decay of the run it continues
            group["weight_decay"] = decay
        key = _dropout_key(config)
        if key != self._dropout and self.build is not None:
            set_dropout(self.model, self.build(config))
            self._dropout = key
        return config


def _dropout_key(config: Mapping[str, Any]) -> tuple[Any, ...]:
    return (config.get("dropout"), config.get("dropout.enabled.rate"), config.get("dropout.enabled.shape"))


def set_dropout(model: nn.Module, fresh: nn.Module) -> None:
    """Give ``model`` the dropout rates of ``fresh``, a model of the same structure built from other values.

    Rates are attributes, not state: module by module in the same order, ``nn.Dropout``'s ``p``
    and attention's dropout are copied over, the weights are left alone.
    """
    for target, source in zip(model.modules(), fresh.modules()):
        if isinstance(target, nn.Dropout) and isinstance(source, nn.Dropout):
            target.p = source.p
        elif isinstance(target, nn.MultiheadAttention) and isinstance(source, nn.MultiheadAttention):
            target.dropout = source.dropout
