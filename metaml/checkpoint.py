"""Checkpoints of a trial: state dicts of the user's objects plus RNG states, written atomically."""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metaml.errors import TrialError

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass(frozen=True)
class CheckpointOwner:
    """Whose checkpoint this is: the study's identity (a UUID kept in its store row) and the trial.

    Written into every checkpoint and checked on restore, so that a study never loads the
    weights of another study that happened to share its artifacts folder.
    """

    study_uid: str | None
    trial: int


def save_checkpoint(directory: Path, step: float, objects: dict[str, Any], owner: CheckpointOwner | None = None) -> Path:
    """Write the state of ``objects`` at ``step``; a crash mid-write leaves the last good file."""
    import torch

    states: dict[str, Any] = {}
    for name, obj in objects.items():
        if not hasattr(obj, "state_dict"):
            raise TrialError(f"checkpoint({name}=...): {type(obj).__name__} has no state_dict()")
        states[name] = obj.state_dict()
    np_state: tuple[Any, ...] = tuple(np.random.get_state())
    payload: dict[str, Any] = {
        "step": float(step),
        "study_uid": None if owner is None else owner.study_uid,
        "trial": None if owner is None else owner.trial,
        "states": states,
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": (np_state[0], torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)), *np_state[2:]),
            "python": random.getstate(),
        },
    }
    if torch.cuda.is_initialized():  # the GPU's generators drive dropout and augmentation on the GPU
        payload["rng"]["cuda"] = torch.cuda.get_rng_state_all()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT_FILE
    tmp = directory / f".{CHECKPOINT_FILE}.{os.getpid()}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's payload; a truncated, empty or foreign file raises a TrialError naming it."""
    import torch

    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises many kinds (EOFError, RuntimeError, UnpicklingError, OSError)
        raise TrialError(
            f"the checkpoint {path} cannot be read ({type(exc).__name__}: {exc or 'empty or truncated file'}); "
            "delete it to train that trial from scratch"
        ) from None
    if not isinstance(payload, dict) or "step" not in payload or not isinstance(payload.get("states"), dict):
        raise TrialError(f"the checkpoint {path} is not a metaml checkpoint (no step and states in it)")
    return payload


def check_owner(path: Path, payload: dict[str, Any], owner: CheckpointOwner) -> None:
    """Refuse a checkpoint written by another study (or, for an identified study, by nobody known)."""
    if owner.study_uid is None:
        return  # a study made before identities existed: nothing to compare with
    found = payload.get("study_uid")
    if found != owner.study_uid:
        whose = f"study {found}" if found else "a study without an identity (an older metaml, or copied by hand)"
        raise TrialError(
            f"the checkpoint {path} belongs to {whose}, not to this study ({owner.study_uid}); it was not "
            "loaded. Each study keeps its checkpoints in its own folder: remove the file if it was "
            "copied there by hand"
        )


def load_checkpoint(
    path: Path, objects: dict[str, Any], owner: CheckpointOwner | None = None, max_step: float | None = None
) -> float:
    """Load a checkpoint into ``objects`` and restore the RNG states; return its step.

    With ``owner``, a checkpoint of another study is refused before anything is loaded; with
    ``max_step``, so is one that claims more training than the trial restoring it asks for.
    """
    import torch

    payload = read_checkpoint(path)
    if owner is not None:
        check_owner(path, payload, owner)
    step = payload["step"]
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or step < 0:
        raise TrialError(f"the checkpoint {path} claims the step {step!r}, which is not a step of training")
    if max_step is not None and step > max_step:
        raise TrialError(
            f"the checkpoint {path} is at step {step:g}, past the fidelity {max_step:g} of the trial restoring "
            "it; it was not loaded (delete it to train that trial from scratch)"
        )
    states = payload["states"]
    missing = [name for name in objects if name not in states]
    if missing:
        raise TrialError(
            f"the checkpoint {path} holds {sorted(states)}, not {missing}: pass the same names to "
            "checkpoint() and restore()"
        )
    for name, obj in objects.items():
        obj.load_state_dict(states[name])
    rng = payload.get("rng", {})
    if "torch" in rng:
        torch.set_rng_state(rng["torch"])
    if "numpy" in rng:
        kind, keys, *rest = rng["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(rng["cuda"])
    if "python" in rng:
        state = rng["python"]
        random.setstate((state[0], tuple(state[1]), state[2]))
    return float(payload["step"])
