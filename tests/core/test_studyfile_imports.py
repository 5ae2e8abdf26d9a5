"""Reading a study file imports no pipeline it does not name: every command (`status`, `pareto`, ...) reads
one, and importing all four built-in pipelines (torch, scikit-learn, fairlearn, Gymnasium) cost each about 4 s."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

STUDY = textwrap.dedent("""\
    name: imports
    function: {function}
    space:
      lr: {{type: float, lower: 1.0e-3, upper: 1.0e-1, log: true{extra}}}
    objectives: [{{name: val_error, goal: min}}]
    budget: {{trials: 1}}
    """)
ALL = ("metaml.pipelines.tabular", "metaml.pipelines.vision", "metaml.pipelines.rl", "metaml.pipelines.text")


def _imported_after_loading(path: Path) -> list[str]:
    code = (
        "import sys; from metaml.studyfile import load_study_file; "
        f"load_study_file({str(path)!r}); print(' '.join(m for m in {ALL!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.split()


def test_a_study_of_a_users_function_imports_no_built_in_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(function="examples.quickstart:train", extra=""))
    assert _imported_after_loading(path) == []


@pytest.mark.parametrize("schedulable", [False, True])
def test_only_the_named_pipeline_is_imported_and_only_for_a_schedulable_check(
    tmp_path: Path, schedulable: bool
) -> None:
    extra = ", schedulable: true" if schedulable else ""
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(function="metaml.pipelines.vision:train", extra=extra))
    imported = _imported_after_loading(path)
    if schedulable:  # the vision module itself imports the tabular one's helpers, never rl or text
        assert "metaml.pipelines.vision" in imported
        assert not {"metaml.pipelines.rl", "metaml.pipelines.text"} & set(imported)
    else:
        assert imported == []
