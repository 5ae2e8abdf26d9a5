"""The built-in pipelines on a GPU: ``device: auto`` trains there, ``cpu`` stays off it, results restore.

Skipped where CUDA is absent (CI, the 2-core workstation); run on a GPU machine with
``pytest tests/pipelines`` (every other pipeline test then runs on the GPU too, since
``auto`` is the default device).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from metaml.final_evaluation import evaluate_front
from metaml.store import Proposal, TrialStatus
from tests.pipelines.conftest import PipelineCase, run_trials

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")

FUNCTIONS = {"tabular": "metaml.pipelines.tabular:train", "vision": "metaml.pipelines.vision:train"}


def _spy_on_fit(case: PipelineCase, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The device type of each model the pipeline's training loop ran, in order."""
    seen: list[str] = []
    real = case.module.fit

    def fit(cfg: Any, trial: Any, model: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        out = real(cfg, trial, model, *args, **kwargs)
        seen.append(next(model.parameters()).device.type)
        return out

    monkeypatch.setattr(case.module, "fit", fit)
    return seen


@pytest.mark.parametrize(("device", "expected"), [("auto", "cuda"), ("cuda", "cuda"), ("cpu", "cpu")])
def test_the_device_setting_decides_where_a_trial_trains(case: PipelineCase, device: str, expected: str,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_fit(case, monkeypatch)
    space = case.space(epochs=2, device=device)
    study, records = run_trials(case, space, [Proposal(case.config({"device": device}, space), 2)], tmp_path)
    assert records[0].status == TrialStatus.COMPLETED, records[0].error
    assert seen == [expected]
    assert all(isinstance(v, float) for v in (records[0].metrics or {}).values())


def test_a_gpu_trial_continues_and_restores_for_the_test_split(case: PipelineCase, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_fit(case, monkeypatch)
    space = case.space(epochs=4)
    config = case.config({}, space)
    proposals = [Proposal(config, 2), Proposal(config, 4, continue_from=0), Proposal(config, 4)]
    study, records = run_trials(case, space, proposals, tmp_path)
    assert [r.status for r in records] == [TrialStatus.COMPLETED] * 3, [r.error for r in records]
    assert records[1].start_step == 2 and set(seen) == {"cuda"}
    # GPU kernels may reduce in another order than a straight run: equal to float tolerance
    assert records[1].metrics["val_error"] == pytest.approx(records[2].metrics["val_error"], abs=0.02)  # type: ignore[index]
    final = evaluate_front(study, FUNCTIONS[case.name])
    assert final.status == "evaluated", final.message
    assert all("test_error" in metrics for metrics in final.results.values())
