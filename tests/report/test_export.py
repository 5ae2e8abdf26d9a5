"""`metaml export`: a trial's files and model card; an unknown trial names the range; the replay snippet runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from metaml import Study
from metaml.report import export_trial
from metaml.report.provenance import reproduce_snippet


def test_export_writes_config_metrics_checkpoint_and_card(make_study: Callable[..., Study], tmp_path: Path) -> None:
    study = make_study(24, info={"description": "digits, 80/20 split", "data_hash": "sha256:abc123"})
    best = study.best()
    assert best is not None
    ckpt = study.trial_directory(best.number) / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    ckpt.write_bytes(b"weights")
    out = tmp_path / "export"
    written = export_trial(study, best.number, out)
    assert sorted(p.name for p in written) == ["MODEL_CARD.md", "checkpoint.pt", "config.json", "metrics.json"]
    assert json.loads((out / "config.json").read_text()) == best.config
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"] == best.metrics and metrics["trial"] == best.number
    assert (out / "checkpoint.pt").read_bytes() == b"weights"
    card = (out / "MODEL_CARD.md").read_text()
    for text in ("val_error", "n_params", "digits, 80/20 split", "sha256:abc123", "It is on the Pareto front",
                 "best on val_error", "full-training equivalents", "## To train it again"):
        assert text in card


def test_a_trial_without_checkpoint_and_a_short_run_say_so(make_study: Callable[..., Study], tmp_path: Path) -> None:
    study = make_study(24)
    short = next(t for t in study.trials() if t.fidelity is not None and t.fidelity < 9 and t.status.value == "completed")
    written = export_trial(study, short.number, tmp_path / "e")
    assert "checkpoint.pt" not in [p.name for p in written]
    card = (tmp_path / "e" / "MODEL_CARD.md").read_text()
    assert "no checkpoint" in card and "short of the full run" in card


def test_an_unknown_trial_gives_a_clear_error_with_the_range(
    make_study: Callable[..., Study], cli: typer.Typer, tmp_path: Path
) -> None:
    make_study(6, name="range", optimizer="random")
    result = CliRunner().invoke(cli, ["export", "--store", str(tmp_path / "range.db"), "--study", "range",
                                      "--trial", "42", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "study 'range' has no trial 42: its trials are numbered 0 to 5" in result.output
    assert not (tmp_path / "out").exists()  # bad input changes nothing


def test_the_export_command_writes_into_the_folder(make_study: Callable[..., Study], cli: typer.Typer, tmp_path: Path) -> None:
    make_study(6, name="cmd", optimizer="random")
    result = CliRunner().invoke(cli, ["export", "--store", str(tmp_path / "cmd.db"), "--study", "cmd",
                                      "--trial", "2", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert {Path(f).name for f in files} == {"config.json", "metrics.json", "MODEL_CARD.md"}


MODULE = '''
def train(config, trial):
    for step in range(1, int(trial.fidelity) + 1):
        trial.report(step, loss=config["x"] + 1.0 / step)
    return {"loss": config["x"] + 1.0 / trial.fidelity, "size": float(config["n"])}
'''


def test_the_reproduce_snippet_trains_the_trial_again(tmp_path: Path) -> None:
    (tmp_path / "toymod.py").write_text(MODULE)
    space = {"x": {"type": "float", "lower": 0, "upper": 1}, "n": {"type": "int", "lower": 1, "upper": 4},
             "tag": {"type": "categorical", "choices": ['quote"s', "back\\slash"]},
             "epochs": {"type": "fidelity", "lower": 1, "upper": 3}}
    sys.path.insert(0, str(tmp_path))
    try:
        from toymod import train  # type: ignore[import-not-found]

        study = Study.create("toy", space, ["loss", "size"], store=tmp_path / "toy.db",
                             info={"study_yaml": "name: toy\nfunction: toymod:train\n"})
        study.optimize(train, {"trials": 3})
    finally:
        sys.path.remove(str(tmp_path))
    trial = study.trials()[1]
    snippet = reproduce_snippet(study, trial)
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(trial.metrics)


def test_the_code_version_is_the_git_commit_of_the_study_file_folder(make_study: Callable[..., Study], tmp_path: Path) -> None:
    import os
    import shutil

    import pytest

    from metaml.report.provenance import provenance

    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = tmp_path / "code"
    repo.mkdir()
    (repo / "study.yaml").write_text("name: synthetic\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
           "HOME": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for cmd in (["init", "-q"], ["add", "study.yaml"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env, capture_output=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, env=env).stdout.strip()
    study = make_study(3, optimizer="random")
    record = provenance(study, repo / "study.yaml")
    assert record["git"] == {"commit": head, "dirty": False, "folder": str(repo.resolve())}
    assert record["git_recorded"] is False
    assert provenance(study, tmp_path / "nowhere" / "study.yaml")["git"] is None


def test_a_trial_that_did_not_complete_is_not_exported(
    make_study: Callable[..., Study], cli: typer.Typer, tmp_path: Path
) -> None:
    import pytest

    from metaml import MetamlError, TrialStatus

    study = make_study(9, name="broken", optimizer="random", fail_every=3)
    failed = next(t for t in study.trials() if t.status is TrialStatus.FAILED)
    with pytest.raises(MetamlError, match=f"trial {failed.number}"):
        export_trial(study, failed.number, tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()  # bad input changes nothing
    result = CliRunner().invoke(cli, ["export", "--store", str(tmp_path / "broken.db"), "--study", "broken",
                                      "--trial", str(failed.number), str(tmp_path / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_the_model_card_loads_the_checkpoint_in_three_lines(tmp_path: Path, monkeypatch: Any) -> None:
    import re

    import torch

    trained: dict[int, dict[str, torch.Tensor]] = {}

    def train(config: dict, trial: Any) -> dict:
        torch.manual_seed(trial.number)
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=config["x"])
        for step in range(1, int(trial.fidelity) + 1):
            optimizer.zero_grad()
            model(torch.ones(4, 3)).pow(2).sum().backward()
            optimizer.step()
            trial.report(step, loss=float(step))
            trial.checkpoint(step, model=model, optimizer=optimizer)
        trained[trial.number] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"loss": config["x"], "size": 8.0}

    space = {"x": {"type": "float", "lower": 0.01, "upper": 0.1}, "epochs": {"type": "fidelity", "lower": 1, "upper": 2}}
    study = Study.create("card", space, ["loss", "size"], store=tmp_path / "card.db", artifacts=tmp_path / "artifacts")
    study.optimize(train, {"trials": 2})
    best = study.best()
    assert best is not None
    out = tmp_path / "export"
    export_trial(study, best.number, out)
    card = (out / "MODEL_CARD.md").read_text()
    block = re.search(r"## To load the model\n.*?```python\n(.*?)```", card, re.S)
    assert block is not None
    code = [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) == 3
    monkeypatch.chdir(out)
    fresh = torch.nn.Linear(3, 2)
    exec(block.group(1), {"model": fresh})  # the card's lines, as a reader runs them beside the files
    for name, value in fresh.state_dict().items():
        assert torch.equal(value, trained[best.number][name])
