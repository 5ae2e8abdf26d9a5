"""The tabular pipeline problem, conditional spaces in every peer's terms, and the multi-objective measures."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from benchmarks.peers import PEERS, missing, peer_class, spaces
from benchmarks.peers.mo import hv_measures
from benchmarks.problems.synthetic import ZDT1, Branin
from benchmarks.runner import Evaluation, RunLog, simulate
from benchmarks.summary import best_mo_label, mo_rows
from benchmarks.targets import MOTargets, load_targets
from metaml.core.records import TrialRecord, TrialStatus
from metaml.objectives import Objective
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space

pytestmark = pytest.mark.filterwarnings("ignore:Please use:DeprecationWarning")

#: A space with every kind the adapters translate: nested choices, a flat choice, a constant, log scales.
SPACE = Space({
    "backbone": Categorical({"mlp": {"depth": Int(1, 4), "width": Int(16, 512, log=True)},
                             "resnet": {"blocks": Int(1, 3)}}),
    "optimizer": Categorical({"sgd": {"momentum": Float(0.0, 0.99)}, "adam": {}}),
    "lr": Float(1e-4, 0.1, log=True),
    "act": Categorical(["relu", "gelu"]),
    "data": Constant("digits"),
    "epochs": Fidelity(1, 9),
})


def _need(*modules: str) -> None:
    import importlib.util

    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed here")


def _configs(n: int = 12) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    out = [{k: v for k, v in SPACE.sample(rng).items() if k != "data"} for _ in range(n)]
    assert {c["backbone"] for c in out} == {"mlp", "resnet"}  # both branches are exercised
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        math.isclose(float(a[k]), float(b[k]), rel_tol=1e-9) if isinstance(a[k], float) else a[k] == b[k] for k in a)


# ------------------------------------------------------------------ space translation round trips
def test_configspace_keeps_the_conditions_and_round_trips() -> None:
    _need("ConfigSpace")
    from ConfigSpace import Configuration, Constant

    cs = spaces.configspace(SPACE, seed=0)
    assert {c.child.name for c in cs.conditions} >= {"backbone.mlp.depth", "backbone.resnet.blocks",
                                                     "optimizer.sgd.momentum"}
    for config in _configs():
        values = {k: (str(v) if isinstance(SPACE.parameters[k], Categorical) else v) for k, v in config.items()}
        values.update({hp.name: hp.value for hp in cs.values() if isinstance(hp, Constant)})  # e.g. data: digits
        back = spaces.to_metaml(SPACE, dict(Configuration(cs, values=values)))
        assert _same(back, config)
    for sampled in cs.sample_configuration(20):  # what SMAC/DEHB propose: only the active values
        SPACE.validate(spaces.to_metaml(SPACE, dict(sampled)))


def test_optuna_suggests_conditional_parameters_only_when_active_and_round_trips() -> None:
    _need("optuna")
    import optuna

    for config in _configs():
        trial = optuna.trial.FixedTrial(config)
        drawn = spaces.suggest_optuna(SPACE, trial)
        assert _same(spaces.to_metaml(SPACE, drawn), config)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        t = study.ask()
        config = spaces.to_metaml(SPACE, spaces.suggest_optuna(SPACE, t))
        SPACE.validate(config)
        assert set(t.params) == set(config)  # nothing inactive was drawn
        study.tell(t, 0.0)


def test_syne_tune_gets_the_flattened_space_and_inactive_values_are_dropped() -> None:
    _need("syne_tune")
    domains = spaces.syne_tune_space(SPACE)
    assert set(domains) == set(SPACE.searchable) - {"data"}  # every parameter, always present
    assert list(domains["backbone"].categories) == ["mlp", "resnet"]
    rng = np.random.RandomState(0)
    for _ in range(20):
        flat = {k: d.sample(random_state=rng) for k, d in domains.items()}
        SPACE.validate(spaces.to_metaml(SPACE, flat))
    for config in _configs():
        flat = {**{k: d.sample(random_state=rng) for k, d in domains.items()}, **config}
        assert _same(spaces.to_metaml(SPACE, flat), config)


def test_neps_gets_categoricals_in_a_flattened_space() -> None:
    _need("neps")
    space = spaces.neps_space(SPACE)
    params = space.searchables if hasattr(space, "searchables") else space.elements
    assert list(params["backbone"].choices) == ["mlp", "resnet"] and "backbone.mlp.depth" in params
    for config in _configs():
        flat = {**{k: 1 for k in SPACE.searchable if k != "data"}, **config}
        assert _same(spaces.to_metaml(SPACE, flat), config)


def test_a_missing_active_value_is_an_error() -> None:
    from metaml.errors import SpaceError

    with pytest.raises(SpaceError, match="backbone.mlp.depth"):
        spaces.to_metaml(SPACE, {"backbone": "mlp", "optimizer": "adam", "lr": 0.01, "act": "relu"})


# ------------------------------------------------------------------ the tabular pipeline problem
SMALL = {"backbone": "mlp", "backbone.mlp.depth": 1, "backbone.mlp.width": 16, "optimizer": "adam", "lr": 0.01,
         "dropout": "disabled", "weight_decay": "disabled", "batch_size": 512}


@pytest.fixture(scope="module")
def tabular() -> Any:
    pytest.importorskip("torch")
    from benchmarks.problems.tabular import TabularPipeline

    return TabularPipeline


def test_tabular_continuation_equals_straight_training(tabular: Any) -> None:
    straight = tabular()
    direct = straight.curve(SMALL, 7)["val_error"]
    assert straight.epochs_trained == 7
    continued = tabular()
    first = continued.evaluate(SMALL, 4)["val_error"]
    assert continued.epochs_trained == 4
    last = continued.evaluate(SMALL, 7)["val_error"]
    assert continued.epochs_trained == 7  # the kept state grew by 3 epochs, nothing was retrained
    np.testing.assert_array_equal(continued.curve(SMALL, 7)["val_error"], direct)  # bitwise: the prefix invariant
    assert first == direct[2] and last == direct[-1]  # curve steps start at the minimum fidelity (2)
    assert continued.evaluate(SMALL, 3)["val_error"] == direct[1] and continued.epochs_trained == 7  # read back


def test_tabular_space_holds_the_pipelines_default(tabular: Any) -> None:
    p = tabular()
    default = p.default_config()
    assert default["backbone"] == "mlp" and default["optimizer"] == "adamw" and default["lr"] == 1e-3
    assert p.space.validate(default) == default
    assert p.space.conditions["backbone.mlp.depth"] == {"backbone": ("mlp",)}


def test_a_peer_runs_a_few_evaluations_of_the_tabular_problem(tabular: Any) -> None:
    name = "optuna-tpe-hb"
    if missing(name):
        pytest.skip(missing(name))
    p = tabular()
    log, history, _ = simulate(p, name, seed=0, budget_fte=4 / 18)  # 4 epochs: a handful of per-epoch steps
    assert log.error is None and log.stopped == "budget" and len(history) >= 2
    for h in history:
        assert p.space.validate(h.config) == h.config
        assert h.cost_fte == pytest.approx((h.end_step - h.start_step) / 18)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in PEERS if not peer_class(n).multi_objective and n != "neps-bo"])
def test_every_peer_runs_the_tabular_problem(tabular: Any, name: str) -> None:
    if missing(name):
        pytest.skip(missing(name))
    log, history, _ = simulate(tabular(), name, seed=0, budget_fte=0.5)
    assert log.error is None and log.stopped == "budget", log.error


def test_trained_problems_get_the_default_config_as_target() -> None:
    class Trained(Branin):
        trains = True

        def default_config(self) -> dict[str, Any]:
            return {"x1": 0.0, "x2": 5.0}

    p = Trained("good")
    t = load_targets(p)
    assert t.rule == "default"
    assert t.target == pytest.approx(p.evaluate({"x1": 0.0, "x2": 5.0}, p.max_fidelity)[p.primary.name])
    assert t.best <= t.target and t.n == 200 and 0.0 <= t.quantile <= 1.0


# ------------------------------------------------------------------ multi-objective measures
class _TwoObjectives(ZDT1):
    objectives = (Objective("f1", "min"), Objective("f2", "min"))


def _scripted(points: list[tuple[float, float, float, bool]]) -> tuple[RunLog, list[TrialRecord]]:
    """(cumulative FTE, f1, f2, full) per evaluation, as the runner would have logged them."""
    log, history = RunLog(), []
    for i, (fte, f1, f2, full) in enumerate(points):
        history.append(TrialRecord(study_id=0, number=i, config={}, fidelity=None, continue_from=None,
                                   status=TrialStatus.COMPLETED, metrics={"f1": f1, "f2": f2}))
        log.evaluations.append(Evaluation(i, 27.0 if full else 3.0, 0.0, 1.0, fte, f1, full))
    return log, history


def test_hypervolume_measures_on_a_hand_computed_case() -> None:
    targets = MOTargets(problem="p", objectives=["f1", "f2"], reference=[1.0, 1.0], hv_random=0.5, hv_target=0.45,
                        share=0.9, n=1, fingerprint="", seconds=0.0)
    log, history = _scripted([
        (2.0, 0.5, 0.5, True),    # HV 0.25
        (4.0, 0.1, 0.1, False),   # a low fidelity: not on the front
        (6.0, 0.2, 0.8, True),    # adds 0.3 * 0.2 = 0.06: HV 0.31
        (12.0, 0.6, 0.6, True),   # dominated: no change
        (20.0, 0.0, 0.6, True),   # dominates (0.2, 0.8): front {(0, 0.6), (0.5, 0.5)}, HV 0.4 + 0.25 - 0.2 = 0.45
    ])
    mo = hv_measures(_TwoObjectives(), log, history, 30.0, targets)["mo"]
    assert mo["hv"] == pytest.approx({"5": 0.25, "10": 0.31, "30": 0.45})
    assert mo["hv_norm"]["30"] == pytest.approx(0.9) and mo["fte_to_hv_target"] == 20.0
    assert np.allclose(mo["trajectory"], [[2.0, 0.25], [6.0, 0.31], [20.0, 0.45]])
    short = hv_measures(_TwoObjectives(), log, history, 10.0, targets)["mo"]
    assert short["fte_to_hv_target"] is None and set(short["hv"]) == {"5", "10"}  # censored at the budget


def _mo_result(optimizer: str, kind: str, fte: float | None, hv30: float) -> dict[str, Any]:
    return {"problem": "p", "optimizer": optimizer, "kind": kind, "budget_fte": 30.0, "stopped": "budget",
            "n_evaluations": 10, "overhead_ms": 1.0, "overhead_s": 0.1, "optimizer_settings": {"continues": True},
            "mo": {"fte_to_hv_target": fte, "final_hv_norm": hv30,
                   "hv_norm": {"5": hv30 / 2, "10": hv30 / 1.5, "30": hv30}}}


def test_mo_summary_rows_treat_unreached_runs_as_censored() -> None:
    results = [_mo_result("a", "metaml", f, 0.99) for f in (2.0, 4.0, None, 6.0, 8.0)]
    results += [_mo_result("b", "peer", f, 0.98) for f in (4.0, None, None, 10.0, 12.0)]
    results += [_mo_result("c", "peer", f, 0.97) for f in (None, None, None, None, 1.0)]
    assert best_mo_label(results) == "b"  # median 12 beats c's censored median
    by = {r.optimizer: r for r in mo_rows(results, reference="b")}
    assert by["a"].fte_to_hv_target.median == 6.0 and by["a"].fte_to_hv_target.q25 == 4.0
    assert by["a"].fte_to_hv_target.q75 == 8.0 and by["a"].fte_to_hv_target.n_finite == 4
    assert by["b"].fte_to_hv_target.median == 12.0 and math.isinf(by["b"].fte_to_hv_target.q75)
    assert str(by["a"].vs_reference) == "0.50" and str(by["c"].vs_reference) == ">2.50"
    assert by["a"].hv_norm["30"] is not None and by["a"].hv_norm["30"].median == pytest.approx(0.99)


@pytest.mark.parametrize("name", [n for n in PEERS if peer_class(n).multi_objective])
def test_multi_objective_peers_run_a_tiny_problem(name: str) -> None:
    if missing(name):
        pytest.skip(missing(name))
    p = ZDT1("good")
    log, history, settings = simulate(p, name, seed=0, budget_fte=2.0)
    assert log.error is None and log.stopped == "budget", log.error
    assert len(history) >= 2 and all(set(h.metrics or {}) >= {"f1", "f2"} for h in history)
    assert settings["continues"] is peer_class(name).continues
