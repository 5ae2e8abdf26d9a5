"""Optimizers and learning-rate schedules, as parameters of the space and as torch objects.

The schedule is a pure function of training progress over the FULL run
(``trial.max_fidelity`` epochs), evaluated at every step: training to epoch f and
continuing to f' therefore walks the very learning rates that training to f' directly
walks, which is what lets a scheduler promote a trial from its checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from metaml.space import Categorical, Float, Int, Parameter

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step", "one_cycle")
#: ``linear`` decay to 0 (the usual fine-tuning schedule) is offered by the text pipeline.
#: Epoch fractions at which the step schedule multiplies the learning rate by gamma.
STEP_MILESTONES = (0.5, 0.75)
#: One-cycle starts at lr / 25 and ends at lr / 1e4, as torch's OneCycleLR does by default.
ONE_CYCLE_START, ONE_CYCLE_END = 1 / 25, 1e-4

OPTIM_DEFAULTS: dict[str, Any] = {
    "optimizer": "adamw",
    "optimizer.sgd.momentum": 0.9,
    "optimizer.sgd.nesterov": "enabled",
    "optimizer.adam.beta1": 0.9,
    "optimizer.adam.beta2": 0.999,
    "optimizer.adamw.beta1": 0.9,
    "optimizer.adamw.beta2": 0.999,
    "lr": 1e-3,
    "schedule": "cosine",
    "schedule.step.gamma": 0.1,
    "schedule.one_cycle.peak_at": 0.3,
    "warmup": 0.0,
    "batch_size": 256,
    "hypergradient": "disabled",
    "hypergradient.enabled.beta": 0.02,
}


def optimizer_parameters(batch_size: tuple[int, int] = (16, 1024)) -> dict[str, Parameter]:
    """The optimizer (with its own knobs), learning rate, schedule with warm-up, and batch size."""
    betas = {"beta1": Float(0.8, 0.99), "beta2": Float(0.9, 0.9999)}
    return {
        "optimizer": Categorical(
            {
                "sgd": {"momentum": Float(0.0, 0.99), "nesterov": Categorical(["disabled", "enabled"])},
                "adam": dict(betas),
                "adamw": dict(betas),
            }
        ),
        "lr": Float(1e-5, 0.3, log=True, schedulable=True),
        "schedule": Categorical(
            {
                "constant": {},
                "cosine": {},
                "step": {"gamma": Float(0.05, 0.5, log=True)},
                "one_cycle": {"peak_at": Float(0.1, 0.5)},
            }
        ),
        # one-cycle brings its own warm-up (up to its peak)
        "warmup": Float(0.0, 0.3, when={"schedule": ["constant", "cosine", "step"]}),
        "batch_size": Int(batch_size[0], batch_size[1], log=True, structural=True),  # steps per epoch
        # hypergradient descent learns a factor on the schedule's rate during the run (metaml.pipelines.hypergradient)
        "hypergradient": Categorical({"disabled": {}, "enabled": {"beta": Float(0.002, 0.1, log=True)}}),
    }


def build_optimizer(config: Mapping[str, Any], params: Iterable[Any], weight_decay: float) -> torch.optim.Optimizer:
    """The torch optimizer the config names; weight decay is L2 for sgd/adam and decoupled for adamw."""
    name = config["optimizer"]
    lr = float(config["lr"])
    if name == "sgd":
        momentum = float(config["optimizer.sgd.momentum"])
        nesterov = config["optimizer.sgd.nesterov"] == "enabled" and momentum > 0  # torch refuses nesterov without momentum
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    betas = (float(config[f"optimizer.{name}.beta1"]), float(config[f"optimizer.{name}.beta2"]))
    kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return kind(params, lr=lr, betas=betas, weight_decay=weight_decay)


class LRSchedule:
    """The learning rate at every step, as a function of progress through the full run.

    ``cycles`` > 1 (snapshot ensembling) restarts the schedule at each cycle's end, the
    cycles splitting the full run's epochs as evenly as whole epochs allow. The only state
    is the step counter, checkpointed so that a restored run can check where it is.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        config: Mapping[str, Any],
        full_epochs: int,
        steps_per_epoch: int,
        cycles: int = 1,
    ) -> None:
        self.optimizer = optimizer
        self.kind = str(config["schedule"])
        self.base_lr = float(config["lr"])
        self.warmup = float(config.get("warmup", 0.0) or 0.0)
        self.gamma = float(config.get("schedule.step.gamma", 0.1))
        self.peak_at = float(config.get("schedule.one_cycle.peak_at", 0.3))
        self.steps_per_epoch = int(steps_per_epoch)
        self.boundaries = cycle_boundaries(full_epochs, cycles)
        self.step_count = 0

    def factor(self, progress: float) -> float:
        """The multiplier of the base learning rate at ``progress`` in [0, 1] through one cycle."""
        t = min(max(progress, 0.0), 1.0)
        if self.kind == "one_cycle":
            if t < self.peak_at:
                return ONE_CYCLE_START + (1 - ONE_CYCLE_START) * (1 - math.cos(math.pi * t / self.peak_at)) / 2
            u = (t - self.peak_at) / (1 - self.peak_at)
            return ONE_CYCLE_END + (1 - ONE_CYCLE_END) * (1 + math.cos(math.pi * u)) / 2
        if self.warmup > 0 and t < self.warmup:
            return (t + 1e-12) / self.warmup
        u = (t - self.warmup) / (1 - self.warmup) if self.warmup > 0 else t
        if self.kind == "cosine":
            return (1 + math.cos(math.pi * u)) / 2
        if self.kind == "linear":
            return 1.0 - u
        if self.kind == "step":
            return float(self.gamma ** sum(u >= m for m in STEP_MILESTONES))
        return 1.0

    def progress(self, step: int) -> float:
        """Progress through the current cycle at global step ``step`` (steps taken before it)."""
        epoch = step / self.steps_per_epoch
        start = 0
        for end in self.boundaries:
            if epoch < end or end == self.boundaries[-1]:
                return (epoch - start) / max(end - start, 1)
            start = end
        return 1.0  # pragma: no cover

    def lr(self) -> float:
        return self.base_lr * self.factor(self.progress(self.step_count))

    def apply(self) -> float:
        """Set the learning rate of the coming step; return it.

        A parameter group with an ``lr_scale`` (the text pipeline's backbone, each layer of it)
        learns at that multiple of the scheduled rate.
        """
        lr = self.lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr * float(group.get("lr_scale", 1.0))
        return lr

    def advance(self) -> None:
        self.step_count += 1

    def state_dict(self) -> dict[str, Any]:
        return {"step_count": self.step_count, "steps_per_epoch": self.steps_per_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if int(state["steps_per_epoch"]) != self.steps_per_epoch:
            raise ValueError(
                f"the checkpoint's schedule has {state['steps_per_epoch']} steps per epoch, this run "
                f"{self.steps_per_epoch}: the data or batch size changed between the two runs"
            )
        self.step_count = int(state["step_count"])


def cycle_boundaries(full_epochs: int, cycles: int) -> list[int]:
    """The epochs at which each cycle ends (the last one is the full run's end)."""
    cycles = max(1, min(int(cycles), int(full_epochs)))
    return [round(full_epochs * (c + 1) / cycles) for c in range(cycles)]
