"""The values of each epoch reach what a built-in pipeline trains: learning rate, weight decay, dropout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import torch
from torch import nn

from metaml.core.schedule import Schedule, ScheduleError
from metaml.pipelines.optim import LRSchedule
from metaml.pipelines.scheduled import Scheduled, set_dropout


class Replaying:
    """A trial context's ``config`` and ``config_at`` as a study replaying ``schedule`` gives them."""

    def __init__(self, config: Mapping[str, Any], schedule: Schedule) -> None:
        self.config, self.schedule = dict(config), schedule

    def config_at(self, step: float) -> dict[str, Any]:
        return self.schedule.apply(self.config, step)


def net(rate: float) -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.Dropout(rate), nn.Linear(4, 2), nn.Dropout(rate / 2))


CONFIG = {"lr": 0.1, "schedule": "constant", "weight_decay": "enabled", "weight_decay.enabled.strength": 1e-4,
          "dropout": "enabled", "dropout.enabled.rate": 0.2, "dropout.enabled.shape": "brick"}  # fmt: skip


def test_each_epoch_sets_the_learning_rate_weight_decay_and_dropout_of_its_values() -> None:
    schedule = Schedule.from_dict({"lr": [[0, 0.1], [2, 0.01]], "weight_decay.enabled.strength": [[0, 1e-4], [3, 1e-2]],
                                   "dropout.enabled.rate": [[0, 0.2], [1, 0.6]]})  # fmt: skip
    model = net(0.2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)  # as restored from another member
    lr = LRSchedule(opt, CONFIG, full_epochs=4, steps_per_epoch=1)
    scheduled = Scheduled(CONFIG, Replaying(CONFIG, schedule), model, opt, lr, build=lambda c: net(c["dropout.enabled.rate"]))  # type: ignore[arg-type]
    first = scheduled.epoch(1)
    assert first["lr"] == 0.1 and lr.lr() == 0.1
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(1e-4)  # the restored 0.5 is replaced
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.2, 0.1]
    scheduled.epoch(2)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.6, 0.3]
    third = scheduled.epoch(3)
    assert third["lr"] == 0.01 and lr.lr() == pytest.approx(0.01)
    assert scheduled.epoch(4)["weight_decay.enabled.strength"] == 1e-2
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(1e-2)


def test_dropout_rates_are_copied_and_the_weights_left_alone() -> None:
    model = net(0.1)
    before = [p.clone() for p in model.parameters()]
    set_dropout(model, net(0.5))
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.5, 0.25]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_schedule_holds_each_value_for_the_steps_after_its_start() -> None:
    s = Schedule.from_dict({"lr": [[0, 1.0], [3, 0.5]]})
    assert [s.value("lr", e) for e in range(1, 6)] == [1.0, 1.0, 1.0, 0.5, 0.5]
    assert Schedule.from_dict(s.to_dict()) == s
    built = Schedule.from_intervals([(0, {"lr": 1.0}), (2, {"lr": 1.0}), (4, {"lr": 0.3})], ("lr",))
    assert built.to_dict() == {"lr": [[0, 1.0], [4, 0.3]]}


@pytest.mark.parametrize("bad", [{"lr": [[1, 0.1]]}, {"lr": [[0, 0.1], [0, 0.2]]}, {"lr": [[0, [1]]]}, {"lr": 0.1}])
def test_a_bad_schedule_is_refused(bad: Any) -> None:
    with pytest.raises(ScheduleError):
        Schedule.from_dict(bad)
