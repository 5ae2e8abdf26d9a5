"""The rl pipeline's contract: seeded, the fidelity a prefix of the run, its metrics, and its refusals."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("gymnasium")

from metaml.core.trial_context import RunSettings  # noqa: E402
from metaml.pipelines import (  # noqa: E402
    PipelineError,
    pipelines,
    rl,  # noqa: E402
)
from metaml.space import Space  # noqa: E402

#: A small run: 256 environment steps per unit, one evaluation episode.
SMALL = {"steps_per_unit": 256, "n_envs": 2, "eval_episodes": 2, "minibatch": 64, "update_epochs": 2}


class Memory:
    """An in-memory trial context: keeps the latest checkpoint and the curve, and an optional schedule."""

    def __init__(self, fidelity: int, config: Mapping[str, Any], saved: dict[str, Any], at: dict[int, dict[str, Any]] | None = None) -> None:
        self.number, self.config, self.fidelity, self.max_fidelity = 0, dict(config), fidelity, 10
        self.directory: Path | None = None
        self.objective_names: tuple[str, ...] = ()
        self.run_settings = RunSettings()
        self.saved, self.at, self.curve = saved, at or {}, []

    def config_at(self, step: float) -> dict[str, Any]:
        return {**self.config, **self.at.get(int(step), {})}

    def restore(self, **objects: Any) -> int:
        if "states" not in self.saved:
            return 0
        for name, obj in objects.items():
            obj.load_state_dict(copy.deepcopy(self.saved["states"][name]))
        return int(self.saved["step"])

    def report(self, step: float, **metrics: Any) -> None:
        self.curve.append((step, metrics))

    def checkpoint(self, step: float, **objects: Any) -> None:
        self.saved.update(step=step, states={k: copy.deepcopy(v.state_dict()) for k, v in objects.items()})

    def should_stop(self) -> bool:
        return False


def test_the_rl_pipeline_is_built_in_with_a_valid_default_and_architecture_marked_structural() -> None:
    spec = pipelines()["rl"]
    space = Space(spec.space())
    assert space.validate(rl.resolve({})) == rl.resolve({})
    assert set(space.schedulable) == set(rl.SCHEDULABLE)
    assert space.parameters["hidden"].structural and space.parameters["layers"].structural  # type: ignore[union-attr]


def test_continuing_from_a_checkpoint_gives_what_training_straight_through_gives() -> None:
    straight, split = {}, {}
    full = rl.train(dict(SMALL), Memory(3, SMALL, straight))  # type: ignore[arg-type]
    rl.train(dict(SMALL), Memory(2, SMALL, split))  # type: ignore[arg-type]
    continued = rl.train(dict(SMALL), Memory(3, SMALL, split))  # type: ignore[arg-type]
    assert continued == full
    for key, value in straight["states"]["model"].items():
        assert torch.equal(value, split["states"]["model"][key])
    assert full["env_steps"] == 3 * 256 and full["n_parameters"] > 0


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    a = rl.train(dict(SMALL), Memory(1, SMALL, {}))  # type: ignore[arg-type]
    b = rl.train(dict(SMALL), Memory(1, SMALL, {}))  # type: ignore[arg-type]
    other = {**SMALL, "seed": 5}
    c_saved: dict[str, Any] = {}
    rl.train(dict(other), Memory(1, other, c_saved))  # type: ignore[arg-type]
    a_saved: dict[str, Any] = {}
    rl.train(dict(SMALL), Memory(1, SMALL, a_saved))  # type: ignore[arg-type]
    assert a == b
    assert not torch.equal(a_saved["states"]["model"]["actor.0.weight"], c_saved["states"]["model"]["actor.0.weight"])


def test_each_unit_trains_with_the_values_in_force_then() -> None:
    fixed, scheduled = {}, {}
    rl.train(dict(SMALL), Memory(2, SMALL, fixed))  # type: ignore[arg-type]
    rl.train(dict(SMALL), Memory(2, SMALL, scheduled, at={2: {"lr": 3e-3}}))  # type: ignore[arg-type]
    assert scheduled["states"]["optimizer"]["param_groups"][0]["lr"] == 3e-3
    assert fixed["states"]["optimizer"]["param_groups"][0]["lr"] == rl.DEFAULTS["lr"]


def test_an_unknown_environment_or_a_gpu_is_refused() -> None:
    with pytest.raises(PipelineError, match="env must be one of"):
        rl.rl_space("MountainCar-v0")
    with pytest.raises(PipelineError, match="CPU"):
        rl.train({**SMALL, "device": "cuda"}, Memory(1, SMALL, {}))  # type: ignore[arg-type]
