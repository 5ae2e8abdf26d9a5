"""The report names the earlier studies, what was taken from each and how the transfer weighed them over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metaml import Study
from metaml.report import write_report
from metaml.space import Fidelity, Float

SPACE = {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "epochs": Fidelity(1, 9)}


def _train(config: dict[str, Any], trial: Any) -> dict[str, float]:
    return {"loss": (config["x"] - 0.7) ** 2 + (config["y"] - 0.2) ** 2 + 1.0 / trial.fidelity}


def test_the_report_shows_the_earlier_studies_and_their_weights(tmp_path: Path) -> None:
    earlier = Study.create("earlier", SPACE, "loss", store=tmp_path / "s.db", optimizer="hyperband")
    earlier.optimize(_train, {"fte": 3})
    study = Study.create("later", SPACE, "loss", store=tmp_path / "s.db",
                         optimizer={"name": "transfer", "base": "hyperband", "portfolio": 3},
                         warm_start=[{"study": "earlier"}])
    study.optimize(_train, {"fte": 3})
    data = write_report(study, tmp_path / "report.html")
    ws = data.to_json()["warm_start"]
    assert [s["name"] for s in ws["sources"]] == ["earlier"] and ws["sources"][0]["uid"] == earlier.uid
    assert ws["portfolio"] == 5  # 3 members at 1 epoch, the best continued to 3 and 9
    weighed = [s for s in ws["steps"] if s["weights"]]
    assert weighed and all(0.0 <= s["weights"]["earlier"] <= 1.0 for s in weighed)
    assert {t["number"] for t in data.to_json()["front"]} <= {t.number for t in study.trials()}
    html = (tmp_path / "report.html").read_text()
    assert 'id="warm-start"' in html and "earlier" in html
