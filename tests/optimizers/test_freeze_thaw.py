"""freeze_thaw: the curve model on synthetic curves, the continue/start decision on hand-made studies, bad input.

Determinism, resume and the rest of the optimizer contract come from the conformance suite
(``test_conformance.py``), which lists ``freeze_thaw`` and ``one_epoch``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

from metaml.core.records import Observation, Proposal, TrialRecord, TrialStatus
from metaml.core.view import StudyView
from metaml.errors import OptimizerError
from metaml.objectives import Objective
from metaml.optimizers import make_optimizer
from metaml.optimizers.freeze_thaw import FreezeThaw
from metaml.optimizers.freeze_thaw_model import CurveModel, Encodings, StepScale, build_rows, fit
from metaml.optimizers.freeze_thaw_runs import DONE, FROZEN, PAUSED, build_runs
from metaml.space import Fidelity, Float, Space

FULL = 30
LOSS = (Objective("loss"),)


def curve_space(prior: float | None = None) -> Space:
    return Space({"x": Float(0.0, 1.0, prior=prior), "y": Float(0.0, 1.0), "epochs": Fidelity(1, FULL)})


def synthetic_loss(config: dict[str, Any], step: float) -> float:
    """Crossing curves of known shape: the best final values start worst (slow learners), and vice versa."""
    x, y = config["x"], config["y"]
    final = 0.05 + 0.4 * x + 0.1 * (y - 0.5) ** 2
    early = 1.2 - 0.8 * x  # fast learners (large x) look best early on
    return final + early * step ** (-(0.4 + 0.8 * y))


class Study:
    """A hand-made history: trials with their curves, as the store's view would hold them."""

    def __init__(self) -> None:
        self.trials: list[TrialRecord] = []
        self.points: list[Observation] = []

    def train(self, config: dict[str, Any], to: int, parent: int | None = None, status: TrialStatus = TrialStatus.COMPLETED,
              loss: Any = synthetic_loss) -> int:
        """Trial training ``config`` from its parent's end (or from scratch) to step ``to``; returns its number."""
        number = len(self.trials)
        start = 0 if parent is None else int(self.trials[parent].end_step or 0)
        points = [Observation(number, float(s), {"loss": loss(config, s)}, 0.0) for s in range(start + 1, to + 1)]
        if status is TrialStatus.COMPLETED:
            self.points.extend(points)
        metrics = {"loss": points[-1].metrics["loss"]} if status is TrialStatus.COMPLETED else None
        self.trials.append(TrialRecord(
            study_id=1, number=number, config=dict(config), fidelity=to, continue_from=parent, status=status,
            metrics=metrics, start_step=float(start), end_step=float(to) if status is TrialStatus.COMPLETED else None,
        ))
        return number

    def view(self) -> StudyView:
        return StudyView.of(self.trials, self.points)


def grid(n: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [{"x": float(a), "y": float(b)} for a, b in rng.uniform(0, 1, size=(n, 2))]


# ------------------------------------------------------------------------------------------ the model
def test_the_model_ranks_partial_curves_by_their_final_value_better_than_their_current_value() -> None:
    space = curve_space()
    study = Study()
    lengths = np.random.default_rng(0).choice([1, 2, 3, 5, 8, 13, FULL], size=60, p=[.3, .2, .15, .1, .1, .07, .08])
    for config, length in zip(grid(60, 1), lengths):
        study.train(config, int(length))
    runs = build_runs(study.view(), LOSS, FULL)
    scale = StepScale(space.fidelity, FULL)  # type: ignore[arg-type]
    rows = build_rows(runs, scale, Encodings(space))
    from metaml.optimizers.bo.model import HyperparameterCache

    model = CurveModel(rows, fit(rows, seed=0, cache=HyperparameterCache()))
    partial = [r for r in runs if r.last_step < FULL]
    X = np.stack([np.r_[space.encode(r.config), 1.0] for r in partial])
    predicted, _ = model.predict(X)
    final = [synthetic_loss(r.config, FULL) for r in partial]
    current = [r.last_loss for r in partial]
    by_model = spearmanr(predicted, final).correlation
    by_current = spearmanr(current, final).correlation
    assert by_current < 0.3  # the curves cross: where they stand now says little about where they end
    assert by_model > 0.8 and by_model > by_current + 0.5


def test_a_run_is_the_chain_of_trials_of_one_configuration_with_one_curve() -> None:
    study = Study()
    a = study.train({"x": 0.2, "y": 0.5}, 3)
    b = study.train({"x": 0.2, "y": 0.5}, 6, parent=a)
    study.train({"x": 0.2, "y": 0.5}, FULL, parent=b)
    study.train({"x": 0.7, "y": 0.1}, 2)
    study.train({"x": 0.9, "y": 0.9}, 4, status=TrialStatus.FAILED)
    runs = build_runs(study.view(), LOSS, FULL)
    assert [r.root for r in runs] == [0, 3, 4]
    assert runs[0].steps == tuple(float(s) for s in range(1, FULL + 1)) and runs[0].state == DONE
    assert runs[1].state == PAUSED and runs[1].last_step == 2.0
    assert runs[2].state == FROZEN


def test_a_curve_with_nan_freezes_its_run_for_good() -> None:
    study = Study()
    study.train({"x": 0.5, "y": 0.5}, 3, loss=lambda c, s: math.nan if s == 3 else 0.01)
    (run,) = build_runs(study.view(), LOSS, FULL)
    assert run.state == FROZEN and "finite" in run.why


# ------------------------------------------------------------------------------------- the decision
def test_a_clearly_best_falling_curve_is_continued_from_its_checkpoint() -> None:
    study = Study()
    for config in grid(12, 2):
        study.train({"x": 0.3 + 0.7 * config["x"], "y": config["y"]}, 4)
    best = study.train({"x": 0.02, "y": 0.9}, 4)
    proposal = make_optimizer("freeze_thaw", curve_space(), LOSS, 0).propose(study.view())
    assert proposal is not None
    assert proposal.continue_from == best and proposal.config == study.trials[best].config
    assert proposal.fidelity is not None and 4 < proposal.fidelity <= FULL


def test_plateaued_runs_far_behind_the_incumbent_are_left_paused_and_a_new_configuration_starts() -> None:
    study = Study()
    study.train({"x": 0.05, "y": 0.5}, FULL)  # the incumbent, at full fidelity
    for config in grid(10, 3):
        study.train({"x": 0.8 + 0.2 * config["x"], "y": config["y"]}, 10, loss=lambda c, s: 2.0 + c["x"])
    proposal = make_optimizer("freeze_thaw", curve_space(), LOSS, 0).propose(study.view())
    assert proposal is not None and proposal.continue_from is None
    assert proposal.fidelity == 2  # the first step: 1 of 30 is under a twentieth of the full, so 2 (first_step)


def test_failed_frozen_and_busy_runs_are_never_continued() -> None:
    study = Study()
    for config in grid(8, 4):
        study.train({"x": 0.5 + 0.5 * config["x"], "y": config["y"]}, 3)
    failed = study.train({"x": 0.01, "y": 0.5}, 3, status=TrialStatus.FAILED)
    nan = study.train({"x": 0.02, "y": 0.5}, 3, loss=lambda c, s: math.nan if s == 3 else 0.001)
    busy = study.train({"x": 0.03, "y": 0.5}, 3, status=TrialStatus.RUNNING)
    opt = make_optimizer("freeze_thaw", curve_space(), LOSS, 0)
    proposals = opt.ask(study.view(), 4)
    parents = [p.continue_from for p in proposals if p.continue_from is not None]
    assert not {failed, nan, busy} & set(parents)
    assert len(parents) == len(set(parents))  # the batch's own earlier proposals count as pending


def test_a_model_fit_that_fails_falls_back_to_the_one_epoch_rule_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from metaml.optimizers.bo import model as gp

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise gp.GPFitError("not positive definite")

    monkeypatch.setattr(gp, "fit_hyperparameters", broken)
    study = Study()
    for config in grid(25, 5):
        study.train(config, 1)
    with caplog.at_level(logging.WARNING, logger="metaml.optimizers.freeze_thaw"):
        proposal = make_optimizer("freeze_thaw", curve_space(), LOSS, 0).propose(study.view())
    assert proposal is not None and proposal.info.get("fallback") is True
    assert "fit failed" in proposal.reason and "one-epoch rule" in proposal.reason
    assert any("fit failed" in r.getMessage() for r in caplog.records)
    # 25 first values, one round of 20 finished: the best first value goes to the end
    best = min(range(25), key=lambda n: study.trials[n].metrics["loss"])  # type: ignore[index]
    assert proposal.continue_from == best and proposal.fidelity == FULL


# --------------------------------------------------------------------- the curve network
@pytest.mark.parametrize(("longest", "joined"), [(3, True), (FULL, False)])
def test_with_curve_network_the_network_is_joined_until_a_run_reaches_the_full_fidelity(
    monkeypatch: pytest.MonkeyPatch, longest: int, joined: bool
) -> None:
    from metaml.optimizers.curve_network import Joined

    study = Study()
    for i, config in enumerate(grid(8, 0)):
        study.train(config, longest if i == 0 else 3)
    seen: list[CurveModel] = []
    monkeypatch.setattr(FreezeThaw, "_acquire", lambda self, history, runs, model: seen.append(model))
    optimizer = make_optimizer({"name": "freeze_thaw", "curve_network": True}, curve_space(), LOSS, 0)
    assert isinstance(optimizer, FreezeThaw)
    optimizer._choose(study.view(), build_runs(study.view(), LOSS, FULL))
    assert isinstance(seen[0], Joined) is joined


def test_the_shipped_network_ranks_short_curves_by_their_end_and_is_joined_only_at_the_full_fidelity() -> None:
    from metaml.optimizers.bo.model import HyperparameterCache
    from metaml.optimizers.curve_network import Joined, answer, load_network

    study = Study()
    configs = grid(16, 3)
    for config in configs:
        study.train(config, 3)
    space = curve_space()
    assert space.fidelity is not None
    rows = build_rows(build_runs(study.view(), LOSS, FULL), StepScale(space.fidelity, FULL), Encodings(space))
    X = np.array([[c["x"], c["y"]] for c in configs])
    net_mean, _ = answer(load_network(), rows.X, rows.y[:, 0], X)
    finals = [synthetic_loss(c, FULL) for c in configs]
    now = [synthetic_loss(c, 3) for c in configs]
    assert spearmanr(net_mean, finals).correlation > spearmanr(now, finals).correlation + 0.1  # 0.88 against 0.68

    model = CurveModel(rows, fit(rows, 0, HyperparameterCache()))
    joined = Joined(model, load_network())
    at_full = np.c_[X, np.ones(len(X))]
    j_mean, j_std = joined.predict(at_full)
    assert np.all(j_std < model.predict(at_full)[1]) and np.all(np.isfinite(j_mean))
    partial = np.c_[X, np.full(len(X), 0.5)]
    assert np.array_equal(joined.predict(partial)[0], model.predict(partial)[0])  # below the full fidelity: the GP's


def test_curve_network_refuses_weights_that_are_not_the_network_s(tmp_path: Any) -> None:
    import torch

    other = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(OptimizerError, match="do not load into the curve network"):
        make_optimizer({"name": "freeze_thaw", "curve_network": str(other)}, curve_space(), LOSS, 0)


def test_curve_network_refuses_a_space_wider_than_the_network_reads() -> None:
    from metaml.optimizers.curve_network import load_network

    d_max = load_network().d_max
    wide = Space({**{f"x{i}": Float(0.0, 1.0) for i in range(d_max + 1)}, "epochs": Fidelity(1, FULL)})
    with pytest.raises(OptimizerError, match=f"at most {d_max} encoded dimensions; this one has {d_max + 1}"):
        make_optimizer({"name": "freeze_thaw", "curve_network": True}, wide, LOSS, 0)


def test_a_widened_network_answers_as_before_and_its_weights_read_the_wider_space(tmp_path: Any) -> None:
    import torch

    from metaml.optimizers.curve_network import answer, load_network, widened

    net = load_network()
    state = widened(net.state_dict(), net.d_max + 4)
    path = tmp_path / "wide.pt"
    torch.save(state, path)
    wide_net = load_network(str(path))
    assert wide_net.d_max == net.d_max + 4
    rng = np.random.default_rng(0)
    context_x, context_y, configs = np.c_[rng.random((20, 3)), rng.random(20)], rng.normal(-1, 0.3, 20), rng.random((5, 3))
    for a, b in zip(answer(net, context_x, context_y, configs), answer(wide_net, context_x, context_y, configs)):
        assert np.allclose(a, b, atol=1e-5)  # the new input weights are zero
    wide = Space({**{f"x{i}": Float(0.0, 1.0) for i in range(net.d_max + 1)}, "epochs": Fidelity(1, FULL)})
    assert isinstance(make_optimizer({"name": "freeze_thaw", "curve_network": str(path)}, wide, LOSS, 0), FreezeThaw)
    with pytest.raises(ValueError, match="cannot be narrowed"):
        widened(state, net.d_max)


# --------------------------------------------------------------------- settings, priors, objectives
def test_a_space_without_fidelity_is_refused_with_what_to_do() -> None:
    with pytest.raises(OptimizerError, match="needs a Fidelity"):
        make_optimizer("freeze_thaw", Space({"x": Float(0.0, 1.0)}), LOSS, 0)


@pytest.mark.parametrize("settings", [{"growth": 0.5}, {"pool_size": 2}, {"acquisition": "ucb"},
                                      {"min_fidelity": 40}, {"stop_below": -1}, {"min_fidelity": FULL},
                                      {"curve_network": 3}, {"curve_network": "no/such/weights.pt"}])
def test_bad_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(OptimizerError, match="freeze_thaw"):
        make_optimizer({"name": "freeze_thaw", **settings}, curve_space(), LOSS, 0)


def test_with_priors_the_study_starts_from_the_prior_configuration() -> None:
    space = curve_space(prior=0.25)
    proposal = make_optimizer("freeze_thaw", space, LOSS, 0).propose(StudyView())
    assert proposal is not None and proposal.config == space.validate(space.default())
    assert proposal.config["x"] == 0.25 and proposal.fidelity == 2


def test_two_objectives_are_scalarized_so_that_a_dominating_point_always_scores_lower() -> None:
    objectives = (Objective("loss"), Objective("size"))
    study = Study()
    for number, (loss, size) in enumerate([(0.1, 1.0), (0.2, 2.0), (0.3, 0.5)]):
        study.train({"x": number / 3, "y": 0.5}, 2, loss=lambda c, s, v=loss: v)
        study.trials[-1] = TrialRecord(**{**study.trials[-1].__dict__, "metrics": {"loss": loss, "size": size}})
    for seed in range(5):
        weights = np.random.default_rng(seed).dirichlet([1, 1])
        runs = build_runs(study.view(), objectives, FULL, weights)
        assert runs[0].last_loss < runs[1].last_loss  # (0.1, 1.0) dominates (0.2, 2.0)
    limited = (Objective("loss"), Objective("size", limit=0.8))
    runs = build_runs(study.view(), limited, FULL)
    plain = build_runs(study.view(), objectives, FULL)
    assert runs[0].last_loss > plain[0].last_loss  # size 1.0 breaks the limit 0.8: penalized
    assert runs[2].last_loss == plain[2].last_loss  # size 0.5 keeps it


def test_the_stopping_rule_is_off_by_default_and_ends_a_converged_study() -> None:
    study = Study()
    study.train({"x": 0.01, "y": 0.5}, FULL)
    for config in grid(10, 6):
        study.train(config, 2)
    assert make_optimizer("freeze_thaw", curve_space(), LOSS, 0).propose(study.view()) is not None
    converged = make_optimizer({"name": "freeze_thaw", "stop_below": 10.0}, curve_space(), LOSS, 0)
    assert converged.propose(study.view()) is None


def test_a_study_without_curves_uses_each_trial_s_final_metrics_as_its_one_point() -> None:
    study = Study()
    for config in grid(12, 7):
        study.train(config, 3)
    bare = StudyView.of(study.trials)  # no curve points: a simulation, or a function that never reports
    runs = build_runs(bare, LOSS, FULL)
    assert all(r.steps == (3.0,) and r.state == PAUSED for r in runs)
    proposal = make_optimizer("freeze_thaw", curve_space(), LOSS, 0).propose(bare)
    assert isinstance(proposal, Proposal)


def test_integer_fidelity_steps_are_whole_and_grow_with_the_growth_setting() -> None:
    opt = make_optimizer({"name": "freeze_thaw", "growth": 1.5}, curve_space(), LOSS, 0)
    assert isinstance(opt, FreezeThaw)
    study = Study()
    head = study.train({"x": 0.1, "y": 0.1}, 5)
    (run,) = build_runs(study.view(), LOSS, FULL)
    assert run.head.number == head and opt.next_step(run) == 8  # ceil(7.5)
    study.train({"x": 0.1, "y": 0.1}, 29, parent=head)
    (run,) = build_runs(study.view(), LOSS, FULL)
    assert opt.next_step(run) == FULL



def test_with_every_run_at_the_full_fidelity_the_model_still_decides_on_a_new_configuration() -> None:
    """No paused run left (e.g. a resumed study whose runs all finished): the empty set of paused runs used
    to make the model-based decision raise, and the study fell back to the one-epoch rule."""
    study = Study()
    for config in grid(8, 3):
        study.train(config, FULL)
    proposal = make_optimizer("freeze_thaw", curve_space(), LOSS, 0).propose(study.view())
    assert proposal is not None and proposal.continue_from is None and proposal.fidelity == 2
    assert "fallback" not in proposal.info and "expected improvement" in proposal.reason


@pytest.mark.parametrize(("lower", "upper", "setting", "first"), [
    (1, 52, None, 2),   # LCBench's 52 epochs: one epoch is under a twentieth of the run, so two
    (1, 20, None, 1),   # the quickstart's 20 epochs: one epoch is a twentieth: kept
    (2, 18, None, 2),   # the tabular benchmark's 2..18: kept
    (1, 52, 1, 1),      # min_fidelity, when set, is what it says
    (1, 52, 5, 5),
])
def test_a_very_short_lowest_step_is_skipped_unless_min_fidelity_says(lower: int, upper: int, setting: Any,
                                                                        first: int) -> None:
    space = Space({"x": Float(0.0, 1.0), "epochs": Fidelity(lower, upper)})
    spec = {"name": "freeze_thaw"} if setting is None else {"name": "freeze_thaw", "min_fidelity": setting}
    optimizer = make_optimizer(spec, space, LOSS, 0)
    proposal = optimizer.propose(StudyView())
    assert proposal is not None and proposal.fidelity == first and isinstance(proposal.fidelity, int)
