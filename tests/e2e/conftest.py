"""Helpers for end-to-end tests: a tiny study folder and a way to run the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TINY_MODULE = '''
"""Cheap training functions for end-to-end tests."""
import math
import os
import time


def _loss(config):
    return (config["x"] - 0.3) ** 2 + 0.1 * config["n"] + (0.0 if config["kind"] == "a" else 0.05)


def train(config, trial):
    time.sleep(float(os.environ.get("TINY_SLEEP", "0")))
    for step in range(1, int(trial.fidelity or 1) + 1):
        trial.report(step, loss=_loss(config) + 1.0 / step)
    return {"loss": _loss(config), "size": float(config["n"])}


def flaky(config, trial):
    if trial.number % 2 == 1:
        raise RuntimeError(f"odd trial {trial.number} fails on purpose")
    return train(config, trial)


def nan(config, trial):
    return {"loss": float("nan"), "size": 1.0}


def missing(config, trial):
    return {"size": 1.0}
'''


def study_yaml(name: str = "tiny", function: str = "tiny:train", trials: int = 6, extra: str = "") -> str:
    return textwrap.dedent(
        f"""\
        name: {name}
        function: {function}
        seed: 3
        space:
          x: {{type: float, lower: 0.0, upper: 1.0}}
          n: {{type: int, lower: 1, upper: 8, log: true}}
          kind:
            type: categorical
            choices:
              a: {{}}
              b:
                depth: {{type: int, lower: 1, upper: 3}}
          epochs: {{type: fidelity, lower: 1, upper: 4}}
        objectives:
          - {{name: loss, goal: min}}
          - {{name: size, goal: min}}
        budget: {{trials: {trials}}}
        """
    ) + extra


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    (tmp_path / "tiny.py").write_text(TINY_MODULE)
    (tmp_path / "study.yaml").write_text(study_yaml())
    return tmp_path


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("METAML_STORE", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``metaml ARGS`` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "metaml", *args], cwd=cwd, env=cli_env(env), capture_output=True, text=True, timeout=timeout
    )


def _interruptible() -> None:
    """Ctrl-C back to its default in the child: a shell's background job (``make test &``) ignores it, and Python keeps that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "metaml", *args], cwd=cwd, env=cli_env(env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible,
    )
