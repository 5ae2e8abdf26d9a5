"""End to end: the one-shot example, shortened, through the real CLI; what lands in the store and the report."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from metaml import Study
from tests.e2e.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_oneshot_example_finds_trains_and_pins_an_architecture(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "oneshot_tabular.yaml").read_text())
    spec["space"]["epochs"]["upper"] = 8  # a quarter is 2 epochs; the supernet trains 3, the fewest its signs need
    spec["budget"] = {"fte": 3}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    ran = run_cli(["run", "study.yaml", "--store", "s.db"], tmp_path, timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    study = Study.load("oneshot-tabular", tmp_path / "s.db")
    trials = study.trials()
    supernet, derived, *outer = trials
    assert supernet.is_supernet and supernet.fidelity == 3 and supernet.cost_fte == pytest.approx(3 / 8)
    assert derived.fidelity == 8 and derived.cost_fte == pytest.approx(1.0)
    curve = study.store.observations(study.id, supernet.number)
    assert len(curve) == 3 and all("alpha.activation.gelu" in o.metrics for o in curve)
    found = supernet.metrics or {}
    assert derived.info["oneshot"] == "derived"
    candidates = supernet.info["candidates"]
    for name in ("backbone.mlp.depth", "backbone.mlp.width", "activation"):  # reported as indices in the candidates
        assert derived.config[name] == candidates[name][int(found[f"oneshot.{name}"])]
    assert outer and all(t.config["backbone.mlp.depth"] == derived.config["backbone.mlp.depth"] for t in outer)
    assert all("architecture from the supernet (trial 0)" in t.info["reason"] for t in outer)
    assert supernet.number not in {t.number for t in study.pareto_front()}
    assert study.cost_fte() <= 3 + 1e-9
    report = run_cli(["report", "study.yaml", "--store", "s.db", "--output", "r.html"], tmp_path, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    html = (tmp_path / "r.html").read_text()
    assert '<section id="oneshot">' in html and 'id="fig-oneshot"' in html


@pytest.mark.slow  # 7 s: the default run is near its 10 minutes
def test_a_collapsed_supernet_hands_the_whole_space_to_the_fallback_named_in_yaml(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "oneshot_tabular.yaml").read_text())
    # without the measures, the full-length supernet collapses on this seed and reports it unremedied
    spec["optimizer"] = {**spec["optimizer"], "robust": False, "selection": "argmax", "supernet_fidelity": 1.0,
                         "fallback": {"name": "hyperband", "eta": 3}}  # fmt: skip
    spec["budget"] = {"fte": 2}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    ran = run_cli(["run", "study.yaml", "--store", "s.db", "--no-default-first"], tmp_path, timeout=600)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    study = Study.load("oneshot-tabular", tmp_path / "s.db")
    assert study.optimizer.settings["fallback"] == {"name": "hyperband", "eta": 3}
    supernet, *rest = study.trials()
    assert supernet.is_supernet and (supernet.metrics or {}).get("oneshot.unremedied") == 1.0
    assert rest and not any(t.info.get("oneshot") == "derived" for t in rest)
    assert all(t.info["reason"].startswith("oneshot fell back to hyperband over the whole space") for t in rest)
    assert study.cost_fte() <= 2 + 1e-9
