"""benchmarks.oneshot: what the architecture without the robustness measures is, and what a row of the table holds."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import yaml

from benchmarks.oneshot import ARCHITECTURE, EXAMPLES, derived_error, main, spec_for, then_spec
from metaml import Study


def _spec(tmp_path: Path, **settings: object):  # type: ignore[no-untyped-def]
    optimizer = {**yaml.safe_load((EXAMPLES / "oneshot_tabular.yaml").read_text())["optimizer"], **settings}
    return spec_for("oneshot_tabular", 0, tmp_path, optimizer=optimizer)


def test_without_robustness_the_collapsed_supernets_own_architecture_is_trained_not_the_fallbacks_trial(
    tmp_path: Path,
) -> None:
    # the full-length supernet without the measures collapses (seed 0: a failure sign, not remedied), so the
    # optimizer falls back to bohb with no derived trial; the benchmark read bohb's first (1-epoch) trial before
    spec = _spec(tmp_path, supernet_fidelity=1.0)
    found = derived_error(spec, tmp_path / "plain.db", False, ARCHITECTURE["tabular"])
    assert found["fell_back"] and found["collapse_detected"]
    (supernet,) = Study.load(spec.name, tmp_path / "plain.db").trials()
    assert supernet.is_supernet and supernet.info["selection"] == "argmax" and not supernet.info["robust"]
    candidates, metrics = supernet.info["candidates"], supernet.metrics or {}
    assert found["arch"] == {n: candidates[n][int(metrics[f"oneshot.{n}"])] for n in ARCHITECTURE["tabular"]}
    (trained,) = Study.load(spec.name, tmp_path / "plain-derived.db").trials()
    assert trained.fidelity == 12 and {n: trained.config[n] for n in found["arch"]} == found["arch"]
    assert found["error"] == (trained.metrics or {})["val_error"]


def test_a_row_holds_both_derivations_the_fall_backs_and_the_targets(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    assert main(["--pipeline", "tabular", "--seeds", "1", "--bohb-fte", "3.5", "--oneshot-fte", "2",
                 "--no-hypergradient", "--json", str(out)]) == 0  # fmt: skip
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert 0 < row["bohb_best"] < 1
    assert row["oneshot_fte_to_target"] == math.inf or row["oneshot_fte_to_target"] <= 2
    for kind in ("robust", "plain"):
        assert 0 <= row[f"derived_{kind}"] < 1 and set(row[f"arch_{kind}"]) == set(ARCHITECTURE["tabular"])
        assert isinstance(row[f"fell_back_{kind}"], bool)
    assert data["summary"]["fell_back_plain"] == int(row["fell_back_plain"]) and data["summary"]["seeds"] == 1
    assert data["summary"]["failures_robust"] == int(not row["derived_robust"] <= row["random_error"])


def test_then_is_a_name_or_a_json_mapping_and_a_bad_one_says_what_is_wanted() -> None:
    assert then_spec("random") == "random"
    assert then_spec('{"name": "one_epoch", "per_round": 5}') == {"name": "one_epoch", "per_round": 5}
    with pytest.raises(argparse.ArgumentTypeError, match="needs a"):
        then_spec('{"per_round": 5}')
    with pytest.raises(argparse.ArgumentTypeError, match="not a JSON mapping"):
        then_spec("{name: one_epoch}")


def test_dataset_replaces_the_examples_table_and_nothing_else(tmp_path: Path) -> None:
    spec = spec_for("oneshot_tabular", 3, tmp_path, "wine")
    assert spec.space.parameters["dataset"].value == "wine" and spec.seed == 3  # type: ignore[union-attr]
    assert spec_for("oneshot_tabular", 3, tmp_path).space.parameters["dataset"].value == "breast_cancer"  # type: ignore[union-attr]
