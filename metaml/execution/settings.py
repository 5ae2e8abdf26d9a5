"""How trials are executed: workers, timeouts, memory, retries, heartbeats, Ray resources, device and threads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from metaml.core.trial_context import RunSettings
from metaml.errors import MetamlError
from metaml.execution.gpus import check_gpus_per_trial

EXECUTORS = ("inline", "local", "ray")


@dataclass(frozen=True)
class ExecutionSettings:
    """Where and how trials run; every field has a sound default.

    ``executor`` is ``inline`` (this process), ``local`` (spawned worker processes on this
    machine) or ``ray`` (Ray tasks). ``auto`` picks ``local`` when more than one worker, a
    timeout or a memory limit is asked for (those need a process to kill), else ``inline``.

    The failure policy: the study stops proposing once ``max_failures`` trials in a row have
    failed (None: never), or at the first failure with ``fail_fast``; ``metaml run`` then
    exits non-zero and shows the first traceback.

    ``device`` and ``threads`` are the run settings each trial gets (``trial.run_settings``):
    where and on how many torch threads the built-in pipelines train. They are not part of
    the search space, so a study may be resumed with other ones. None leaves the choice to
    the training function (a built-in pipeline then reads its space's setting, else ``auto``).

    ``gpus_per_trial`` gives each local worker its own ``CUDA_VISIBLE_DEVICES`` (a share below 1
    packs several workers on one GPU: 0.5 puts two on each); Ray gets it as ``num_gpus``. The
    devices are the machine's (``gpu_devices`` picks some of them), and they bound how many
    local workers may run at once. Set, it makes ``auto`` choose ``local`` and ``device`` ``cuda``.
    """

    executor: str = "auto"
    workers: int = 1
    timeout: float | None = None
    memory_mb: float | None = None
    retries: int = 2
    heartbeat: float = 5.0
    stale_after: float = 60.0
    cpus: float = 1.0
    gpus: float = 0.0
    ray_address: str | None = None
    max_failures: int | None = 10
    fail_fast: bool = False
    device: str | None = None
    threads: int | None = None
    gpus_per_trial: float | None = None
    gpu_devices: list[str] | None = None

    def __post_init__(self) -> None:
        if self.executor not in (*EXECUTORS, "auto"):
            raise MetamlError(f"executor must be one of auto, {', '.join(EXECUTORS)}, not {self.executor!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise MetamlError(f"workers must be a whole number >= 1, got {self.workers!r}")
        for name in ("timeout", "memory_mb"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0):
                raise MetamlError(f"{name} must be a positive number of {'seconds' if name == 'timeout' else 'MB'}, got {value!r}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise MetamlError(f"retries must be a whole number >= 0, got {self.retries!r}")
        for name in ("heartbeat", "stale_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise MetamlError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.stale_after <= self.heartbeat:
            raise MetamlError(f"stale_after ({self.stale_after} s) must exceed heartbeat ({self.heartbeat} s)")
        if self.max_failures is not None and (
            isinstance(self.max_failures, bool) or not isinstance(self.max_failures, int) or self.max_failures < 1
        ):
            raise MetamlError(f"max_failures must be a whole number >= 1 (or null for no limit), got {self.max_failures!r}")
        if not isinstance(self.fail_fast, bool):
            raise MetamlError(f"fail_fast must be true or false, got {self.fail_fast!r}")
        for name in ("cpus", "gpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise MetamlError(f"{name} must be a number >= 0, got {value!r}")
        if self.device is not None and (not isinstance(self.device, str) or not self.device.strip()):
            raise MetamlError(f"device must be a device name (auto, cpu, cuda, cuda:1, mps), got {self.device!r}")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise MetamlError(f"threads must be a whole number >= 1 (or null for torch's default), got {self.threads!r}")

        check_gpus_per_trial(self.gpus_per_trial)
        if self.gpu_devices is not None and (
            not isinstance(self.gpu_devices, (list, tuple)) or not self.gpu_devices
            or any(isinstance(d, bool) or not isinstance(d, (int, str)) for d in self.gpu_devices)
        ):
            raise MetamlError(f"gpu_devices must be a list of GPU ids such as [0, 1], got {self.gpu_devices!r}")

    @property
    def resolved_executor(self) -> str:
        if self.executor != "auto":
            return self.executor
        needs_process = (self.workers > 1 or self.timeout is not None or self.memory_mb is not None
                         or self.gpus_per_trial is not None)
        return "local" if needs_process else "inline"

    @property
    def run_settings(self) -> RunSettings:
        """What each trial is told about how to train here (device, threads)."""
        device = "cuda" if self.device is None and self.gpus_per_trial is not None else self.device
        return RunSettings(device=device, threads=self.threads)

    @property
    def ray_gpus(self) -> float:
        """GPUs per Ray task: ``gpus_per_trial`` when set, else the older ``gpus``."""
        return self.gpus if self.gpus_per_trial is None else float(self.gpus_per_trial)

    @property
    def failure_limit(self) -> int | None:
        """Failures in a row after which the study stops proposing (1 with ``fail_fast``)."""
        return 1 if self.fail_fast else self.max_failures

    def with_overrides(self, **changes: Any) -> ExecutionSettings:
        """A copy with the given fields replaced (None means: keep ours)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ExecutionSettings:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise MetamlError(f"execution must be a mapping of settings, got {data!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise MetamlError(f"unknown execution settings {unknown}; known: {', '.join(sorted(known))}")
        return cls(**dict(data))
