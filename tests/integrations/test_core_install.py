"""`pip install metaml` into a fresh environment with CPU torch: lean, enough for the main job, extras named when missing.

Slow (it builds a virtual environment): ``make slow`` or ``pytest -m slow tests/integrations``.
The torch build comes from ``METAML_TEST_TORCH_SPEC`` (default: the Makefile's ``torch==2.13.0``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The target of issue 19: the core's own dependencies stay under this many MB beyond torch and its own.
LIMIT_MB = 700

SIZES = textwrap.dedent(
    """
    import json, re
    from importlib import metadata

    def size(dist):
        return sum((dist.locate_file(f).stat().st_size for f in dist.files or () if dist.locate_file(f).exists()))

    dists = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d for d in metadata.distributions()}
    closure, todo = set(), ["torch"]
    while todo:  # torch and what it pulls in
        name = todo.pop()
        if name in closure or name not in dists:
            continue
        closure.add(name)
        for req in dists[name].requires or ():
            if "extra ==" not in req:
                todo.append(re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", req).group(0)).lower())
    total = sum(size(d) for d in dists.values())
    torch = sum(size(dists[n]) for n in closure)
    print(json.dumps({"total_mb": total / 1e6, "torch_mb": torch / 1e6, "packages": sorted(dists)}))
    """
)


@pytest.mark.slow
def test_the_core_installs_lean_and_runs_the_main_job(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, os.environ.get("METAML_TEST_TORCH_SPEC", "torch==2.13.0")], check=True, timeout=1800)
    subprocess.run([*pip, str(ROOT)], check=True, timeout=1800, capture_output=True)

    sizes = json.loads(subprocess.run([python, "-c", SIZES], capture_output=True, text=True, check=True).stdout)
    beyond = sizes["total_mb"] - sizes["torch_mb"]
    assert beyond < LIMIT_MB, f"the core adds {beyond:.0f} MB beyond torch: {sizes['packages']}"
    for extra_only in ("lightning", "mlflow", "tensorboard", "ray", "optuna", "onnxruntime", "psycopg"):
        assert extra_only not in sizes["packages"], f"{extra_only} belongs in an extra, not the core"

    for name in ("quickstart.py", "quickstart_hyperband.yaml"):
        (tmp_path / name).write_text((ROOT / "examples" / name).read_text())
    metaml = str(venv / "bin" / "metaml")
    run = subprocess.run([metaml, "run", "quickstart_hyperband.yaml", "--budget", "fte=1.5"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "done:" in run.stdout
    missing = subprocess.run([metaml, "tensorboard", "quickstart_hyperband.yaml", "--logdir", "tb"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert missing.returncode == 1 and "pip install 'metaml[tensorboard]'" in missing.stderr
    lightning = subprocess.run([python, "-c", "import metaml.integrations.lightning"], capture_output=True, text=True)
    assert lightning.returncode != 0 and "pip install 'metaml[lightning]'" in lightning.stderr
