"""Check GPUs per worker on a real GPU machine: 2 local workers at gpus_per_trial 0.5.

Run from the repository root: ``PYTHONPATH=$PWD python benchmarks/gpu_check.py``. Each trial
trains a tiny torch model on ``cuda`` and records what its worker process saw; the script
asserts that every trial ran on CUDA and prints the device each worker was given.
"""

from __future__ import annotations

import os
import sys
import tempfile

from metaml import Study, Trial
from metaml.space import Float


def cuda_trial(config: dict, trial: Trial) -> dict:
    """Trains a few steps on cuda; returns the loss, whether it ran on cuda, and what the worker saw."""
    import torch

    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    device = torch.device("cuda")
    x = torch.randn(256, 8, device=device)
    w = torch.zeros(8, 1, device=device, requires_grad=True)
    opt = torch.optim.SGD([w], lr=config["lr"])
    for _ in range(20):
        opt.zero_grad()
        loss = ((x @ w - 1.0) ** 2).mean()
        loss.backward()
        opt.step()
    return {
        "loss": float(loss), "on_cuda": float(loss.is_cuda), "gpu": float(visible.split(",")[0]),
        "pid": float(os.getpid()), "devices_seen": float(torch.cuda.device_count()),
    }


def main() -> int:
    from benchmarks import gpu_check  # the workers import the trial function by its module's name, not __main__

    with tempfile.TemporaryDirectory() as tmp:
        study = Study.create("gpu_check", {"lr": Float(0.01, 0.5, log=True)}, ["loss"],
                             store=os.path.join(tmp, "gpu.db"), seed=0)  # fmt: skip
        study.optimize(gpu_check.cuda_trial, budget=6, settings={"workers": 2, "gpus_per_trial": 0.5})
        trials = study.trials()
        for t in trials:
            m = t.metrics or {}
            print(f"trial {t.number}: {t.status.value} worker pid {m.get('pid', float('nan')):.0f} "
                  f"CUDA_VISIBLE_DEVICES={m.get('gpu', float('nan')):.0f} "
                  f"devices seen {m.get('devices_seen', float('nan')):.0f} on_cuda={m.get('on_cuda')}")  # fmt: skip
        assert len(trials) == 6 and all((t.metrics or {}).get("on_cuda") == 1.0 for t in trials), "a trial did not run on cuda"
        assert all((t.metrics or {}).get("devices_seen") == 1.0 for t in trials), "a worker saw more than its one GPU"
        workers = {(t.metrics or {})["pid"]: (t.metrics or {})["gpu"] for t in trials}
        print(f"ok: {len(workers)} worker processes, GPU per worker: {workers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
