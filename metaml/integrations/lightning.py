"""PyTorch Lightning: a callback that reports, checkpoints and stops a Lightning run through its metaml trial.

.. code-block:: python

    from metaml.integrations.lightning import MetamlCallback

    def train(config, trial):
        model = MyLightningModule(config)
        callback = MetamlCallback(trial)
        trainer = lightning.pytorch.Trainer(max_epochs=trial.fidelity, callbacks=[callback], ...)
        trainer.fit(model, datamodule, ckpt_path=callback.restore())
        return callback.metrics

After every validation epoch the callback reports the metrics logged so far
(``trainer.callback_metrics``) as one point of the trial's learning curve, at step
``epoch + 1``; saves the whole Lightning state (weights, optimizers, schedulers, loop
counters, callbacks) through ``trial.checkpoint``; and, when the scheduler wants the trial
to stop (``trial.should_stop()``) or the trial reached its fidelity, sets
``trainer.should_stop``.

``callback.restore()`` loads the trial's latest checkpoint, its own or that of the trial it
continues (a promotion), and returns the path to hand to ``trainer.fit(ckpt_path=...)``:
Lightning then resumes exactly where that run stopped, and the promotion pays only the
extra epochs. The random number generators are part of the checkpoint and are put back
when the resumed fit's first epoch starts, so with a schedule defined on
``trial.max_fidelity`` training to 3 epochs and continuing to 9 gives bitwise the weights,
optimizer state and curve of training to 9 directly, data shuffling and dropout included
(``tests/integrations/test_lightning.py`` holds it for the Lightning release installed).
The Lightning state must load with ``torch.load(weights_only=True)``, as every metaml
checkpoint does: keep ``save_hyperparameters()`` to plain values.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metaml.core.trial_context import TrialContext
from metaml.errors import TrialError
from metaml.integrations.base import finite_metrics, require

_pl = require("lightning.pytorch", "lightning", "metaml.integrations.lightning")

#: The name of the Lightning state inside the trial's metaml checkpoint.
STATE_NAME = "lightning"


class _LightningState:
    """The Lightning checkpoint (a dict) and the last metrics, as an object metaml's checkpoints can hold."""

    def __init__(self, checkpoint: dict[str, Any] | None = None, metrics: dict[str, float] | None = None) -> None:
        self.checkpoint = checkpoint
        self.metrics = dict(metrics or {})

    def state_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "metrics": self.metrics}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.checkpoint = state.get("checkpoint")
        self.metrics = dict(state.get("metrics") or {})


class MetamlCallback(_pl.Callback):  # type: ignore[misc,name-defined]
    """A Lightning callback that makes a ``Trainer.fit`` one run of a metaml trial.

    ``metrics`` names the logged metrics to report (default: every scalar in
    ``trainer.callback_metrics``); the study's objectives must be among them, or be added by
    the training function to what it returns. ``checkpoint=False`` reports and stops but saves
    nothing, so a promotion then trains from scratch (and is charged for it).
    """

    def __init__(self, trial: TrialContext, metrics: Sequence[str] | None = None, checkpoint: bool = True) -> None:
        super().__init__()
        self.trial = trial
        self.names = None if metrics is None else tuple(metrics)
        self.save = checkpoint
        self._restored = False
        self._resume_rng: dict[str, Any] | None = None
        self._scratch: Path | None = None
        self._last: dict[str, float] = {}

    # ------------------------------------------------------------ restoring
    def restore(self) -> str | None:
        """Load the trial's latest checkpoint; the path to pass as ``trainer.fit(..., ckpt_path=...)`` (None: fresh).

        The random number generators of the checkpointed run come back when the resumed fit's
        first epoch starts, so whatever draws from them before (building the model, ``setup``)
        changes nothing.
        """
        self._restored = True
        if not self.save:
            return None
        holder = _LightningState()
        step = self.trial.restore(**{STATE_NAME: holder})
        if step == 0 or holder.checkpoint is None:
            return None
        self._last = dict(holder.metrics)
        self._resume_rng = _rng_state()
        self._scratch = Path(tempfile.mkdtemp(prefix="metaml-lightning-"))
        path = self._scratch / "resume.ckpt"
        torch.save(holder.checkpoint, path)
        return str(path)

    @property
    def metrics(self) -> dict[str, float]:
        """The last metrics reported (those of the checkpoint restored when nothing was left to train)."""
        return dict(self._last)

    # ---------------------------------------------------------------- hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not self._restored:
            raise TrialError(
                f"trial {self.trial.number}: MetamlCallback.restore() was not called; pass its result to "
                "trainer.fit(..., ckpt_path=callback.restore()) so that a promoted trial continues its parent's run"
            )

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self._resume_rng is not None:
            # Lightning restores weights, optimizers and loops but not the generators, and a resumed fit draws
            # from them before its first epoch starts (the model's setup, an extra data loader iterator) where
            # an uninterrupted run does not: the first epoch starts from the checkpoint's generators instead.
            _set_rng_state(self._resume_rng)
            self._resume_rng = None

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":  # not the sanity check, nor trainer.validate()
            return
        step = trainer.current_epoch + 1
        metrics = self._collect(trainer)
        if self.save:
            state = self._lightning_state(trainer)  # every rank takes part in a Lightning save
        if not trainer.is_global_zero:
            return
        if not metrics:
            raise TrialError(
                f"trial {self.trial.number}: nothing to report at epoch {step}: log a metric in validation_step "
                "(self.log('val_error', ...))" + (f" named one of {list(self.names)}" if self.names else "")
            )
        self._last = metrics
        self.trial.report(step, **metrics)
        if self.save:
            self.trial.checkpoint(step, **{STATE_NAME: _LightningState(state, metrics)})
        fidelity = self.trial.fidelity
        if (fidelity is not None and step >= fidelity) or self.trial.should_stop():
            trainer.should_stop = True

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -------------------------------------------------------------- helpers
    def _collect(self, trainer: Any) -> dict[str, float]:
        logged = {}
        for name, value in trainer.callback_metrics.items():
            if self.names is not None and name not in self.names:
                continue
            if hasattr(value, "numel") and value.numel() == 1:
                value = value.item()
            logged[name] = value
        return finite_metrics(logged)

    def _lightning_state(self, trainer: Any) -> dict[str, Any]:
        """The trainer's full checkpoint, as Lightning writes it, loaded back as the dict metaml stores."""
        scratch = Path(tempfile.mkdtemp(prefix="metaml-lightning-"))
        try:
            path = scratch / "state.ckpt"
            trainer.save_checkpoint(path, weights_only=False)
            try:
                # the same check metaml's restore makes later: fail now, where the cause is plain
                return dict(torch.load(path, map_location="cpu", weights_only=True))
            except Exception as exc:
                raise TrialError(
                    f"trial {self.trial.number}: the Lightning checkpoint holds objects that torch.load(weights_only=True) "
                    f"refuses ({type(exc).__name__}); keep save_hyperparameters() to plain values (numbers, text, "
                    "lists, dicts)"
                ) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


__all__ = ["STATE_NAME", "MetamlCallback"]
