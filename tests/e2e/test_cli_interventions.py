"""The expert in the loop on the command line: pin between two `metaml run`s, limit, note, enqueue; all in the store and the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from metaml import Study
from tests.e2e.conftest import popen_cli, run_cli, study_yaml


def test_a_pin_between_two_runs_holds_for_every_later_trial_and_is_in_the_store_and_the_report(study_dir: Path) -> None:
    assert run_cli(["run", "study.yaml", "-q"], study_dir).returncode == 0
    pinned = run_cli(["pin", "study.yaml", "kind=a", "--author", "ann", "--reason", "b never wins"], study_dir)
    assert pinned.returncode == 0, pinned.stderr
    assert "pinned kind='a' by ann" in pinned.stdout
    narrowed = run_cli(["narrow", "study.yaml", "x=0.2..0.4", "--author", "ann"], study_dir)
    assert narrowed.returncode == 0, narrowed.stderr
    more = run_cli(["run", "study.yaml", "-q", "--budget", "trials=12"], study_dir)
    assert more.returncode == 0, more.stderr

    study = Study.load("tiny", study_dir / "runs" / "tiny" / "study.db")
    trials = study.trials()
    assert len(trials) == 12
    assert all(t.config["kind"] == "a" and 0.2 <= t.config["x"] <= 0.4 for t in trials[6:])
    events = study.events(["intervention"])
    assert [(e.data["action"], e.data["author"]) for e in events] == [("pin", "ann"), ("narrow", "ann")]
    assert events[0].data["reason"] == "b never wins"

    listed = json.loads(run_cli(["interventions", "study.yaml", "--json"], study_dir).stdout)
    assert [(i["action"], i["target"], i["value"]) for i in listed] == [("pin", "kind", "a"), ("narrow", "x", [0.2, 0.4])]

    report = run_cli(["report", "study.yaml", "-o", "r.html", "--json"], study_dir)
    assert report.returncode == 0, report.stderr
    numbers = json.loads(report.stdout)
    assert [i["action"] for i in numbers["interventions"]] == ["pin", "narrow"]
    assert numbers["interventions"][0]["trials_after"] == 6
    html = (study_dir / "r.html").read_text()
    assert 'id="interventions"' in html and "b never wins" in html and "pinned kind=&#39;a&#39;" in html


@pytest.mark.slow
def test_limit_note_and_enqueue_from_the_command_line_and_bad_input_refused(study_dir: Path) -> None:
    assert run_cli(["run", "study.yaml", "-q"], study_dir).returncode == 0
    limited = run_cli(["limit", "study.yaml", "size<=2", "--reason", "memory"], study_dir)
    assert limited.returncode == 0, limited.stderr
    front = json.loads(run_cli(["pareto", "study.yaml", "--json"], study_dir).stdout)["front"]
    assert all(t["metrics"]["size"] <= 2 for t in front)
    sheet = run_cli(["choose", "study.yaml"], study_dir)
    assert sheet.returncode == 0, sheet.stderr
    assert "limit: at most 2" in sheet.stdout and "trade-offs to choose from" in sheet.stdout
    picked = run_cli(["choose", "study.yaml", "--pick", str(front[0]["number"]), "--reason", "smallest", "--json"],
                     study_dir)
    assert picked.returncode == 0, picked.stderr
    assert [m["trial"] for m in json.loads(picked.stdout)["front"] if m["chosen"]] == [front[0]["number"]]
    assert run_cli(["note", "study.yaml", "trial 0 looks odd", "--trial", "0"], study_dir).returncode == 0
    queued = run_cli(["enqueue", "study.yaml", "--config", '{"x": 0.3, "n": 1, "kind": "a"}', "--json"], study_dir)
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["queued"][0]["trial"] == 6
    assert run_cli(["run", "study.yaml", "-q", "--budget", "trials=7"], study_dir).returncode == 0
    study = Study.load("tiny", study_dir / "runs" / "tiny" / "study.db")
    assert study.trials()[6].config == {"x": 0.3, "n": 1, "kind": "a"} and study.trials()[6].status.value == "completed"
    assert [e.data["action"] for e in study.events(["intervention"])] == ["limit", "choose", "note", "enqueue"]
    before = len(study.events())
    for args, wrong in [
        (["pin", "study.yaml", "nope=1"], "unknown parameter 'nope'"),
        (["pin", "study.yaml", "x"], "PARAM=VALUE"),
        (["limit", "study.yaml", "size>=2"], "minimized"),
        (["enqueue", "study.yaml", "--config", '{"x": 3, "n": 1, "kind": "a"}'], "x"),
        (["enqueue", "study.yaml", "--config", '{"x": 0.3, "kind": "a"}'], "gives every active parameter"),
    ]:  # the rest of what is refused is checked through the API (tests/core/test_interventions.py)
        refused = run_cli(args, study_dir)
        assert refused.returncode in (1, 2) and wrong in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert len(study.events()) == before


@pytest.mark.slow
def test_a_pin_during_a_run_with_two_workers_holds_from_the_next_decision_and_loses_no_trial(study_dir: Path) -> None:
    (study_dir / "study.yaml").write_text(study_yaml(trials=30, extra="execution: {workers: 2}\n"))
    run = popen_cli(["run", "study.yaml", "-q"], study_dir, {"TINY_SLEEP": "0.8"})  # ~12 s: time to pin meanwhile
    db = study_dir / "runs" / "tiny" / "study.db"
    deadline = time.time() + 120
    while time.time() < deadline and run.poll() is None:  # pin once a few trials have finished
        if db.exists() and len([t for t in Study.load("tiny", db).trials() if t.status.finished]) >= 2:
            break
        time.sleep(0.5)
    pinned = run_cli(["pin", "study.yaml", "kind=b", "--reason", "b during the run"], study_dir)
    assert pinned.returncode == 0, pinned.stderr
    assert run.poll() is None, "the run ended before the pin: nothing was decided after it (a slow machine?)"
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    study = Study.load("tiny", db)
    [event] = study.events(["intervention"])
    trials = study.trials()
    assert [t.number for t in trials] == list(range(30)) and all(t.status.finished for t in trials)
    after = [t for t in trials if t.created_at is not None and t.created_at > event.time]
    assert after and all(t.config["kind"] == "b" for t in after)
