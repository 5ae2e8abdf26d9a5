"""Restoring a finished trial's model from its checkpoint, to score it once on the test rows.

The final evaluation (``metaml.final_evaluation``) must score exactly the model the trial
validated, without training anything again. The pipelines' own training loop does that
when handed a ``CheckpointTrial``: it rebuilds the model, optimizer, schedule, SWA average,
lookahead and snapshots as training did, restores them all from the trial's last
checkpoint, trains no epoch (the checkpoint already holds the trial's fidelity) and returns
the model whose predictions counted (the SWA average, the snapshot ensemble).
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metaml.checkpoint import CHECKPOINT_FILE, CheckpointOwner, load_checkpoint
from metaml.core.trial_context import RunSettings
from metaml.pipelines.base import PROVENANCE_FILE, PipelineError
from metaml.pipelines.training import DEFAULT_EPOCHS


class MissingCheckpointError(PipelineError):
    """A trial's checkpoint is gone (e.g. its artifacts were deleted): its model cannot be scored."""


class CheckpointTrial:
    """A stand-in trial context that restores trial ``number``'s checkpoint and trains nothing.

    ``fidelity`` and ``max_fidelity`` are the trial's, so that every schedule is rebuilt on
    the same full length as in training; a checkpoint at another epoch is refused rather
    than trained further. It is a ``TrialContext`` that refuses to train: ``report`` and
    ``checkpoint`` raise, ``should_stop`` is always False.
    """

    #: No provenance file is written: this is not a new run.
    directory: Path | None = None
    #: A stand-in computes the metrics its trial recorded (``pipeline.json``), not the study's objectives.
    objective_names: tuple[str, ...] = ()

    def __init__(
        self,
        number: int,
        folder: Path,
        fidelity: float | None,
        max_fidelity: float | None,
        study_uid: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        run_settings: RunSettings | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        self.number = number
        self.config: Mapping[str, Any] = dict(config or {})
        self.owner = CheckpointOwner(study_uid, number)
        self.path = Path(folder) / CHECKPOINT_FILE
        self.fidelity = None if fidelity is None else int(fidelity)
        self.max_fidelity = None if max_fidelity is None else int(max_fidelity)
        #: The device and threads to score on (the study's execution settings at the evaluation).
        self.run_settings = run_settings or RunSettings()
        #: What the optimizer said of the trial (its ``info``), so the model is rebuilt as it was trained.
        self.info: Mapping[str, Any] = dict(info or {})
        self.step: float | None = None

    def require_checkpoint(self) -> None:
        """Raise ``MissingCheckpointError`` when the trial's checkpoint is gone."""
        if not self.path.exists():
            raise MissingCheckpointError(
                f"trial {self.number}: its checkpoint {self.path} is missing (were the study's artifacts "
                "deleted?), so its model cannot be scored on the test split"
            )

    def restore(self, **objects: Any) -> int:
        self.require_checkpoint()
        self.step = load_checkpoint(self.path, objects, self.owner)
        expected = int(self.fidelity or self.max_fidelity or DEFAULT_EPOCHS)
        if self.step != expected:
            raise PipelineError(
                f"trial {self.number}: its checkpoint {self.path} holds epoch {self.step:g}, not the {expected} "
                "it finished with; it cannot be scored on the test split"
            )
        return expected

    def check_data(self, provenance: Mapping[str, Any]) -> None:
        """Refuse to score on data other than the trial trained on (its ``pipeline.json`` says which).

        The splits are a function of the data's content: a file edited, or a dataset folder
        that gained or lost its official test images since the search, would move rows the
        model trained on into the test split. A trial without the record (older studies) is
        scored as before.
        """
        record = self.path.parent / PROVENANCE_FILE
        try:
            trained = json.loads(record.read_text()).get("data", {})
        except (OSError, ValueError):
            return
        before, now = trained.get("content_hash"), provenance.get("content_hash")
        if before and now and before != now:
            raise PipelineError(
                f"trial {self.number}: the data changed since it trained (content hash {before} then, {now} now), "
                "so its test split is not the one held out during the search; it is not scored. Put back the "
                "data it trained on (pipeline.json beside its checkpoint names its hash and split sizes), or "
                "run the study again on the new data"
            )

    def config_at(self, step: float) -> Mapping[str, Any]:
        """The trial's configuration: a stand-in trains no epoch, so no schedule applies."""
        return self.config

    def report(self, step: float, **metrics: Any) -> None:
        raise PipelineError(f"trial {self.number}: restoring a checkpoint must not train")

    def checkpoint(self, step: float, **objects: Any) -> None:
        raise PipelineError(f"trial {self.number}: restoring a checkpoint must not write one")

    def should_stop(self) -> bool:
        return False


@contextlib.contextmanager
def kept_random_state() -> Iterator[None]:
    """Run a block that restores checkpoints (which set the global RNGs), then put the caller's states back."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
