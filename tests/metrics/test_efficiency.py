"""Latency, parameter count, size and energy of tiny models whose numbers can be counted by hand."""

from __future__ import annotations

import io

import pytest
import torch

from metaml.metrics import (
    MetricError,
    ResourceMeter,
    ResourceUsage,
    measure_latency,
    model_size_bytes,
    parameter_count,
    state_dict_bytes,
    training_energy_wh,
)


def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


class _TwoInputs(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * scale


def test_latency_is_positive_and_per_example_below_per_batch() -> None:
    model = _mlp()
    model.train()
    threads = torch.get_num_threads()
    latency = measure_latency(model, torch.zeros(16, 3), warmup=2, repeats=10)
    assert latency.per_batch_ms > 0 and latency.per_example_ms > 0
    assert latency.per_example_ms < latency.per_batch_ms
    assert latency.per_example_ms == pytest.approx(latency.per_batch_ms / 16)
    assert (latency.batch_size, latency.threads, latency.repeats) == (16, 1, 10)
    assert model.training and torch.get_num_threads() == threads  # restored


def test_latency_accepts_tuple_and_dict_batches() -> None:
    model = _TwoInputs()
    x, scale = torch.zeros(4, 3), torch.ones(4, 1)
    assert measure_latency(model, (x, scale), warmup=0, repeats=2).batch_size == 4
    assert measure_latency(model, {"x": x, "scale": scale}, warmup=0, repeats=2).batch_size == 4


def test_latency_refuses_what_is_not_a_batch() -> None:
    with pytest.raises(MetricError, match="example batch"):
        measure_latency(_mlp(), "not a tensor")
    with pytest.raises(MetricError, match="repeats"):
        measure_latency(_mlp(), torch.zeros(2, 3), repeats=0)


def test_parameters_and_bytes_counted_by_hand() -> None:
    model = _mlp()
    assert parameter_count(model) == (3 * 4 + 4) + (4 * 2 + 2)  # 26
    assert state_dict_bytes(model) == 26 * 4  # float32
    model[0].weight.requires_grad_(False)
    assert parameter_count(model, trainable_only=True) == 26 - 12


def test_buffers_count_in_the_size_and_tied_weights_once() -> None:
    norm = torch.nn.BatchNorm1d(4)  # weight, bias (float32) + running mean, var (float32) + a step count (int64)
    assert parameter_count(norm) == 8
    assert state_dict_bytes(norm) == 16 * 4 + 8
    tied = torch.nn.Sequential(torch.nn.Linear(5, 5, bias=False), torch.nn.Linear(5, 5, bias=False))
    tied[1].weight = tied[0].weight
    assert parameter_count(tied) == 25
    assert state_dict_bytes(tied) == 25 * 4


def test_model_size_is_the_serialized_state_dict() -> None:
    model = _mlp()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    size = model_size_bytes(model)
    assert size == len(buffer.getvalue())
    assert size > state_dict_bytes(model)
    bigger = torch.nn.Linear(100, 100)
    assert model_size_bytes(bigger) >= state_dict_bytes(bigger) == (100 * 100 + 100) * 4


def test_energy_by_hand() -> None:
    assert training_energy_wh(ResourceUsage(cpu_seconds=3600, wall_seconds=1000)) == pytest.approx(12.0)
    usage = ResourceUsage(cpu_seconds=360, wall_seconds=60, gpu_seconds=36)
    assert training_energy_wh(usage) == pytest.approx(360 * 12 / 3600 + 36 * 300 / 3600)
    assert training_energy_wh(usage, watts_per_cpu_core=5, watts_per_gpu=0, pue=1.5) == pytest.approx(1.5 * 0.5)
    with pytest.raises(MetricError, match="pue"):
        training_energy_wh(usage, pue=0.5)
    with pytest.raises(MetricError, match="watts_per_gpu"):
        training_energy_wh(usage, watts_per_gpu=-1)


def test_resource_meter_measures_cpu_time() -> None:
    with ResourceMeter() as meter:
        total = 0
        for i in range(300_000):
            total += i * i
    assert meter.usage is not None
    assert meter.usage.cpu_seconds > 0 and meter.usage.wall_seconds > 0
    if not torch.cuda.is_available():
        assert meter.usage.gpu_seconds == 0.0
    assert training_energy_wh(meter.usage) > 0
