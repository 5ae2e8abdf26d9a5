"""Population-based training (``pbt``, ``pb2``): refusals, exploit and explore on hand-made populations,
a real study's lineage and costs, and replay from the store."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from metaml import Categorical, Fidelity, Float, Int, Space, Study, Trial, TrialStatus
from metaml.core.records import Proposal, TrialRecord
from metaml.core.view import StudyView
from metaml.errors import OptimizerError, SpaceError
from metaml.lineage import lineage
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.explore import explore, perturb
from metaml.optimizers.population import PBT as KEY


def space() -> Space:
    return Space({
        "lr": Float(1e-3, 1.0, log=True, schedulable=True),
        "width": Int(4, 64, structural=True),
        "epochs": Fidelity(1, 12),
    })  # fmt: skip


def done(number: int, proposal: Proposal, loss: float | None, status: TrialStatus = TrialStatus.COMPLETED) -> TrialRecord:
    return TrialRecord(
        study_id=1, number=number, config=dict(proposal.config), fidelity=proposal.fidelity,
        continue_from=proposal.continue_from, status=status, metrics=None if loss is None else {"loss": loss},
        info=dict(proposal.info), end_step=proposal.fidelity,
    )  # fmt: skip


def first_generation(opt: Any, losses: list[float | None]) -> list[TrialRecord]:
    history: list[TrialRecord] = []
    for number, loss in enumerate(losses):
        p = opt.propose(StudyView.of(history))
        assert p.info[KEY]["generation"] == 0 and p.continue_from is None
        status = TrialStatus.FAILED if loss is None else TrialStatus.COMPLETED
        history.append(done(number, p, loss, status))
    return history


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "settings, words",
    [
        ({"population": 1}, "population"),
        ({"population": 2.5}, "population"),
        ({"factors": [0.8, 0.0]}, "factors"),
        ({"factors": [-1.2]}, "factors"),
        ({"fraction": 0.7}, "fraction"),
        ({"interval": 0}, "interval"),
        ({"interval": 13}, "interval"),
        ({"resample_probability": 2}, "resample_probability"),
    ],
)
@pytest.mark.parametrize("name", ["pbt", "pb2"])
def test_bad_settings_are_refused_at_creation(name: str, settings: dict[str, Any], words: str) -> None:
    with pytest.raises(OptimizerError, match=words):
        make_optimizer({"name": name, **settings}, space(), [Objective("loss")])


def test_a_space_without_schedulable_parameters_or_fidelity_is_refused() -> None:
    with pytest.raises(OptimizerError, match="schedulable"):
        make_optimizer("pbt", Space({"lr": Float(0.1, 1.0), "epochs": Fidelity(1, 9)}), [Objective("loss")])
    with pytest.raises(OptimizerError, match="fidelity"):
        make_optimizer("pbt", Space({"lr": Float(0.1, 1.0, schedulable=True)}), [Objective("loss")])


def test_shapes_and_unordered_choices_cannot_be_schedulable() -> None:
    with pytest.raises(SpaceError, match="structural"):
        Int(1, 8, schedulable=True, structural=True)
    with pytest.raises(SpaceError, match="order"):
        Categorical(["relu", "gelu"], schedulable=True)
    with pytest.raises(SpaceError, match="order"):
        Categorical({"a": {"x": Float(0, 1)}, "b": {}}, schedulable=True)
    assert Categorical([64, 16, 32], schedulable=True).ordered == (16, 32, 64)
    with pytest.raises(SpaceError, match="schedulable"):
        Space.from_dict({"lr": {"type": "float", "lower": 0.1, "upper": 1, "schedulable": "yes"}})


def test_a_schedulable_parameter_that_switches_others_on_is_refused() -> None:
    sp = Space({"k": Categorical([1, 2], schedulable=True), "x": Float(0, 1, when={"k": [2]}), "epochs": Fidelity(1, 4)})
    with pytest.raises(OptimizerError, match="decides whether x"):
        make_optimizer("pbt", sp, [Objective("loss")])


# ------------------------------------------------------- exploit and explore
def test_the_bottom_member_copies_a_top_members_checkpoint_and_perturbs_only_schedulable_values() -> None:
    opt = make_optimizer({"name": "pbt", "population": 4, "interval": 3, "resample_probability": 0.0},
                         space(), [Objective("loss")], seed=2)  # fmt: skip
    history = first_generation(opt, [0.5, 0.1, 0.9, 0.3])
    nxt: list[Proposal] = []
    view = StudyView.of(history)
    for _ in range(4):
        p = opt.propose(view)
        nxt.append(p)
        view = view.with_pending(p)
    assert opt.propose(view) is None, "generation 2 waits for generation 1 to finish"
    assert [p.info[KEY]["member"] for p in nxt] == [0, 1, 2, 3]
    assert all(p.fidelity == 6 and p.info[KEY]["generation"] == 1 for p in nxt)
    for member in (0, 1, 3):  # not in the bottom quarter: continue their own checkpoint unchanged
        assert nxt[member].continue_from == member and nxt[member].config == history[member].config
        assert nxt[member].info[KEY]["action"] == "continue"
    worst = nxt[2]
    assert worst.info[KEY]["action"] == "exploit" and worst.continue_from == 1  # the top member (loss 0.1)
    assert worst.config["width"] == history[1].config["width"]  # inherited with the weights
    ratio = worst.config["lr"] / history[1].config["lr"]
    assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.25) or worst.config["lr"] in (1e-3, 1.0)
    assert worst.info[KEY]["explore"]["lr"]["from"] == history[1].config["lr"]
    assert worst.info[KEY]["parent"] == 1 and worst.info[KEY]["source"] == 1


def test_a_failed_or_nan_member_is_replaced_by_exploiting_a_top_member() -> None:
    opt = make_optimizer({"name": "pbt", "population": 4, "interval": 3}, space(), [Objective("loss")])
    history = first_generation(opt, [0.5, None, 0.2, 0.3])
    history[3] = TrialRecord(**{**history[3].__dict__, "metrics": {"loss": math.nan}})
    view = StudyView.of(history)
    props = []
    for _ in range(4):
        props.append(opt.propose(view))
        view = view.with_pending(props[-1])
    for member in (1, 3):
        assert props[member].info[KEY]["action"] == "replace"
        assert props[member].continue_from == 2  # the one top member (k = 1 of 4)
        assert props[member].info[KEY]["replaced"] == member
    assert props[0].info[KEY]["action"] == "continue" and props[2].info[KEY]["action"] == "continue"


def test_when_every_top_member_failed_the_member_restarts_from_scratch() -> None:
    opt = make_optimizer({"name": "pbt", "population": 2, "interval": 3}, space(), [Objective("loss")])
    history = first_generation(opt, [None, None])
    p = opt.propose(StudyView.of(history))
    assert p.continue_from is None and p.info[KEY]["action"] == "restart" and p.fidelity == 6


def test_perturbation_keeps_values_in_range_and_moves_along_the_order() -> None:
    assert perturb(Float(0.0, 1.0), 0.9, 1.25) == 1.0
    assert perturb(Float(0.0, 1.0), 0.5, 0.8) == pytest.approx(0.4)
    assert perturb(Int(1, 10), 2, 1.25) == 3  # an integer moves by at least one
    assert perturb(Int(1, 10), 1, 0.8) == 1
    c = Categorical([8, 16, 32], schedulable=True)
    assert perturb(c, 16, 1.25) == 32 and perturb(c, 16, 0.8) == 8 and perturb(c, 32, 1.25) == 32
    sp = space()
    config, changes = explore(sp, {"lr": 0.1, "width": 8}, np.random.default_rng(0), (0.8, 1.25), 1.0)
    assert set(changes) == {"lr"} and changes["lr"]["how"] == "resampled" and config["width"] == 8
    assert sp.validate(config) == config


def test_after_the_last_generation_a_new_round_starts() -> None:
    opt = make_optimizer({"name": "pbt", "population": 2, "interval": 12}, space(), [Objective("loss")])
    history = first_generation(opt, [0.4, 0.2])
    p = opt.propose(StudyView.of(history))
    assert p.info[KEY] == {"round": 1, "member": 0, "generation": 0, "action": "initial"}


# ------------------------------------------------------------- a real study
class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))


def train(config: dict[str, Any], trial: Trial) -> dict[str, float]:
    """Moves w towards 1 by lr each epoch: its weights carry the parent's progress into an exploit."""
    net = Net()
    start = trial.restore(net=net)
    loss = float("nan")
    for epoch in range(start + 1, int(trial.fidelity) + 1):
        lr = float(trial.config_at(epoch)["lr"])
        with torch.no_grad():
            net.w += min(lr, 1.0 - float(net.w.detach())) if lr < 0.5 else -lr / 4
        loss = (1.0 - float(net.w.detach())) ** 2 + 0.01 * epoch
        trial.report(epoch, loss=loss)
        trial.checkpoint(epoch, net=net)
    return {"loss": loss}


@pytest.mark.parametrize("name", ["pbt", "pb2"])
def test_a_study_runs_its_population_and_every_lineage_leads_to_an_initial_member(tmp_path, name: str) -> None:
    sp = Space({"lr": Float(0.01, 0.9, log=True, schedulable=True), "epochs": Fidelity(1, 8)})
    settings = {"name": name, "population": 4, "interval": 2, **({"min_points": 3} if name == "pb2" else {})}
    study = Study.create("pop", sp, "loss", store=tmp_path / "s.db", optimizer=settings, seed=3)
    study.optimize(train, budget={"trials": 16})
    trials = study.trials()
    assert len(trials) == 16 and all(t.status is TrialStatus.COMPLETED for t in trials)
    assert any(t.info[KEY]["action"] == "exploit" for t in trials)
    by_number = {t.number: t for t in trials}
    for t in trials:
        chain = lineage(t, trials)
        root = by_number[chain.root]
        assert root.info[KEY]["action"] == "initial" and root.continue_from is None
        assert chain.cost_fte == pytest.approx(float(t.fidelity) / 8)  # each interval paid once, only its steps
        assert [link.start for link in chain.links] == [2.0 * i for i in range(len(chain.links))]
        if t.continue_from is not None:
            assert t.cost_fte == pytest.approx(2 / 8) and t.start_step == by_number[t.continue_from].end_step
    assert study.cost_fte() == pytest.approx(16 * 2 / 8)
    winner = study.best()
    assert winner is not None and winner.fidelity == 8
    schedule = lineage(winner, trials).schedule(["lr"])
    values = [schedule.value("lr", step) for step in range(1, 9)]
    for link in lineage(winner, trials).links:
        assert all(values[s - 1] == link.config["lr"] for s in range(int(link.start) + 1, int(link.end) + 1))

    # resuming from the store rebuilds an optimizer that decides the same
    again = Study.load("pop", store=tmp_path / "s.db")
    for n in range(len(trials)):
        seen = StudyView.of(trials[:n])
        decided = again.optimizer.propose(seen)
        made = trials[n]
        assert decided is not None and decided.config == made.config and decided.continue_from == made.continue_from
