"""The reinforcement-learning pipeline: PPO on Gymnasium's classic-control tasks (``pip install 'metaml[rl]'``).

Environments that need no download (``CartPole-v1``, ``Acrobot-v1``); a small PPO agent
(``metaml.pipelines.rl_agent``) whose architecture (hidden width, layers, activation) and
training hyperparameters are one search space, as SEARL searches them jointly. The fidelity
``units`` counts rollouts of ``steps_per_unit`` environment steps each, so a fidelity is a
prefix of the run and a scheduler (or a PBT exploit) continues an agent from its checkpoint.
The learning rate, discount, GAE lambda, clipping range, entropy weight and update epochs are
schedulable: each unit reads the values in force (``trial.config_at``). Metrics: ``mean_return``
(the greedy policy over ``eval_episodes`` seeded episodes, the same ones for every trial),
``env_steps`` (the sample cost: environment steps trained, from the start of the lineage) and
``n_parameters`` (the policy's size).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from metaml.core.trial_context import TrialContext
from metaml.pipelines import base
from metaml.pipelines.base import PipelineError, PipelineSpec
from metaml.pipelines.rl_agent import ACTIVATIONS, ActorCritic, collect, evaluate_policy, update
from metaml.pipelines.training import stream_seed, torch_threads
from metaml.space import Categorical, Fidelity, Float, Int, Parameter

ENVIRONMENTS = ("CartPole-v1", "Acrobot-v1")
SETTINGS = ("env", "seed", "steps_per_unit", "n_envs", "eval_episodes", "threads", "device")
SCHEDULABLE = ("lr", "gamma", "gae_lambda", "clip", "entropy_coef", "update_epochs")

DEFAULTS: dict[str, Any] = {
    "hidden": 64,
    "layers": 2,
    "activation": "tanh",
    "lr": 3e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip": 0.2,
    "entropy_coef": 0.0,
    "update_epochs": 4,
    "minibatch": 256,
}


def rl_space(
    env: str = "CartPole-v1",
    *,
    seed: int = 0,
    steps_per_unit: int = 2048,
    n_envs: int = 4,
    eval_episodes: int = 10,
    threads: int | None = 1,
    device: str = "cpu",
    units: int = 50,
) -> dict[str, Parameter]:
    """The PPO space on ``env``: settings as constants, architecture and training jointly, ``units`` the fidelity."""
    if env not in ENVIRONMENTS:
        raise PipelineError(f"rl pipeline: env must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    settings = {"env": env, "seed": seed, "steps_per_unit": steps_per_unit, "n_envs": n_envs,
                "eval_episodes": eval_episodes, "threads": threads, "device": device}  # fmt: skip
    searched: dict[str, Parameter] = {
        "hidden": Int(16, 256, log=True, structural=True),
        "layers": Int(1, 3, structural=True),
        "activation": Categorical(list(ACTIVATIONS)),
        "lr": Float(1e-5, 3e-3, log=True, schedulable=True),
        "gamma": Float(0.9, 0.999, schedulable=True),
        "gae_lambda": Float(0.8, 1.0, schedulable=True),
        "clip": Float(0.05, 0.4, schedulable=True),
        "entropy_coef": Float(0.0, 0.05, schedulable=True),
        "update_epochs": Int(1, 10, schedulable=True),
        "minibatch": Int(32, 1024, log=True),
    }
    return {**base.settings_parameters(settings), **searched, "units": Fidelity(1, units)}


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` completed with the defaults and checked against the whole RL space."""
    return base.resolve_config("rl", config, rl_space, DEFAULTS, SETTINGS)


def _make_env(name: str) -> Any:
    try:
        import gymnasium
    except ImportError:
        raise PipelineError("the rl pipeline needs Gymnasium: pip install 'metaml[rl]'") from None
    return gymnasium.make(name)


def train(config: dict[str, Any], trial: TrialContext) -> dict[str, float]:
    """Train the PPO agent up to ``trial.fidelity`` units of environment steps; return its metrics."""
    cfg = base.with_run_settings(resolve(config), trial)
    if cfg["device"] not in (None, "auto", "cpu"):
        raise PipelineError("the rl pipeline trains on the CPU (its networks are tiny): set device: cpu")
    seed, fidelity = int(cfg["seed"]), int(trial.fidelity or trial.max_fidelity or 1)
    with torch_threads(cfg["threads"]):
        envs = [_make_env(cfg["env"]) for _ in range(int(cfg["n_envs"]))]
        obs_dim, n_actions = envs[0].observation_space.shape[0], int(envs[0].action_space.n)
        with torch.random.fork_rng():
            torch.manual_seed(stream_seed(seed, 0))
            model = ActorCritic(obs_dim, n_actions, int(cfg["hidden"]), int(cfg["layers"]), str(cfg["activation"]))
        optimizer = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]), eps=1e-5)
        start = int(trial.restore(model=model, optimizer=optimizer))
        base.write_provenance(trial, "rl", cfg, {"env": cfg["env"]}, ["mean_return", "env_steps", "n_parameters"])
        steps = int(cfg["steps_per_unit"])
        for unit in range(start + 1, fidelity + 1):
            values = {**cfg, **{k: v for k, v in trial.config_at(unit).items() if k in SCHEDULABLE}}
            unit_seed = stream_seed(seed, unit)
            with torch.random.fork_rng():
                torch.manual_seed(unit_seed)
                batch = collect(envs, model, steps, float(values["gamma"]), float(values["gae_lambda"]), unit_seed)
                loss = update(model, optimizer, batch, values, unit_seed)
            point: dict[str, float] = {"loss": loss, "env_steps": float(unit * len(batch.actions))}
            if batch.episode_returns:
                point["train_return"] = float(sum(batch.episode_returns) / len(batch.episode_returns))
            trial.report(unit, **point)
            trial.checkpoint(unit, model=model, optimizer=optimizer)
            if trial.should_stop():
                fidelity = unit
                break
        mean_return = evaluate_policy(_make_env(cfg["env"]), model, int(cfg["eval_episodes"]), stream_seed(seed, 10**6))
        per_unit = max(1, steps // int(cfg["n_envs"])) * int(cfg["n_envs"])
        return {
            "mean_return": mean_return,
            "env_steps": float(fidelity * per_unit),
            "n_parameters": float(sum(p.numel() for p in model.actor.parameters())),
        }


SPEC = PipelineSpec(name="rl", space=rl_space, defaults=DEFAULTS, settings=SETTINGS, train=train)
