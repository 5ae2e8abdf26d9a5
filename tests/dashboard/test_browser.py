"""The dashboard in a real browser (headless Chromium): its scripts run offline, draw the front, log no error.

Skipped where Chromium is not installed. The screenshot is kept under ``$METAML_ARTIFACTS`` when
that is set. (Applying a form through the browser needs a driver, Selenium or the DevTools
protocol, which this environment lacks; the forms are tested over HTTP in test_dashboard.py.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.dashboard.test_dashboard import EVIL, TOKEN, served  # noqa: F401 - the fixture
from tests.report.test_browser import CHROMIUM, JS_ERROR

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")


def test_the_dashboard_draws_the_front_in_a_headless_browser(served: tuple, tmp_path: Path) -> None:  # noqa: F811
    study, base = served
    study.note(f"note {EVIL}", author="auditor")
    artifacts = Path(os.environ.get("METAML_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "dashboard-screenshot.png"
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000", "--dump-dom", f"--screenshot={shot}",
           "--window-size=1280,2400", "--hide-scrollbars", f"{base}/?token={TOKEN}"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if JS_ERROR.search(line)]
    assert not errors, "\n".join(errors)
    assert 'class="plot-container plotly"' in run.stdout  # the front was drawn from /api/state
    assert EVIL not in run.stdout and "note &lt;script&gt;" in run.stdout  # text stays text after the scripts ran
    assert shot.is_file() and shot.stat().st_size > 0
