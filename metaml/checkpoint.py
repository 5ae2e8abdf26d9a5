"""Checkpoints of a trial: state dicts of the user's objects plus RNG states, written atomically."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np

from metaml.errors import TrialError

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(directory: Path, step: float, objects: dict[str, Any]) -> Path:
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


def load_checkpoint(path: Path, objects: dict[str, Any]) -> float:
    """Load a checkpoint into ``objects`` and restore the RNG states; return its step."""
    import torch

    payload = torch.load(path, weights_only=True, map_location="cpu")
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
