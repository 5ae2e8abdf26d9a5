"""A PyTorch Lightning module tuned by metaml: an MLP on scikit-learn's digits (``lightning_digits.yaml``).

The training function is ordinary Lightning code plus ``MetamlCallback``: it reports the
validation error after every epoch, checkpoints the whole Lightning state through the trial,
and stops when the scheduler says so. ``trainer.fit(..., ckpt_path=callback.restore())``
makes a promoted trial continue its parent's run, so it pays only the extra epochs. The
learning-rate schedule is defined on ``trial.max_fidelity`` (the full run), which makes a
short run a prefix of the full one. Needs ``pip install 'metaml[lightning]'``.
"""

from __future__ import annotations

import logging
import warnings
from functools import lru_cache

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import metaml
from metaml.integrations.lightning import MetamlCallback

SEED = 0


@lru_cache(maxsize=1)
def datasets() -> tuple[TensorDataset, TensorDataset]:
    """Digits, split 80/20 (train/validation) with a fixed seed, standardized on the training part."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    as_x = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)  # noqa: E731
    return TensorDataset(as_x(x_tr), torch.tensor(y_tr)), TensorDataset(as_x(x_va), torch.tensor(y_va))


class DigitsMLP(pl.LightningModule):
    """An MLP whose width, depth, dropout and optimizer come from the configuration."""

    def __init__(self, config: dict, full_epochs: int) -> None:
        super().__init__()
        self.config = config
        self.full_epochs = full_epochs
        layers: list[nn.Module] = []
        width_in = 64
        for _ in range(config["depth"]):
            layers += [nn.Linear(width_in, config["width"]), nn.ReLU(), nn.Dropout(config["dropout"])]
            width_in = config["width"]
        layers.append(nn.Linear(width_in, 10))
        self.net = nn.Sequential(*layers)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
        x, y = batch
        self.log("val_error", (self.net(x).argmax(1) != y).float().mean())

    def configure_optimizers(self) -> dict:
        c = self.config
        if c["optimizer"] == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                self.parameters(), lr=c["lr"], momentum=c["optimizer.sgd.momentum"], weight_decay=c["weight_decay"]
            )
        else:
            opt = torch.optim.AdamW(self.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
        # Cosine decay over the FULL length: training to 3 epochs is the first 3 epochs of the full run.
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.full_epochs)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}


def train(config: dict, trial: metaml.Trial) -> dict:
    torch.set_num_threads(1)  # tiny models train faster on one thread, and two trials can share the cores
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")  # Lightning's own use of a torch API torch deprecated
    train_set, val_set = datasets()
    torch.manual_seed(SEED)
    model = DigitsMLP(config, full_epochs=int(trial.max_fidelity or trial.fidelity))
    callback = MetamlCallback(trial)
    trainer = pl.Trainer(
        max_epochs=int(trial.fidelity), callbacks=[callback], accelerator="cpu", devices=1, deterministic=True,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    loaders = (DataLoader(train_set, batch_size=config["batch_size"], shuffle=True), DataLoader(val_set, batch_size=512))
    trainer.fit(model, *loaders, ckpt_path=callback.restore())
    metrics = callback.metrics
    return {"val_error": metrics["val_error"], "n_params": sum(p.numel() for p in model.parameters())}
