"""Which GPUs a local worker may see: the machine's devices, packed ``gpus_per_trial`` at a time.

A worker is given its ``CUDA_VISIBLE_DEVICES`` before it imports torch, so a trial simply
trains on ``cuda`` and lands on its own GPU (or its share of one), as Ray's executor does
with ``num_gpus``. ``METAML_GPU_DEVICES`` (a comma list) stands in for the machine's devices,
so that the assignment can be tested and used on a machine without GPUs.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess

from metaml.errors import MetamlError

#: A comma list of device ids that replaces the discovered ones (tests; hand-picked GPUs).
DEVICES_ENV = "METAML_GPU_DEVICES"


def check_gpus_per_trial(value: object) -> None:
    """Raise unless ``value`` is a share of one GPU (0 < v <= 1) or a whole number of GPUs."""
    if value is None:
        return
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if number is None or number <= 0 or (number > 1 and float(number) != int(number)):
        raise MetamlError(
            f"gpus_per_trial must be a share of one GPU (0 < x <= 1, e.g. 0.5 packs two trials on a GPU) "
            f"or a whole number of GPUs, got {value!r}"
        )


def discover_devices() -> list[str]:
    """The GPU ids this process may use: METAML_GPU_DEVICES, else CUDA_VISIBLE_DEVICES, else nvidia-smi or torch."""
    for name in (DEVICES_ENV, "CUDA_VISIBLE_DEVICES"):
        listed = os.environ.get(name)
        if listed is not None:
            return [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout  # fmt: skip
            return [line.strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        import torch
    except ImportError:
        return []
    return [str(i) for i in range(torch.cuda.device_count())]


def gpu_slots(gpus_per_trial: float, workers: int, devices: list[str]) -> list[str]:
    """One ``CUDA_VISIBLE_DEVICES`` value per worker: whole GPUs in groups, shares packed ``1 // share`` to a GPU.

    At most as many workers run at once as the devices hold (2 GPUs at 0.5 each: 4); more is a
    clear error rather than trials that silently share or queue.
    """
    check_gpus_per_trial(gpus_per_trial)
    if not devices:
        raise MetamlError(
            f"gpus_per_trial is {gpus_per_trial:g} but this machine has no GPU (nvidia-smi and torch find none, "
            f"or CUDA_VISIBLE_DEVICES is empty); remove gpus_per_trial or run on a GPU machine"
        )
    if gpus_per_trial <= 1:
        # spread first: worker i goes to the i-th device before any device gets a second trial
        per_gpu = max(1, math.floor(1 / gpus_per_trial + 1e-9))
        slots = [devices[i % len(devices)] for i in range(len(devices) * per_gpu)]
    else:
        size = int(gpus_per_trial)
        slots = [",".join(devices[i:i + size]) for i in range(0, len(devices) - size + 1, size)]
    if workers > len(slots):
        raise MetamlError(
            f"workers={workers} with gpus_per_trial={gpus_per_trial:g} needs more GPUs than the {len(devices)} present "
            f"({', '.join(devices)}): at most {len(slots)} workers fit; lower workers or gpus_per_trial"
        )
    return slots[:workers]


def usable_devices(wanted: list[str] | None, present: list[str]) -> list[str]:
    """The ``gpu_devices`` setting checked against the machine (all present ones when it is None)."""
    if wanted is None:
        return present
    wanted = [str(d) for d in wanted]
    if len(wanted) > len(present) or any(d not in present for d in wanted):
        raise MetamlError(
            f"gpu_devices lists GPUs {', '.join(wanted)} but this machine has {len(present)} "
            f"({', '.join(present) or 'none'}); list only devices that are present"
        )
    return wanted
