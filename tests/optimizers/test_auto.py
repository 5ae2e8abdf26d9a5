"""``auto``: which optimizer it picks for each kind of space and objectives, and that it says so."""

from __future__ import annotations

import importlib.util

import pytest

from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import auto as auto_module
from metaml.optimizers import make_optimizer
from metaml.space import Categorical, Fidelity, Float, Space

ONE = (Objective("loss"),)
TWO = (Objective("loss"), Objective("latency_ms"))
PLAIN = {"lr": Float(1e-4, 1e-1, log=True), "act": Categorical(["relu", "gelu"])}
PRIORS = {"lr": Float(1e-4, 1e-1, log=True, prior=1e-2), "act": Categorical(["relu", "gelu"], prior="relu")}


@pytest.mark.parametrize(
    ("params", "objectives", "chosen", "words"),
    [
        ({**PRIORS, "epochs": Fidelity(1, 27)}, ONE, "priorband", "with expert priors"),
        ({**PLAIN, "epochs": Fidelity(1, 27)}, ONE, "freeze_thaw", "without expert priors: freeze-thaw"),
        ({**PLAIN, "epochs": Fidelity(1, 27)}, TWO, "moasha", "2 objectives"),
        (PLAIN, ONE, "bo", "no fidelity"),
        (PRIORS, TWO, "bo", "qLogNEHVI"),
    ],
)
def test_auto_picks_by_the_space_and_the_objectives(params, objectives, chosen, words) -> None:
    opt = make_optimizer("auto", Space(params), objectives, 0)
    assert opt.settings["chosen"] == chosen and words in opt.settings["why"]
    assert opt.inner.name == chosen  # type: ignore[attr-defined]
    proposal = opt.propose(StudyView.of([]))
    assert proposal is not None and proposal.reason.startswith(f"auto chose {chosen}: ")


def test_auto_decides_exactly_as_the_optimizer_it_chose(space, objectives, simulate) -> None:
    a = simulate(make_optimizer("auto", space, objectives, 7), 50, workers=2)
    b = simulate(make_optimizer("priorband", space, objectives, 7), 50, workers=2)
    assert [(p.config, p.fidelity, p.continue_from) for _, p in a.asks] == [
        (p.config, p.fidelity, p.continue_from) for _, p in b.asks
    ]


def test_without_botorch_auto_falls_back_to_priorband_and_random_search(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(auto_module.importlib.util, "find_spec", lambda name: None if name == "botorch" else real(name))
    opt = make_optimizer("auto", Space(PLAIN), ONE, 0)
    assert opt.settings["chosen"] == "random" and "BoTorch" in opt.settings["why"]
    opt = make_optimizer("auto", Space({**PLAIN, "epochs": Fidelity(1, 27)}), ONE, 0)
    assert opt.settings["chosen"] == "priorband" and "BoTorch" in opt.settings["why"]


def test_a_stored_choice_is_kept_and_a_wrong_one_is_refused() -> None:
    space = Space({**PLAIN, "epochs": Fidelity(1, 27)})
    kept = make_optimizer({"name": "auto", "chosen": "mohb", "why": "earlier"}, space, ONE, 0)
    earlier = make_optimizer({"name": "auto", "chosen": "bohb"}, space, ONE, 0)  # a study stored before freeze_thaw
    assert earlier.inner.name == "bohb"  # type: ignore[attr-defined]
    assert kept.settings == {"chosen": "mohb", "why": "earlier"}
    with pytest.raises(OptimizerError, match="auto: chosen must be one of"):
        make_optimizer({"name": "auto", "chosen": "grid"}, space, ONE, 0)
