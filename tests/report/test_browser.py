"""The report in a real browser (headless Chromium): Plotly runs offline, draws every figure, logs no error.

Skipped where Chromium is not installed (Debian/Ubuntu package ``chromium``). The screenshot
is kept under ``$METAML_ARTIFACTS`` when that is set, for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from metaml import Study
from metaml.report import write_report

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()),
                shutil.which("chromium"))

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")

#: Lines Chromium logs for the page's JavaScript: an uncaught error, or anything written to the
#: console (Chromium logs console.error as "INFO:CONSOLE:1] ..."); the report writes nothing there.
JS_ERROR = re.compile(r"Uncaught|:CONSOLE[:(]")


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *args, page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_the_report_renders_in_a_headless_browser(make_study: Callable[..., Study], tmp_path: Path) -> None:
    study = make_study(24, fail_every=9)
    page = tmp_path / "report.html"
    data = write_report(study, page)
    artifacts = Path(os.environ.get("METAML_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "report-screenshot.png"

    # One run prints the DOM after the scripts ran and takes the screenshot.
    run = chromium(page, tmp_path / "profile", "--dump-dom", f"--screenshot={shot}", "--window-size=1280,4000",
                   "--hide-scrollbars")
    assert run.returncode == 0, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if JS_ERROR.search(line)]
    assert not errors, "\n".join(errors)
    # Plotly replaced each figure's empty div with its drawing: one plot container per figure.
    n_figures = run.stdout.count('class="figure')
    assert n_figures >= 5
    assert run.stdout.count('class="plot-container plotly"') == n_figures
    assert "main-svg" in run.stdout
    assert data.ablation is not None
    assert shot.exists() and shot.stat().st_size > 50_000
