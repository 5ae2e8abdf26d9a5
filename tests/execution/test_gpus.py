"""GPUs per local worker, on CPU: a fake device list stands in for the machine's GPUs."""

from __future__ import annotations

import pytest

from metaml import Study
from metaml.errors import MetamlError
from metaml.execution.gpus import DEVICES_ENV, discover_devices, gpu_slots, usable_devices
from metaml.execution.settings import ExecutionSettings
from tests.execution import functions


def test_whole_gpus_give_each_worker_its_own_devices() -> None:
    assert gpu_slots(1, 2, ["0", "1"]) == ["0", "1"]
    assert gpu_slots(2, 2, ["0", "1", "2", "3"]) == ["0,1", "2,3"]


def test_a_share_packs_workers_on_one_gpu_after_spreading_them() -> None:
    assert gpu_slots(0.5, 2, ["0"]) == ["0", "0"]
    assert gpu_slots(0.5, 4, ["0", "1"]) == ["0", "1", "0", "1"]
    assert gpu_slots(0.5, 2, ["0", "1"]) == ["0", "1"]
    assert gpu_slots(0.3, 3, ["7"]) == ["7", "7", "7"]


def test_the_devices_bound_the_workers() -> None:
    with pytest.raises(MetamlError, match="at most 2 workers fit"):
        gpu_slots(0.5, 3, ["0"])
    with pytest.raises(MetamlError, match="at most 1 workers fit"):
        gpu_slots(2, 2, ["0", "1", "2"])


@pytest.mark.parametrize("bad", [0, -1, 1.5, "half", True])
def test_a_wrong_share_is_one_clear_error(bad: object) -> None:
    with pytest.raises(MetamlError, match="gpus_per_trial must be"):
        ExecutionSettings(gpus_per_trial=bad)  # type: ignore[arg-type]


def test_no_gpu_and_a_gpu_list_longer_than_the_machine_are_clear_errors() -> None:
    with pytest.raises(MetamlError, match="has no GPU"):
        gpu_slots(0.5, 1, [])
    with pytest.raises(MetamlError, match="lists GPUs 0, 1, 2 but this machine has 2"):
        usable_devices(["0", "1", "2"], ["0", "1"])
    assert usable_devices([1], ["0", "1"]) == ["1"]


def test_devices_come_from_the_override_else_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEVICES_ENV, "3, 5")
    assert discover_devices() == ["3", "5"]
    monkeypatch.delenv(DEVICES_ENV)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert discover_devices() == []


def test_settings_choose_local_cuda_and_ray_gets_the_share() -> None:
    s = ExecutionSettings(gpus_per_trial=0.5)
    assert s.resolved_executor == "local"
    assert s.run_settings.device == "cuda"
    assert s.ray_gpus == 0.5
    assert ExecutionSettings(gpus=1).ray_gpus == 1


def test_each_worker_process_sees_its_own_cuda_visible_devices(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEVICES_ENV, "0,1")
    study = Study.create("gpus", functions.SPACE, ["loss"], store=store_url, seed=1)
    study.optimize(functions.records_visible_gpu, budget=6,
                   settings={"workers": 4, "gpus_per_trial": 0.5})  # fmt: skip
    trials = study.trials()
    assert len(trials) == 6 and all(t.metrics for t in trials)
    seen = {(t.metrics or {})["pid"]: (t.metrics or {})["gpu"] for t in trials}
    assert set(seen.values()) == {0.0, 1.0}  # both fake GPUs were used
    per_gpu = [sum(1 for g in seen.values() if g == d) for d in (0.0, 1.0)]
    assert max(per_gpu) <= 2  # 0.5 per trial: at most two workers on one GPU


def test_a_machine_without_the_gpus_refuses_before_any_trial(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEVICES_ENV, "0")
    study = Study.create("gpus", functions.SPACE, ["loss"], store=store_url, seed=1)
    with pytest.raises(MetamlError, match="at most 2 workers fit"):
        study.optimize(functions.records_visible_gpu, budget=4, settings={"workers": 3, "gpus_per_trial": 0.5})
    assert study.trials() == []
