"""``metaml tensorboard``: the event files, read back with TensorBoard's own reader, hold the study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("tensorboard")

from metaml import TrialStatus  # noqa: E402
from tests.e2e.conftest import run_cli  # noqa: E402
from tests.integrations.conftest import TinyStudy  # noqa: E402


def _read(folder: Path) -> object:
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer(size_guidance={"scalars": 0, "tensors": 0})
    multiplexer.AddRunsFromDirectory(str(folder))
    multiplexer.Reload()
    return multiplexer


def test_curves_hparams_and_front_read_back_with_tensorboards_reader(tiny: TinyStudy, tmp_path: Path) -> None:
    from tensorboard.plugins.hparams import metadata

    result = run_cli(["tensorboard", str(tiny.study_file), "--logdir", str(tmp_path / "tb"), "--json"], tiny.folder)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    folder = tmp_path / "tb" / "tiny"
    assert out["logdir"] == str(folder)
    trials = tiny.study.trials()
    observations = tiny.study.observations()
    assert out["scalars"] == sum(len(o.metrics) for o in observations)

    tb = _read(folder)
    runs = set(tb.Runs())  # type: ignore[attr-defined]
    assert {f"trial-{t.number:05d}" for t in trials} | {"front", "."} <= runs
    for trial in trials:
        run = f"trial-{trial.number:05d}"
        curve = [(o.step, o.metrics["loss"]) for o in observations if o.trial_number == trial.number]
        if curve:
            shown = [(e.step, e.value) for e in tb.Scalars(run, "curve/loss")]  # type: ignore[attr-defined]
            assert shown == [(int(s), pytest.approx(v)) for s, v in curve]
        if trial.status is TrialStatus.COMPLETED:
            (final,) = tb.Scalars(run, "final/size")  # type: ignore[attr-defined]
            assert final.value == pytest.approx(trial.metrics["size"]) and final.step == int(trial.fidelity)

    hparams = tb.PluginRunToTagToContent(metadata.PLUGIN_NAME)  # type: ignore[attr-defined]
    experiment = metadata.parse_experiment_plugin_data(hparams["."][metadata.EXPERIMENT_TAG])
    names = {h.name for h in experiment.hparam_infos}
    assert {"x", "n", "kind", "kind.b.depth", "metaml/status", "metaml/on_front"} <= names
    kind = next(h for h in experiment.hparam_infos if h.name == "kind")
    assert [v.string_value for v in kind.domain_discrete.values] == ["a", "b"]
    assert [m.name.tag for m in experiment.metric_infos][:2] == ["final/loss", "final/size"]

    front = {t.number for t in tiny.study.pareto_front()}
    assert front
    for trial in trials:
        start = metadata.parse_session_start_info_plugin_data(
            hparams[f"trial-{trial.number:05d}"][metadata.SESSION_START_INFO_TAG]
        )
        assert start.hparams["x"].number_value == pytest.approx(trial.config["x"])
        assert start.hparams["kind"].string_value == trial.config["kind"]
        assert ("kind.b.depth" in start.hparams) == ("kind.b.depth" in trial.config)  # inactive: left out
        assert start.hparams["metaml/status"].string_value == trial.status.value
        assert start.hparams["metaml/on_front"].bool_value == (trial.number in front)
        parent = start.hparams["metaml/continue_from"].string_value
        assert parent == ("-" if trial.continue_from is None else f"trial-{trial.continue_from:05d}")

    (text,) = tb.Tensors("front", "front/text_summary")  # type: ignore[attr-defined]
    table = text.tensor_proto.string_val[0].decode()
    assert all(f"| {n} |" in table for n in front)


def test_writing_again_replaces_the_event_files_it_wrote(tiny: TinyStudy, tmp_path: Path) -> None:
    from metaml.integrations.tensorboard import write_tensorboard

    logdir = tmp_path / "tb"
    mine = logdir / "tiny" / "notes.txt"
    for _ in range(2):
        write_tensorboard(tiny.study, logdir)
        mine.write_text("a file of the user's own")
    events = list((logdir / "tiny").rglob("events.out.tfevents.*"))
    assert len(events) == len(tiny.study.trials()) + 2  # one per trial, the study's own, the front
    assert mine.read_text() == "a file of the user's own"
    tb = _read(logdir / "tiny")
    trial = tiny.study.trials()[0]
    assert len(tb.Scalars(f"trial-{trial.number:05d}", "curve/loss")) == int(trial.fidelity)  # type: ignore[attr-defined]


def test_a_logdir_that_cannot_be_written_is_one_line(tiny: TinyStudy, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from metaml.cli import app

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["tensorboard", str(tiny.study_file), "--logdir", str(blocker / "tb")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --logdir") and "cannot write" in lines[0]
