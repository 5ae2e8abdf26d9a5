"""What a model costs to run and to train: latency, parameter count, size, energy.

These are the objectives of "small, fast, frugal" next to the error. Each is measured the
same way in every trial so that trials can be compared with each other:

- **Latency**: the median wall-clock time of a forward pass over ``repeats`` timed runs,
  after ``warmup`` untimed ones (first calls pay for allocation, kernel selection and
  caches), in ``torch.inference_mode`` and ``eval()`` mode, with torch's intra-op thread
  count fixed (1 by default) so that trials running side by side on one machine do not
  steal each other's cores and numbers from different machines stay comparable. The
  median resists the outliers that scheduling noise produces. Per-example latency is the
  batch's time divided by its size (the amortised cost in batched serving); for the
  latency of one request on its own, pass a batch of one.
- **Size**: the number of parameters, and the bytes of the serialized state dict
  (``torch.save``), which is what a deployment stores and loads; buffers such as batch-norm
  statistics count, as they are part of the model.
- **Energy**: an estimate, not a measurement, from resource time and a power figure:
  ``energy = pue * (cpu_seconds * watts_per_cpu_core + gpu_seconds * watts_per_gpu)``.
  CPU seconds are the process's user + system time (its worker subprocesses included once
  they have exited), which already add up over cores: a core busy for 1 s is 1 CPU second.
  The defaults follow the Green Algorithms calculator (Lannelongue et al. 2021): 12 W per
  core (a server CPU's TDP divided by its cores), and 300 W per GPU (the TDP of a
  V100-class card). GPU seconds are the wall-clock seconds during which CUDA was in use,
  which assumes the GPU was busy throughout: an upper bound. Set the figures for your
  hardware to compare absolute numbers; relative comparisons between trials on one
  machine hold regardless.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import torch

from metaml.metrics.base import MetricError

DEFAULT_THREADS = 1
DEFAULT_WARMUP = 5
DEFAULT_REPEATS = 30
DEFAULT_WATTS_PER_CPU_CORE = 12.0
DEFAULT_WATTS_PER_GPU = 300.0
JOULES_PER_WH = 3600.0


@dataclass(frozen=True)
class Latency:
    """Median forward-pass time of one batch and per example, and how it was measured."""

    per_example_ms: float
    per_batch_ms: float
    batch_size: int
    threads: int
    repeats: int


@dataclass(frozen=True)
class ResourceUsage:
    """Processor time a piece of work used, to turn into an energy estimate."""

    cpu_seconds: float
    wall_seconds: float
    gpu_seconds: float = 0.0


def measure_latency(
    model: torch.nn.Module,
    example_batch: Any,
    *,
    warmup: int = DEFAULT_WARMUP,
    repeats: int = DEFAULT_REPEATS,
    threads: int = DEFAULT_THREADS,
) -> Latency:
    """The median latency of ``model`` on ``example_batch`` (see the module docstring).

    ``example_batch`` is a tensor (called as ``model(batch)``), a tuple or list of them
    (``model(*batch)``) or a mapping (``model(**batch)``); its batch size is the first
    dimension of the first tensor. The model's train/eval mode and torch's thread count
    are restored afterwards.
    """
    if warmup < 0 or repeats < 1 or threads < 1:
        raise MetricError(f"latency: need warmup >= 0, repeats >= 1, threads >= 1; got {warmup}, {repeats}, {threads}")
    batch_size = _batch_size(example_batch)
    on_cuda = _uses_cuda(model, example_batch)
    was_training = model.training
    previous_threads = torch.get_num_threads()
    times: list[float] = []
    try:
        torch.set_num_threads(threads)
        model.eval()
        with torch.inference_mode():
            for i in range(warmup + repeats):
                if on_cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                _call(model, example_batch)
                if on_cuda:
                    torch.cuda.synchronize()
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
        torch.set_num_threads(previous_threads)
    per_batch_ms = statistics.median(times) * 1000.0
    return Latency(
        per_example_ms=per_batch_ms / batch_size,
        per_batch_ms=per_batch_ms,
        batch_size=batch_size,
        threads=threads,
        repeats=repeats,
    )


def parameter_count(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """The number of parameters (shared ones once), optionally only those that train."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def state_dict_bytes(model: torch.nn.Module) -> int:
    """The raw bytes of the tensors in the state dict (parameters and buffers, tied ones once).

    The payload of ``model_size_bytes`` without the file format's overhead: what a count
    by hand (elements times bytes per element) gives.
    """
    seen: set[tuple[int, int, torch.dtype]] = set()
    total = 0
    for tensor in model.state_dict().values():
        if not isinstance(tensor, torch.Tensor):
            continue
        key = (tensor.data_ptr(), tensor.numel(), tensor.dtype)
        if key not in seen:
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
    return total


def model_size_bytes(model: torch.nn.Module) -> int:
    """The size of the model's state dict as ``torch.save`` writes it, in bytes."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


class ResourceMeter:
    """Measures the CPU (and GPU) time of the work done inside a ``with`` block.

    ``with ResourceMeter() as meter: train(...)``, then ``meter.usage`` is a
    ``ResourceUsage`` to pass to ``training_energy_wh``.
    """

    def __init__(self, gpus: int = 1) -> None:
        self.gpus = gpus
        self.usage: ResourceUsage | None = None
        self._start_cpu = 0.0
        self._start_wall = 0.0

    def __enter__(self) -> ResourceMeter:
        self._start_cpu = _process_cpu_seconds()
        self._start_wall = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        wall = time.perf_counter() - self._start_wall
        cuda_used = torch.cuda.is_available() and torch.cuda.is_initialized()
        self.usage = ResourceUsage(
            cpu_seconds=_process_cpu_seconds() - self._start_cpu,
            wall_seconds=wall,
            gpu_seconds=wall * self.gpus if cuda_used else 0.0,
        )


def training_energy_wh(
    usage: ResourceUsage,
    *,
    watts_per_cpu_core: float = DEFAULT_WATTS_PER_CPU_CORE,
    watts_per_gpu: float = DEFAULT_WATTS_PER_GPU,
    pue: float = 1.0,
) -> float:
    """The estimated energy of the measured work in watt-hours (see the module docstring)."""
    for name, value in (("watts_per_cpu_core", watts_per_cpu_core), ("watts_per_gpu", watts_per_gpu)):
        if value < 0:
            raise MetricError(f"training energy: {name} must be >= 0, got {value}")
    if pue < 1.0:
        raise MetricError(f"training energy: pue (power usage effectiveness) must be >= 1, got {pue}")
    if usage.cpu_seconds < 0 or usage.gpu_seconds < 0:
        raise MetricError(f"training energy: resource times must be >= 0, got {usage}")
    joules = pue * (usage.cpu_seconds * watts_per_cpu_core + usage.gpu_seconds * watts_per_gpu)
    return joules / JOULES_PER_WH


def _process_cpu_seconds() -> float:
    # process_time() is finer than os.times() (clock ticks of 10 ms); the latter adds the
    # subprocesses (data-loader workers) that have exited.
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def _call(model: torch.nn.Module, batch: Any) -> Any:
    if isinstance(batch, Mapping):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def _tensors(batch: Any) -> list[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        return [batch]
    values: Sequence[Any] = list(batch.values()) if isinstance(batch, Mapping) else batch
    if isinstance(values, (tuple, list)):
        return [v for v in values if isinstance(v, torch.Tensor)]
    return []


def _batch_size(batch: Any) -> int:
    tensors = [t for t in _tensors(batch) if t.dim() > 0]
    if not tensors:
        raise MetricError(
            "latency needs an example batch: a tensor, or a tuple, list or dict of tensors with a batch dimension, "
            f"got {type(batch).__name__}"
        )
    size = int(tensors[0].shape[0])
    if size < 1:
        raise MetricError("latency needs an example batch with at least one example, got an empty one")
    return size


def _uses_cuda(model: torch.nn.Module, batch: Any) -> bool:
    return any(p.is_cuda for p in model.parameters()) or any(t.is_cuda for t in _tensors(batch))
