"""A missing extra is one line that names it; the core imports none of the integrations' packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metaml.cli import app
from tests.integrations.conftest import TinyStudy


@pytest.mark.parametrize(
    "command,blocked,extra",
    [
        (["tensorboard", "--logdir", "{tmp}/tb"], "torch.utils.tensorboard", "tensorboard"),
        (["mlflow", "--tracking-uri", "file:{tmp}/ml"], "mlflow", "mlflow"),
        (["export", "--format", "deepcave", "{tmp}/dc"], "ConfigSpace", "deepcave"),
        (["dashboard", "--port", "1"], "starlette", "dashboard"),
    ],
)
def test_a_missing_extra_says_what_to_install(
    tiny: TinyStudy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], blocked: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)  # what an environment without the package imports
    monkeypatch.delitem(sys.modules, f"metaml.integrations.{extra}", raising=False)
    args = [command[0], str(tiny.study_file), *(a.format(tmp=tmp_path) for a in command[1:])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"pip install 'metaml[{extra}]'" in lines[0] and lines[0].startswith("error:")


def test_the_core_imports_no_integration_package() -> None:
    code = (
        "import sys, metaml, metaml.cli, metaml.pipelines.tabular, metaml.pipelines.vision; "
        "bad = [m for m in ('lightning', 'mlflow', 'tensorboard', 'ConfigSpace', 'ray', 'optuna', 'onnxruntime', 'uvicorn') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
