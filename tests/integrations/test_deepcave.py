"""``metaml export --format deepcave``: DeepCAVE's run format, read back as DeepCAVE reads it.

The files are checked against DeepCAVE's documented run format with ConfigSpace (which
DeepCAVE uses to read ``configspace.json``). DeepCAVE itself installs only on Python < 3.11;
with ``METAML_DEEPCAVE_PYTHON`` naming an interpreter that has it, the export is also
loaded with DeepCAVE's own reader (``deepcave.runs.converters.deepcave.DeepCAVERun``).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("ConfigSpace")

from metaml import TrialStatus  # noqa: E402
from tests.e2e.conftest import run_cli  # noqa: E402
from tests.integrations.conftest import TinyStudy  # noqa: E402

FILES = {"configspace.json", "configs.json", "origins.json", "meta.json", "history.jsonl"}


@pytest.fixture(scope="module")
def exported(tiny: TinyStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deepcave") / "run"
    result = run_cli(["export", str(tiny.study_file), "--format", "deepcave", str(folder), "--json"], tiny.folder)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["format"] == "deepcave" and {Path(p).name for p in out["files"]} == FILES
    return folder


def test_the_export_is_deepcaves_run_format(tiny: TinyStudy, exported: Path) -> None:
    from ConfigSpace import Configuration, ConfigurationSpace

    space = ConfigurationSpace.from_json(exported / "configspace.json")
    assert set(space.keys()) == {"x", "n", "kind", "kind.b.depth"}  # the fidelity is the budget, not a parameter
    assert [c.child.name for c in space.conditions] == ["kind.b.depth"]
    configs = {int(k): v for k, v in json.loads((exported / "configs.json").read_text()).items()}
    for config in configs.values():
        Configuration(space, values=config).check_valid_configuration()  # active parameters only, inside their ranges
    origins = {int(k): v for k, v in json.loads((exported / "origins.json").read_text()).items()}
    assert set(origins) == set(configs) and all(origins.values())
    meta = json.loads((exported / "meta.json").read_text())
    assert [(o["name"], o["optimize"]) for o in meta["objectives"]] == [("loss", "lower"), ("size", "lower")]
    assert meta["seeds"] == [-1] and meta["name"] == "tiny"

    rows = [json.loads(line) for line in (exported / "history.jsonl").read_text().splitlines()]
    trials = {t.number: t for t in tiny.study.trials() if t.status.finished}
    assert len(rows) == len(trials) and all(len(row) == 9 for row in rows)
    assert sorted(meta["budgets"]) == sorted({row[1] for row in rows})
    by_trial = {}
    for config_id, budget, seed, costs, cpu_time, start, end, status, additional in rows:
        assert cpu_time == 0.0  # metaml measures wall time, not CPU time
        trial = trials[additional["trial"]]
        by_trial[trial.number] = config_id
        assert configs[config_id] == trial.config and budget == trial.fidelity and seed == -1
        assert 0 <= start <= end
        if trial.status is TrialStatus.COMPLETED:
            assert status == 1 and costs == [trial.metrics["loss"], trial.metrics["size"]]
        else:
            assert status == 4 and costs == [None, None] and "odd trial" in additional["traceback"]
    for trial in trials.values():
        if trial.continue_from is not None:  # a promotion: the same configuration at a higher budget
            assert by_trial[trial.number] == by_trial[trial.continue_from]
    seen = [row[3][0] for row in rows if row[7] == 1]
    assert meta["objectives"][0]["lower"] == min(seen) and meta["objectives"][0]["upper"] == max(seen)


#: What DeepCAVE sees when it opens the folder. DeepCAVE 1.4.1's ``Run.load`` inserts a
#: cpu_time into every history row that already has one (its own recorder's rows too); the
#: reader below loads the rows as DeepCAVE's writer meant them when that bug is present.
READER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import deepcave.runs.run as run_module
    from deepcave.runs.converters.deepcave import DeepCAVERun

    try:
        run = DeepCAVERun.from_path(Path(sys.argv[1]))
    except TypeError:
        trial = run_module.Trial
        run_module.Trial = lambda *row: trial(*(row[:6] + row[7:] if len(row) == 10 else row))
        run = DeepCAVERun.from_path(Path(sys.argv[1]))
    print(json.dumps({
        "budgets": [b for b in run.get_budgets() if b != -1],
        "objectives": [o.name for o in run.get_objectives()],
        "configs": len(run.get_configs()),
        "trials": len(run.history),
        "parameters": list(run.configspace.keys()),
    }))
    """
)


def test_deepcaves_own_reader_opens_the_export(tiny: TinyStudy, exported: Path, tmp_path: Path) -> None:
    python = os.environ.get("METAML_DEEPCAVE_PYTHON")
    if not python:
        pytest.skip("set METAML_DEEPCAVE_PYTHON to a Python (< 3.11) with deepcave installed to load the export with it")
    (tmp_path / "reader.py").write_text(READER)
    result = subprocess.run([python, str(tmp_path / "reader.py"), str(exported)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    finished = [t for t in tiny.study.trials() if t.status.finished]
    assert seen["objectives"] == ["loss", "size"] and seen["trials"] == len(finished)
    assert sorted(seen["budgets"]) == sorted({t.fidelity for t in finished})
    assert set(seen["parameters"]) == {"x", "n", "kind", "kind.b.depth"}


def _cli(args: list[str]) -> tuple[int, list[str]]:
    """Run the CLI in this process (the failures below print one line each, and exit before any work)."""
    from typer.testing import CliRunner

    from metaml.cli import app

    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output.strip().splitlines()


def test_export_of_one_trial_still_works_and_the_formats_do_not_mix(tiny: TinyStudy, tmp_path: Path) -> None:
    study = str(tiny.study_file)
    done = next(t for t in tiny.study.trials() if t.status is TrialStatus.COMPLETED)
    code, _ = _cli(["export", study, "--trial", str(done.number), str(tmp_path / "one")])
    assert code == 0
    assert {"config.json", "metrics.json", "MODEL_CARD.md"} <= {p.name for p in (tmp_path / "one").iterdir()}
    code, lines = _cli(["export", study, "--format", "deepcave", "--trial", "0", str(tmp_path / "x")])
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --format deepcave")
    code, lines = _cli(["export", study, "--format", "csv", str(tmp_path / "x")])
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --format csv")
    code, lines = _cli(["export", study, str(tmp_path / "x")])
    assert code == 2 and len(lines) == 1 and "--trial N" in lines[0]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, lines = _cli(["export", study, "--format", "deepcave", str(blocker / "run")])
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: DIR")
    assert not (tmp_path / "x").exists()
