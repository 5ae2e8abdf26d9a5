"""An Optuna study imported into a metaml store: values, curves, statuses, provenance, 0 FTE, and clean refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaml import Study
from metaml.budget import Budget
from metaml.core.records import Proposal, TrialStatus
from metaml.errors import MetamlError, SpaceError, StoreError, StudyNotFoundError
from metaml.imports import import_optuna
from metaml.space import Categorical, Float, Int
from metaml.spending import admit

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    width = trial.suggest_int("width", 8, 64, log=True)
    if kind == "sgd":
        trial.suggest_float("momentum", 0.5, 0.99)
    if trial.number == 2:
        raise RuntimeError("out of memory")
    loss = 1.0
    for step in range(1, 4):
        loss = lr * 10 + 1.0 / (width * step)
        trial.report(loss, step)
        if trial.number == 4 and step == 2:
            raise optuna.TrialPruned()
    return loss


@pytest.fixture
def optuna_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="tune", storage=url, sampler=optuna.samplers.RandomSampler(seed=3))
    study.set_user_attr("team", "vision")
    study.optimize(objective, n_trials=8, catch=(RuntimeError,))
    return url


def test_an_optuna_study_comes_in_with_its_values_curves_states_and_provenance(optuna_db: str, tmp_path: Path) -> None:
    source = optuna.load_study(study_name="tune", storage=optuna_db)
    report = import_optuna(optuna_db, "tune", tmp_path / "metaml.db", name="earlier")
    study = Study.load("earlier", tmp_path / "metaml.db")
    assert report.study.name == "earlier" and report.imported == {"completed": 6, "failed": 1, "pruned": 1}
    assert study.space.parameters["lr"] == Float(1e-4, 1e-1, log=True)
    assert study.space.parameters["width"] == Int(8, 64, log=True)
    assert study.space.parameters["optimizer"] == Categorical(["sgd", "adam"])
    assert study.space.conditions["momentum"] == {"optimizer": ("sgd",)}  # inferred from which trials set it
    assert [o.name for o in study.objectives] == ["value"] and study.objectives[0].goal == "min"
    trials = {t.number: t for t in study.trials()}
    curves: dict[int, list[tuple[float, float]]] = {}
    for o in study.observations():
        curves.setdefault(o.trial_number, []).append((o.step, o.metrics["value"]))
    for ot in source.trials:
        t = trials[ot.number]
        assert t.config == ot.params
        assert t.imported is not None and t.imported["source"] == "optuna" and t.imported["number"] == ot.number
        assert t.imported["study"] == "tune" and t.imported["storage"] == optuna_db
        assert t.cost_fte == 0.0 and t.worker is None
        assert curves.get(ot.number, []) == sorted(ot.intermediate_values.items())
        if ot.state == optuna.trial.TrialState.COMPLETE:
            assert t.status is TrialStatus.COMPLETED and t.metrics == {"value": ot.value}
        elif ot.state == optuna.trial.TrialState.PRUNED:
            assert t.status is TrialStatus.PRUNED and t.metrics == {"value": ot.intermediate_values[2]}
        else:
            assert t.status is TrialStatus.FAILED and t.metrics is None and t.error  # (Optuna 5 keeps no reason)
    assert study.cost_fte() == 0.0
    assert study.metadata.imported is not None and study.metadata.imported["source"] == "optuna"
    assert study.metadata.imported["user_attrs"] == {"team": "vision"}
    assert study.best() is not None and study.best().metrics == {"value": source.best_value}  # type: ignore[union-attr]
    # the budget of a study that holds imported trials counts only its own
    history = study.trials()
    assert admit(Proposal({}), history, Budget(trials=1), None).admitted
    assert admit(Proposal({}), history, Budget(fte=1.0), None).admitted


def test_several_objectives_map_to_named_objectives_with_their_goals(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    study = optuna.create_study(study_name="mo", storage=url, directions=["minimize", "maximize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.set_metric_names(["error", "accuracy"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1 - t.suggest_float("y", 0, 1)), n_trials=4)
    got = import_optuna(url, "mo", tmp_path / "m.db").study
    assert [(o.name, o.goal) for o in got.objectives] == [("error", "min"), ("accuracy", "max")]
    assert all(set(t.metrics or {}) == {"error", "accuracy"} for t in got.trials())
    assert got.name == "mo"


def test_unreachable_storage_unknown_study_and_foreign_distributions_write_nothing(optuna_db: str, tmp_path: Path) -> None:
    into = tmp_path / "into.db"
    with pytest.raises(StoreError, match="does not exist"):
        import_optuna(f"sqlite:///{tmp_path / 'nope.db'}", "tune", into)
    assert not (tmp_path / "nope.db").exists() and not into.exists()
    with pytest.raises(StoreError, match="cannot read the Optuna storage"):
        import_optuna("postgresql+psycopg://u:secret@127.0.0.1:1/none", "tune", into)
    with pytest.raises(StudyNotFoundError, match="studies there: tune"):
        import_optuna(optuna_db, "other", into)
    assert not into.exists()
    url = f"sqlite:///{tmp_path / 'step.db'}"
    stepped = optuna.create_study(study_name="s", storage=url)
    stepped.optimize(lambda t: t.suggest_float("x", 0, 1, step=0.25), n_trials=3)
    with pytest.raises(SpaceError, match="'x'.*step 0.25.*--drop-steps"):
        import_optuna(url, "s", into)
    assert not into.exists()
    got = import_optuna(url, "s", into, drop_steps=True).study
    assert got.space.parameters["x"] == Float(0, 1) and got.metadata.imported["steps_dropped"] == {"x": 0.25}  # type: ignore[index]


def test_an_existing_name_is_refused_and_the_store_is_unchanged(optuna_db: str, tmp_path: Path) -> None:
    into = tmp_path / "into.db"
    first = Study.create("tune", {"a": Float(0, 1)}, "loss", store=into)
    with pytest.raises(StoreError, match="already exists.*--as"):
        import_optuna(optuna_db, "tune", into)
    again = Study.load("tune", into)
    assert again.trials() == [] and again.space == first.space


def test_an_imported_study_can_go_on_searching_and_its_budget_counts_only_its_own_trials(optuna_db: str, tmp_path: Path) -> None:
    from metaml.report.export import export_trial

    study = import_optuna(optuna_db, "tune", tmp_path / "m.db").study
    before = len(study.trials())

    def train(config: dict, trial: object) -> dict:
        return {"value": config["lr"]}

    study.optimize(train, budget=3)
    own = [t for t in study.trials() if t.imported is None]
    assert len(own) == 3 and len(study.trials()) == before + 3
    assert [t.number for t in own] == [8, 9, 10] and study.cost_fte() == 3.0
    with pytest.raises(MetamlError, match="imported from optuna.*not trained here"):
        export_trial(study, 0, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_failed_trial_outside_the_space_of_the_finished_ones_is_skipped_and_said(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    study = optuna.create_study(study_name="f", storage=url, sampler=optuna.samplers.RandomSampler(seed=1))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            trial.suggest_int("only_here", 1, 3)
            raise RuntimeError("broke")
        if trial.number == 2:
            raise RuntimeError("broke early")
        return x

    study.optimize(objective, n_trials=4, catch=(RuntimeError,))
    report = import_optuna(url, "f", tmp_path / "m.db")
    assert report.imported == {"completed": 2, "failed": 1}
    assert set(report.study.space.parameters) == {"x"}
    assert len(report.skipped) == 1 and "Optuna trial 1" in report.skipped[0] and "only_here" in report.skipped[0]
