"""The quickstart's training function: an MLP on scikit-learn's bundled digits.

It shows the trial contract: restore (so a promoted trial continues), train up to
``trial.fidelity`` epochs with a schedule defined on the full length (so a fidelity is a
prefix of the full run), report and checkpoint every epoch, return the objectives.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import metaml

SEED = 0


@lru_cache(maxsize=1)
def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Digits, split 80/20 (train/validation) with a fixed seed, standardized on the training part."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    as_x = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)  # noqa: E731
    return as_x(x_tr), torch.tensor(y_tr), as_x(x_va), torch.tensor(y_va)


def build(config: dict) -> nn.Module:
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[config["activation"]]
    layers: list[nn.Module] = []
    width_in = 64
    for _ in range(config["depth"]):
        layers += [nn.Linear(width_in, config["width"]), act(), nn.Dropout(config["dropout"])]
        width_in = config["width"]
    layers.append(nn.Linear(width_in, 10))
    return nn.Sequential(*layers)


def make_optimizer(config: dict, model: nn.Module) -> torch.optim.Optimizer:
    if config["optimizer"] == "sgd":
        momentum = config["optimizer.sgd.momentum"]
        return torch.optim.SGD(
            model.parameters(), lr=config["lr"], momentum=momentum,
            nesterov=bool(config["optimizer.sgd.nesterov"]) and momentum > 0, weight_decay=config["weight_decay"],
        )
    return torch.optim.AdamW(
        model.parameters(), lr=config["lr"], betas=(config["optimizer.adam.beta1"], 0.999),
        weight_decay=config["weight_decay"],
    )


def train(config: dict, trial: metaml.Trial) -> dict:
    torch.set_num_threads(1)  # tiny models train faster on one thread, and two trials can share the cores
    x_tr, y_tr, x_va, y_va = data()
    torch.manual_seed(SEED)
    model = build(config)
    opt = make_optimizer(config, model)
    full = trial.max_fidelity or trial.fidelity
    # Cosine decay over the FULL length: training to 5 epochs is the first 5 epochs of the full run.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=full)
    start = trial.restore(model=model, optimizer=opt, scheduler=sched)
    loss_fn = nn.CrossEntropyLoss()
    err = float("nan")
    for epoch in range(start, trial.fidelity):
        torch.manual_seed(SEED * 1000 + epoch)  # dropout and shuffling depend on the epoch only
        order = torch.randperm(len(x_tr))
        model.train()
        for i in range(0, len(order), config["batch_size"]):
            idx = order[i : i + config["batch_size"]]
            opt.zero_grad()
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
        sched.step()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the training loss diverged at epoch {epoch + 1}")
        model.eval()
        with torch.no_grad():
            err = float((model(x_va).argmax(1) != y_va).float().mean())
        trial.report(epoch + 1, val_error=err)
        trial.checkpoint(epoch + 1, model=model, optimizer=opt, scheduler=sched)
        if trial.should_stop():
            break
    if np.isnan(err):  # nothing left to train: evaluate the restored model
        model.eval()
        with torch.no_grad():
            err = float((model(x_va).argmax(1) != y_va).float().mean())
    return {"val_error": err, "n_params": sum(p.numel() for p in model.parameters())}
