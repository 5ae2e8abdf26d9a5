"""A small PPO agent (Schulman et al. 2017) on PyTorch: actor-critic network, seeded rollouts, clipped updates.

Every unit of the fidelity is one rollout of ``steps`` environment steps followed by the
PPO update on it. A rollout starts its episodes afresh, seeded by (seed, unit), and each
unit draws its actions and minibatch order from generators seeded the same way, so that a
run is a function of its configuration and the unit alone: training to unit f and
continuing to f' (model and optimizer from the checkpoint) gives what training to f'
directly gives (the fidelity is a prefix of the run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


class ActorCritic(nn.Module):
    """Two MLPs of the same shape: the policy's logits and the state's value."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int, layers: int, activation: str) -> None:
        super().__init__()

        def mlp(out: int) -> nn.Sequential:
            parts: list[nn.Module] = []
            width = obs_dim
            for _ in range(layers):
                parts += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
                width = hidden
            parts.append(nn.Linear(width, out))
            return nn.Sequential(*parts)

        self.actor, self.critic = mlp(n_actions), mlp(1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), self.critic(obs).squeeze(-1)


@dataclass
class Rollout:
    """What one unit collected: observations, actions, their log-probabilities, advantages and returns."""

    obs: torch.Tensor
    actions: torch.Tensor
    logp: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    episode_returns: list[float]


def collect(envs: Sequence[Any], model: ActorCritic, steps: int, gamma: float, lam: float, seed: int) -> Rollout:
    """``steps`` environment steps spread over ``envs`` (each reset afresh), with GAE(lambda) advantages."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    n = len(envs)
    obs = np.stack([env.reset(seed=int(rng.integers(2**31)))[0] for env in envs]).astype(np.float32)
    running = np.zeros(n)
    per_env = max(1, steps // n)
    buf_obs, buf_act, buf_logp, buf_rew, buf_done, buf_val = [], [], [], [], [], []
    finished: list[float] = []
    for _ in range(per_env):
        x = torch.tensor(obs)  # a copy: obs is written in place below
        with torch.no_grad():
            logits, value = model(x)
        probs = torch.softmax(logits, -1)
        action = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        buf_obs.append(x)
        buf_act.append(action)
        buf_logp.append(torch.log(probs.gather(-1, action[:, None]).squeeze(-1).clamp_min(1e-12)))
        buf_val.append(value)
        rewards, dones = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
        for i, env in enumerate(envs):
            o, r, terminated, truncated, _ = env.step(int(action[i]))
            running[i] += r
            rewards[i] = r
            if terminated or truncated:  # a time limit is treated as the end of the episode
                dones[i] = 1.0
                finished.append(float(running[i]))
                running[i] = 0.0
                o, _ = env.reset(seed=int(rng.integers(2**31)))
            obs[i] = o
        buf_rew.append(torch.from_numpy(rewards))
        buf_done.append(torch.from_numpy(dones))
    with torch.no_grad():
        _, last = model(torch.from_numpy(obs))
    advantages = torch.zeros(per_env, n)
    gae = torch.zeros(n)
    for t in reversed(range(per_env)):
        following = last if t == per_env - 1 else buf_val[t + 1]
        alive = 1.0 - buf_done[t]
        delta = buf_rew[t] + gamma * following * alive - buf_val[t]
        gae = delta + gamma * lam * alive * gae
        advantages[t] = gae
    values = torch.stack(buf_val)
    return Rollout(
        obs=torch.stack(buf_obs).reshape(per_env * n, -1), actions=torch.stack(buf_act).reshape(-1),
        logp=torch.stack(buf_logp).reshape(-1), advantages=advantages.reshape(-1),
        returns=(advantages + values).reshape(-1), episode_returns=finished,
    )  # fmt: skip


def update(model: ActorCritic, optimizer: torch.optim.Optimizer, batch: Rollout, cfg: Mapping[str, Any], seed: int) -> float:
    """The clipped PPO update over ``update_epochs`` passes of shuffled minibatches; the last loss."""
    generator = torch.Generator().manual_seed(seed)
    for group in optimizer.param_groups:  # the value in force this unit (a schedule, or a PBT exploit's)
        group["lr"] = float(cfg["lr"])
    adv = (batch.advantages - batch.advantages.mean()) / (batch.advantages.std() + 1e-8)
    size = len(adv)
    minibatch = min(int(cfg["minibatch"]), size)
    clip, ent, loss_value = float(cfg["clip"]), float(cfg["entropy_coef"]), 0.0
    for _ in range(int(cfg["update_epochs"])):
        order = torch.randperm(size, generator=generator)
        for start in range(0, size - minibatch + 1, minibatch):
            idx = order[start : start + minibatch]
            logits, value = model(batch.obs[idx])
            logp_all = torch.log_softmax(logits, -1)
            logp = logp_all.gather(-1, batch.actions[idx, None]).squeeze(-1)
            ratio = torch.exp(logp - batch.logp[idx])
            policy = -torch.min(ratio * adv[idx], torch.clamp(ratio, 1 - clip, 1 + clip) * adv[idx]).mean()
            entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
            loss = policy + 0.5 * ((batch.returns[idx] - value) ** 2).mean() - ent * entropy
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            loss_value = float(loss.detach())
    return loss_value


def evaluate_policy(env: Any, model: ActorCritic, episodes: int, seed: int) -> float:
    """The mean return of the greedy policy over ``episodes`` episodes seeded from ``seed`` alone."""
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(episodes):
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        done, ret = False, 0.0
        while not done:
            with torch.no_grad():
                logits, _ = model(torch.as_tensor(obs, dtype=torch.float32)[None])
            obs, r, terminated, truncated, _ = env.step(int(torch.argmax(logits, -1)))
            ret += float(r)
            done = bool(terminated or truncated)
        total += ret
    return total / max(1, episodes)
