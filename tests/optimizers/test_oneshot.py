"""The oneshot optimizer's phases on hand-made histories: supernet, derived, pinned outer search, fallback."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from metaml.core.interventions import Intervention
from metaml.core.records import TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError, StoreError
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.oneshot import OneShot, candidates
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space
from metaml.testing.optimizers import record

OBJ = (Objective("val_error"),)


def _space() -> Space:
    return Space({
        "backbone": Categorical({"mlp": {"depth": Int(1, 4), "width": Int(16, 256, log=True)},
                                 "resnet": {"blocks": Int(1, 3)}}, prior="resnet"),
        "activation": Categorical(["relu", "gelu"]),
        "lr": Float(1e-4, 1e-1, log=True),
        "epochs": Fidelity(1, 9),
    })  # fmt: skip


def _oneshot(**settings: object) -> OneShot:
    opt = make_optimizer({"name": "oneshot", **settings}, _space(), OBJ, 0)
    assert isinstance(opt, OneShot)
    return opt


def test_candidates_cover_depths_widths_on_a_log_scale_and_every_activation() -> None:
    c = candidates(_space())
    assert c == {"backbone.mlp.depth": [1, 2, 3, 4], "backbone.mlp.width": [16, 40, 102, 256],
                 "activation": ["relu", "gelu"]}  # fmt: skip


def test_a_space_without_an_architecture_choice_is_refused_with_a_clear_message() -> None:
    with pytest.raises(OptimizerError, match="no architecture choice"):
        make_optimizer("oneshot", Space({"lr": Float(1e-3, 1e-1, log=True)}), OBJ)
    with pytest.raises(OptimizerError, match="neither 'mlp'"):
        make_optimizer("oneshot", Space({"backbone": Constant("resnet"), "activation": Categorical(["relu", "gelu"])}),
                       OBJ)  # fmt: skip
    with pytest.raises(OptimizerError, match="not in the space"):
        _oneshot(architecture=["nope"])
    with pytest.raises(OptimizerError, match="selection"):
        _oneshot(selection="best")
    with pytest.raises(OptimizerError, match="black-box"):
        _oneshot(then="oneshot")


def _supernet_done(opt: OneShot, **metrics: float) -> list:
    first = opt.propose(StudyView.of([]))
    assert first is not None and first.info["oneshot"] == "supernet" and first.fidelity == 3  # a quarter of 9, up
    assert first.config["backbone"] == "mlp"  # the prior says resnet, the supernet needs the MLP branch
    found = {"val_error": 0.2, "oneshot.backbone.mlp.depth": 2.0, "oneshot.backbone.mlp.width": 2.0,
             "oneshot.activation": 1.0, "oneshot.unremedied": 0.0, **metrics}  # fmt: skip  # indices: 3, 102, gelu
    return [replace(record(0, first), metrics=found)]


@pytest.mark.parametrize(("share", "epochs"), [(0.25, 3.0), (1.0, 9.0), (0.01, 3.0), (0.5, 5.0)])
def test_the_supernet_trains_for_its_share_of_the_full_fidelity_rounded_up_within_the_bounds(
    share: float, epochs: float
) -> None:
    opt = _oneshot(supernet_fidelity=share)
    first = opt.propose(StudyView.of([]))
    assert first is not None and first.fidelity == epochs
    assert (f"for {epochs:g} of 9" in first.reason) == (epochs != 9)
    assert opt.settings["supernet_fidelity"] == share


def test_the_supernet_trains_at_least_three_whole_epochs_where_there_are_so_many_and_any_share_of_a_float_fidelity(
) -> None:  # fmt: skip
    def first(fidelity: Fidelity, share: float) -> float | None:
        space = Space({"backbone": Categorical({"mlp": {"depth": Int(1, 4)}}), "epochs": fidelity})
        proposal = make_optimizer({"name": "oneshot", "supernet_fidelity": share}, space, OBJ).propose(StudyView.of([]))
        assert proposal is not None
        return proposal.fidelity

    assert first(Fidelity(1, 2), 0.25) == 2  # the failure signs need three epochs; two are all there are
    assert first(Fidelity(4, 40), 0.05) == 4  # the lower end
    assert first(Fidelity(0.5, 10.0), 0.12) == pytest.approx(1.2)  # a float fidelity is not rounded
    no_fidelity = Space({"backbone": Categorical({"mlp": {"depth": Int(1, 4)}})})
    proposal = make_optimizer({"name": "oneshot", "then": "bo"}, no_fidelity, OBJ).propose(StudyView.of([]))
    assert proposal is not None and proposal.fidelity is None and "for " not in proposal.reason.split(" over ")[0]
    plain = make_optimizer("oneshot", no_fidelity, OBJ)  # the defaults need a fidelity: bo for both without one
    assert isinstance(plain, OneShot) and (plain.then, plain.fallback) == ("bo", "bo")


def test_then_with_a_full_fidelity_of_its_own_is_refused() -> None:
    with pytest.raises(OptimizerError, match="full fidelity"):
        _oneshot(then={"name": "one_epoch", "max_fidelity": 6})


@pytest.mark.parametrize("share", [0, -0.5, 1.5, "half", True])
def test_a_supernet_share_outside_0_1_is_refused(share: float) -> None:
    with pytest.raises(OptimizerError, match="supernet_fidelity"):
        _oneshot(supernet_fidelity=share)


def test_then_takes_a_name_or_a_mapping_with_its_settings_and_the_settings_rebuild_it() -> None:
    opt = _oneshot(then={"name": "one_epoch", "per_round": 3})
    assert opt.inner.name == "one_epoch" and opt.inner.settings["per_round"] == 3
    assert opt.settings["then"] == {"name": "one_epoch", "per_round": 3}
    rebuilt = make_optimizer({"name": "oneshot", **opt.settings}, _space(), OBJ, 0)
    assert isinstance(rebuilt, OneShot) and rebuilt.inner.settings == opt.inner.settings
    assert _oneshot(then="random").settings["then"] == "random"
    with pytest.raises(OptimizerError, match="one_epoch"):
        _oneshot(then={"name": "one_epoch", "rounds": 3})
    with pytest.raises(OptimizerError, match="black-box"):
        _oneshot(then={"name": "auto"})


def test_the_supernet_comes_first_and_everything_waits_for_it() -> None:
    opt = _oneshot()
    first = opt.propose(StudyView.of([]))
    assert first is not None and "train the supernet" in first.reason
    running = [record(0, first, TrialStatus.RUNNING)]
    assert opt.propose(StudyView.of(running)) is None


def test_the_derived_architecture_then_the_outer_search_with_it_pinned() -> None:
    opt = _oneshot()
    history = _supernet_done(opt)
    derived = opt.propose(StudyView.of(history))
    assert derived is not None and derived.info == {"oneshot": "derived", "supernet": 0} and derived.fidelity == 9
    assert (derived.config["backbone.mlp.depth"], derived.config["backbone.mlp.width"],
            derived.config["activation"]) == (3, 102, "gelu")  # fmt: skip
    history.append(record(1, derived, TrialStatus.COMPLETED, loss=None))
    history[1] = replace(history[1], metrics={"val_error": 0.15})
    for n in range(2, 12):
        outer = opt.propose(StudyView.of(history))
        assert outer is not None and "architecture from the supernet (trial 0)" in outer.reason
        assert outer.config["backbone"] == "mlp" and outer.config["backbone.mlp.depth"] == 3
        assert outer.config["backbone.mlp.width"] == 102 and outer.config["activation"] == "gelu"
        history.append(replace(record(n, outer), metrics={"val_error": 0.1 + n / 100}))


@pytest.mark.parametrize("what,expected", [
    ("failed", "the supernet (trial 0) failed"),
    ("unremedied", "collapsed and robustness could not remedy it"),
    ("derived_failed", "the derived architecture (trial 1) failed"),
])  # fmt: skip
def test_a_failed_one_shot_hands_the_whole_space_to_bohb_and_says_why(what: str, expected: str) -> None:
    opt = _oneshot()
    assert opt.then == "one_epoch" and opt.fallback == "bohb"  # the defaults: the issue names bohb for the fallback
    history = _supernet_done(opt, **({"oneshot.unremedied": 1.0} if what == "unremedied" else {}))
    if what == "failed":
        history[0] = replace(history[0], status=TrialStatus.FAILED, error="out of memory", metrics=None)
    if what == "derived_failed":
        derived = opt.propose(StudyView.of(history))
        assert derived is not None
        history.append(record(1, derived, TrialStatus.FAILED))
    proposal = opt.propose(StudyView.of(history))
    assert proposal is not None and proposal.reason.startswith("oneshot fell back to bohb over the whole space")
    assert expected in proposal.reason
    configs = set()
    for n in range(len(history), len(history) + 12):
        p = opt.propose(StudyView.of(history))
        assert p is not None
        configs.add(p.config["backbone"])
        history.append(replace(record(n, p), metrics={"val_error": 0.3}))
    assert "resnet" in configs  # the architecture is searched again


def test_the_fallback_is_its_own_setting_and_then_never_takes_over_the_whole_space() -> None:
    opt = _oneshot(then="random", fallback={"name": "hyperband", "eta": 2})
    assert opt.settings["fallback"] == {"name": "hyperband", "eta": 2} and opt.rescue.settings["eta"] == 2
    history = _supernet_done(opt, **{"oneshot.unremedied": 1.0})
    proposal = opt.propose(StudyView.of(history))
    assert proposal is not None and proposal.reason.startswith("oneshot fell back to hyperband over the whole space")
    assert opt._searching(StudyView.of(history)) is opt.rescue
    fine = _supernet_done(_oneshot(then="random"))
    assert opt._searching(StudyView.of(fine)) is opt.inner
    with pytest.raises(OptimizerError, match="fallback must be a black-box"):
        _oneshot(fallback="oneshot")
    with pytest.raises(OptimizerError, match="fallback's full fidelity"):
        _oneshot(fallback={"name": "hyperband", "max_fidelity": 6})


def test_a_vision_space_gets_the_cnn_supernet_and_its_switch() -> None:
    space = Space({"backbone": Categorical({"cnn": {"convs": Int(1, 3), "width": Int(4, 64, log=True)},
                                            "resnet": {"blocks": Int(1, 2)}}),
                   "kernel_size": Categorical([3, 5]), "activation": Categorical(["relu", "gelu"]),
                   "epochs": Fidelity(1, 4)})  # fmt: skip
    opt = make_optimizer("oneshot", space, OBJ)
    assert isinstance(opt, OneShot)
    assert opt.candidates == {"backbone.cnn.convs": [1, 2, 3], "backbone.cnn.width": [4, 10, 25, 64],
                              "kernel_size": [3, 5], "activation": ["relu", "gelu"]}  # fmt: skip
    first = opt.propose(StudyView.of([]))
    assert first is not None and first.config["backbone"] == "cnn"


def test_the_outer_search_never_learns_from_the_supernet() -> None:
    opt = _oneshot()
    history = _supernet_done(opt)
    inner = opt._inner_view(StudyView.of(history))
    assert inner.trials == ()


def _steered(history: list, *interventions: Intervention) -> StudyView:
    return replace(StudyView.of(history), interventions=tuple(interventions))


def test_a_pin_on_an_architecture_choice_keeps_the_supernet_and_trains_its_architecture_with_the_pin() -> None:
    opt = _oneshot()
    history = _supernet_done(opt)  # found depth 3, width 102, gelu
    derived = opt.decide(StudyView.of(history))
    assert derived is not None
    history.append(replace(record(1, derived), metrics={"val_error": 0.15}))
    pin = Intervention("pin", "backbone.mlp.depth", 1, "expert", "deployment needs a shallow net")
    again = opt.decide(_steered(history, pin))
    assert again is not None and again.info.get("oneshot") == "derived", again.reason  # no second supernet
    assert (again.config["backbone.mlp.depth"], again.config["backbone.mlp.width"],
            again.config["activation"]) == (1, 102, "gelu")  # fmt: skip
    history.append(replace(record(2, again), metrics={"val_error": 0.18}))
    outer = opt.decide(_steered(history, pin))
    assert outer is not None and "architecture from the supernet (trial 0)" in outer.reason
    assert outer.config["backbone.mlp.depth"] == 1 and outer.config["backbone.mlp.width"] == 102


def test_a_narrowed_width_reads_the_supernets_choice_by_its_own_candidates_and_clips_it() -> None:
    opt = _oneshot()
    history = _supernet_done(opt)  # width index 2 of the supernet's [16, 40, 102, 256]
    narrow = Intervention("narrow", "backbone.mlp.width", [16, 64], "expert", "memory")
    derived = opt.decide(_steered(history, narrow))
    assert derived is not None and derived.info.get("oneshot") == "derived", derived.reason
    assert derived.config["backbone.mlp.width"] == 64  # 102 clipped into the narrowed range, not index 2 of a new grid
    assert derived.config["backbone.mlp.depth"] == 3


def test_after_a_failure_stopping_goes_to_the_fallback_and_both_hear_every_result() -> None:
    opt = _oneshot(then="random", fallback="hyperband")
    heard: list[tuple[str, int]] = []
    opt.inner.tell = lambda t: heard.append(("then", t.number))  # type: ignore[method-assign]
    opt.rescue.tell = lambda t: heard.append(("fallback", t.number))  # type: ignore[method-assign]
    history = _supernet_done(opt, **{"oneshot.unremedied": 1.0})
    asked: list[str] = []
    opt.rescue.should_stop = lambda view, trial: asked.append("fallback") or "cut"  # type: ignore[method-assign]
    opt.inner.should_stop = lambda view, trial: asked.append("then") or None  # type: ignore[method-assign]
    proposal = opt.propose(StudyView.of(history))
    assert proposal is not None
    running = record(1, proposal, TrialStatus.RUNNING)
    assert opt.should_stop(StudyView.of([*history, running]), running) == "cut" and asked == ["fallback"]
    opt.tell(history[0])  # the supernet: no model hears it
    opt.tell(running)
    assert heard == [("then", 1), ("fallback", 1)]


def test_settings_with_mappings_rebuild_the_same_optimizer_and_a_stored_study_without_fallback_keeps_then() -> None:
    opt = _oneshot(then={"name": "one_epoch", "per_round": 4}, fallback={"name": "hyperband", "eta": 2})
    rebuilt = make_optimizer({"name": "oneshot", **opt.settings}, _space(), OBJ, 0)
    assert isinstance(rebuilt, OneShot) and rebuilt.settings == opt.settings
    assert rebuilt.inner.settings == opt.inner.settings and rebuilt.rescue.settings == opt.rescue.settings
    # a study stored before 'fallback' existed fell back to its then, and still does
    old = {k: v for k, v in _oneshot(then="one_epoch").settings.items() if k != "fallback"}
    assert OneShot.stored(old)["fallback"] == "one_epoch"
    assert OneShot.stored(opt.settings)["fallback"] == {"name": "hyperband", "eta": 2}


def test_with_several_objectives_the_warning_follows_the_outer_search_not_the_fallback() -> None:
    two = (Objective("val_error"), Objective("n_parameters"))
    opt = make_optimizer({"name": "oneshot", "then": "moasha"}, _space(), two, 0)
    assert not opt.first_objective_only  # bohb, the fallback, ranks on the first alone: it runs only on a failure


def test_a_study_made_when_then_defaulted_to_bohb_resumes_with_bohb_for_both(tmp_path: Path) -> None:
    from sqlalchemy import update

    from metaml import Study
    from metaml.store.schema import StudyRow

    first = Study.create("os", _space(), "val_error", store=tmp_path / "s.db", optimizer="oneshot")
    stored = {k: v for k, v in first.optimizer.settings.items() if k != "fallback"}
    with first.store.engine.begin() as conn:  # as the version before 'fallback' stored it, then: bohb its default
        conn.execute(update(StudyRow).where(StudyRow.id == first.id).values(optimizer_settings={**stored,
                                                                                                "then": "bohb"}))
    again = Study.create("os", _space(), "val_error", store=tmp_path / "s.db", optimizer="oneshot",
                         load_if_exists=True)  # fmt: skip
    assert again.id == first.id and isinstance(again.optimizer, OneShot)
    assert (again.optimizer.then, again.optimizer.fallback) == ("bohb", "bohb")
    with pytest.raises(StoreError, match="different optimizer"):
        Study.create("os", _space(), "val_error", store=tmp_path / "s.db", load_if_exists=True,
                     optimizer={"name": "oneshot", "then": "one_epoch"})  # fmt: skip
    # one stored with a then of its own fell back to it, and still does
    other = Study.create("os2", _space(), "val_error", store=tmp_path / "s.db", optimizer={"name": "oneshot",
                                                                                         "then": "random"})  # fmt: skip
    with other.store.engine.begin() as conn:
        conn.execute(update(StudyRow).where(StudyRow.id == other.id).values(optimizer_settings={**stored,
                                                                                                "then": "random"}))
    assert Study.load("os2", tmp_path / "s.db").optimizer.fallback == "random"  # type: ignore[attr-defined]
