"""The Study API: create, load and resume; ask/tell; optimize under a budget; results; cost; checkpoints; recovery."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from metaml import (
    Categorical,
    Fidelity,
    Float,
    Int,
    MetamlError,
    Objective,
    ObjectiveError,
    Space,
    StoreError,
    Study,
    StudyNotFoundError,
    Trial,
    TrialError,
    TrialStatus,
)
from metaml.core.view import StudyView
from metaml.optimizers import Optimizer, register
from metaml.optimizers.registry import unregister
from metaml.store import Proposal, TrialRecord

DEAD_PID = 999_999


def _space() -> Space:
    return Space({"x": Float(0.0, 1.0), "n": Int(1, 5), "opt": Categorical(["a", "b"])})


def _fidelity_space() -> Space:
    return Space({"x": Float(0.0, 1.0), "epochs": Fidelity(1, 10)})


def _loss(config: dict[str, Any]) -> float:
    return (config["x"] - 0.3) ** 2 + 0.01 * config.get("n", 0)


def _train(config: dict[str, Any]) -> dict[str, float]:
    return {"loss": _loss(config)}


def _create(url: str, tmp_path: Path, name: str = "s", space: Space | None = None, **kw: Any) -> Study:
    kw.setdefault("objectives", "loss")
    return Study.create(name, space or _space(), store=url, artifacts=tmp_path / "artifacts", **kw)


def _dead_worker() -> str:
    if Path(f"/proc/{DEAD_PID}").exists():  # pragma: no cover - a machine with that many processes
        pytest.skip(f"pid {DEAD_PID} is alive here")
    return f"{socket.gethostname()}:{DEAD_PID}"


# ------------------------------------------------------------------- create and load


def test_create_then_load(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, seed=7, info={"team": "vision"})
    assert study.name == "s" and study.seed == 7 and study.space == _space()
    assert study.objectives == (Objective("loss"),)
    assert study.artifacts == (tmp_path / "artifacts").resolve()
    loaded = Study.load("s", sqlite_url)
    assert loaded.id == study.id and loaded.space == study.space and loaded.seed == 7
    assert loaded.objectives == study.objectives and loaded.artifacts == study.artifacts
    assert loaded.record.info["team"] == "vision" and "metaml_version" in loaded.record.info
    assert [e.kind for e in loaded.store.events(loaded.id)] == ["created"]


def test_create_from_plain_data(sqlite_url: str, tmp_path: Path) -> None:
    data = {"x": {"type": "float", "lower": "1e-3", "upper": 1.0, "log": True}}
    study = Study.create("d", data, [{"name": "err"}, {"name": "acc", "goal": "max", "limit": 0.5}], store=sqlite_url, artifacts=tmp_path)
    assert study.space == Space({"x": Float(1e-3, 1.0, log=True)})
    assert study.objectives == (Objective("err"), Objective("acc", "max", 0.5))


def test_a_study_name_must_be_free_unless_resuming(sqlite_url: str, tmp_path: Path) -> None:
    _create(sqlite_url, tmp_path)
    with pytest.raises(StoreError, match="already exists") as exc:
        _create(sqlite_url, tmp_path)
    assert "load_if_exists=True" in str(exc.value)
    with pytest.raises(MetamlError, match="name"):
        _create(sqlite_url, tmp_path, name="  ")


def test_load_if_exists_resumes_the_same_study(sqlite_url: str, tmp_path: Path) -> None:
    first = _create(sqlite_url, tmp_path, seed=3)
    first.optimize(_train, 3)
    again = _create(sqlite_url, tmp_path, seed=3, load_if_exists=True)
    assert again.id == first.id and len(again.trials()) == 3
    again.optimize(_train, 5)  # the budget counts the whole study
    assert [t.number for t in again.trials()] == [0, 1, 2, 3, 4]


def test_only_the_process_that_makes_a_study_sees_created_now(sqlite_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = _create(sqlite_url, tmp_path, seed=3, load_if_exists=True)
    assert first.created_now
    assert not _create(sqlite_url, tmp_path, seed=3, load_if_exists=True).created_now
    # Two processes starting the same new study: the second one's "not there yet" is stale by
    # the time it creates; it loads the study the first made instead of failing.
    from metaml.store.sql import SQLStore

    real = SQLStore.list_studies
    stale = [True]

    def list_studies(self: SQLStore) -> list[str]:
        if stale:
            stale.pop()
            return []
        return real(self)

    monkeypatch.setattr(SQLStore, "list_studies", list_studies)
    late = _create(sqlite_url, tmp_path, seed=3, load_if_exists=True)
    assert late.id == first.id and not late.created_now and not stale


@pytest.mark.parametrize(
    "change,what",
    [
        ({"space": Space({"x": Float(0.0, 2.0), "n": Int(1, 5), "opt": Categorical(["a", "b"])})}, "space"),
        ({"objectives": ["loss", "size"]}, "objectives"),
        ({"objectives": [{"name": "loss", "goal": "max"}]}, "objectives"),
        ({"optimizer": {"name": "random", "sampler": "prior"}}, "optimizer"),
    ],
)
def test_load_if_exists_refuses_a_different_study(sqlite_url: str, tmp_path: Path, change: dict, what: str) -> None:
    _create(sqlite_url, tmp_path)
    with pytest.raises(StoreError, match=f"different {what}"):
        _create(sqlite_url, tmp_path, load_if_exists=True, **change)


def test_a_study_stored_before_a_setting_existed_resumes_with_its_default(sqlite_url: str, tmp_path: Path) -> None:
    from sqlalchemy import update

    from metaml.store.schema import StudyRow

    first = _create(sqlite_url, tmp_path)
    with first.store.engine.begin() as conn:  # as an earlier version stored it: without the 'sampler' key
        conn.execute(update(StudyRow).where(StudyRow.id == first.id).values(optimizer_settings={}))
    again = _create(sqlite_url, tmp_path, load_if_exists=True)
    assert again.id == first.id and not again.created_now and again.optimizer.settings == {"sampler": "auto"}
    with pytest.raises(StoreError, match="different optimizer"):  # a setting asked otherwise is still refused
        _create(sqlite_url, tmp_path, load_if_exists=True, optimizer={"name": "random", "sampler": "prior"})


def test_a_study_stored_before_a_default_changed_resumes_as_it_was_made(sqlite_url: str, tmp_path: Path) -> None:
    from sqlalchemy import update

    from metaml.store.schema import StudyRow

    first = _create(sqlite_url, tmp_path)
    with first.store.engine.begin() as conn:  # as if 'prior' had been the default when it was made
        conn.execute(update(StudyRow).where(StudyRow.id == first.id).values(optimizer_settings={"sampler": "prior"}))
    again = _create(sqlite_url, tmp_path, load_if_exists=True)  # the request names no setting: the stored one stands
    assert again.id == first.id and again.optimizer.settings == {"sampler": "prior"}
    same = _create(sqlite_url, tmp_path, load_if_exists=True, optimizer={"name": "random", "sampler": "prior"})
    assert same.id == first.id
    with pytest.raises(StoreError, match="different optimizer"):  # the setting named otherwise is refused
        _create(sqlite_url, tmp_path, load_if_exists=True, optimizer={"name": "random", "sampler": "auto"})


def test_a_changed_space_names_the_parameters_that_changed(sqlite_url: str, tmp_path: Path) -> None:
    _create(sqlite_url, tmp_path)
    changed = Space({"x": Float(0.0, 2.0), "n": Int(1, 5), "opt": Categorical(["a", "c"]), "new": Float(0.0, 1.0)})
    with pytest.raises(StoreError) as exc:
        _create(sqlite_url, tmp_path, load_if_exists=True, space=changed)
    message = str(exc.value)
    assert "'x': upper 1.0 -> 2.0" in message and "'new' added" in message
    assert "choice 'b' removed" in message and "choice 'c' added" in message


def test_load_names_the_known_studies(sqlite_url: str, tmp_path: Path) -> None:
    _create(sqlite_url, tmp_path, name="alpha")
    _create(sqlite_url, tmp_path, name="beta")
    with pytest.raises(StudyNotFoundError, match="alpha, beta"):
        Study.load("gamma", sqlite_url)
    with pytest.raises(StoreError, match="no study store"):
        Study.load("alpha", tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()


def test_a_study_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    study = Study.create("m", _space(), "loss", store="sqlite:///:memory:")
    study.optimize(_train, 2)
    assert len(study.trials([TrialStatus.COMPLETED])) == 2


def test_a_study_in_memory_with_the_short_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    study = Study.create("m", _space(), "loss", store="sqlite://")
    assert study.trials() == []


# ------------------------------------------------------------------------- ask/tell


def test_ask_and_tell(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    trial = study.ask("me")
    assert isinstance(trial, Trial) and trial.number == 0 and trial.fidelity is None
    assert study.space.validate(trial.config) == trial.config
    assert study.trials([TrialStatus.RUNNING])[0].worker == "me"
    record = study.tell(trial, {"loss": np.float32(0.25), "n_params": 10, "note": "fine"})
    assert record.status is TrialStatus.COMPLETED and record.metrics == {"loss": 0.25, "n_params": 10.0}
    assert record.error is None and record.cost_fte == 1.0  # without a fidelity every run is a full run
    # tell by number
    second = study.ask("me")
    assert second is not None
    assert study.tell(second.number, {"loss": 0.5}).status is TrialStatus.COMPLETED
    assert study.best().number == 0  # type: ignore[union-attr]


def test_tell_with_an_exception_stores_its_traceback(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    trial = study.ask()
    assert trial is not None

    def train() -> None:
        raise ValueError("diverged at epoch 3")

    try:
        train()
    except ValueError as exc:
        record = study.tell(trial, error=exc)
    assert record.status is TrialStatus.FAILED
    assert record.error == "ValueError: diverged at epoch 3"
    assert record.traceback is not None and "Traceback" in record.traceback and "in train" in record.traceback
    assert record.metrics is None
    events = study.store.events(study.id, ["failed"])
    assert [(e.trial_number, e.message) for e in events] == [(0, "ValueError: diverged at epoch 3")]
    other = study.ask()
    assert study.tell(other, error="killed by the user").error == "killed by the user"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "metrics,reason",
    [
        ({"accuracy": 0.9}, "lack the objective 'loss'"),
        ({"loss": float("nan"), "accuracy": 0.9}, "'loss' is nan"),
        ({"loss": np.inf}, "'loss' is inf"),
        ({"loss": "low"}, "'loss' must be a number"),
        (None, "returned None"),
        (0.3, "dict of metrics"),
    ],
)
def test_bad_metrics_fail_the_trial_with_the_reason(sqlite_url: str, tmp_path: Path, metrics: Any, reason: str) -> None:
    study = _create(sqlite_url, tmp_path)
    trial = study.ask()
    record = study.tell(trial, metrics)  # type: ignore[arg-type]
    assert record.status is TrialStatus.FAILED and reason in (record.error or "")
    if isinstance(metrics, dict) and "accuracy" in metrics:
        assert record.metrics == {"accuracy": 0.9}  # the finite metrics are kept for the report
    assert study.best() is None and study.pareto_front() == []


def test_enqueued_configs_run_first_and_are_validated(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    queued = study.enqueue({"x": 0.5, "n": 2, "opt": "b"})
    assert queued.status is TrialStatus.PENDING and queued.number == 0
    with pytest.raises(MetamlError, match="'n'"):
        study.enqueue({"x": 0.5, "n": 9, "opt": "b"})
    assert len(study.trials()) == 1  # the bad one changed nothing
    trial = study.ask()
    assert trial is not None and trial.config == {"x": 0.5, "n": 2, "opt": "b"}


# ------------------------------------------------------------------------- optimize


def test_optimize_with_a_trial_budget(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, seed=5)
    seen: list[int] = []
    done = study.optimize(lambda config, trial: {"loss": _loss(config)}, 6, on_trial=lambda r: seen.append(r.number))
    assert [t.number for t in done] == seen == list(range(6))
    trials = study.trials()
    assert len(trials) == 6 and all(t.status is TrialStatus.COMPLETED for t in trials)
    assert study.cost_fte() == pytest.approx(6.0)
    best = study.best()
    assert best is not None and best.metrics["loss"] == min(t.metrics["loss"] for t in trials)  # type: ignore[index]
    # the same seed proposes the same configs
    twin = Study.create("twin", _space(), "loss", store=tmp_path / "twin.db", seed=5, artifacts=tmp_path / "a2")
    twin.optimize(_train, 6)
    assert [t.config for t in twin.trials()] == [t.config for t in trials]


@pytest.mark.parametrize("budget", ["trials=4", {"trials": 4}, "4", 4])
def test_budget_forms(sqlite_url: str, tmp_path: Path, budget: Any) -> None:
    study = _create(sqlite_url, tmp_path)
    study.optimize(_train, budget)
    assert len(study.trials()) == 4


def test_optimize_with_an_fte_budget(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    study.optimize(_train, {"fte": 3})
    assert len(study.trials()) == 3 and study.cost_fte() == pytest.approx(3.0)


def test_optimize_with_an_fte_budget_and_a_fidelity(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, space=_fidelity_space())

    def train(config: dict, trial: Trial) -> dict:
        for step in range(1, trial.fidelity + 1):
            trial.report(step, loss=config["x"] / step)
        return {"loss": config["x"] / trial.fidelity}

    study.enqueue({"x": 0.5}, fidelity=5)  # half a run
    study.optimize(train, "fte=2")
    costs = [t.cost_fte for t in study.trials()]
    # random search proposes full runs: after 1.5 FTE the next one (1 FTE) no longer fits in 2
    assert costs == pytest.approx([0.5, 1.0])
    assert study.cost_fte() == pytest.approx(1.5)


def test_optimize_with_a_seconds_budget(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)

    def slow(config: dict) -> dict:
        time.sleep(0.05)
        return {"loss": _loss(config)}

    start = time.time()
    study.optimize(slow, "seconds=0.5")
    elapsed = time.time() - start
    n = len(study.trials())
    assert 2 <= n <= 12, n
    assert elapsed < 3.0
    assert all(t.status is TrialStatus.COMPLETED for t in study.trials())


def test_a_function_that_fails_every_other_time(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    calls = {"n": 0}

    def flaky(config: dict, trial: Trial) -> dict:
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise RuntimeError(f"flaky failure {calls['n']}")
        return {"loss": _loss(config)}

    study.optimize(flaky, 10)
    trials = study.trials()
    assert len(trials) == 10 and calls["n"] == 10
    assert [t.status for t in trials] == [TrialStatus.COMPLETED, TrialStatus.FAILED] * 5
    for t in trials[1::2]:
        assert t.error is not None and t.error.startswith("RuntimeError: flaky failure")
        assert "Traceback" in (t.traceback or "") and "in flaky" in (t.traceback or "")
    assert study.best() is not None and len(study.pareto_front()) == 1


def test_functions_returning_bad_results_fail_their_trials(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    results = iter([{"loss": float("nan")}, "0.3", {"other": 1.0}, {"loss": 0.2}])
    study.optimize(lambda config: next(results), 4)
    assert [t.status for t in study.trials()] == [TrialStatus.FAILED] * 3 + [TrialStatus.COMPLETED]
    assert "nan" in (study.trials()[0].error or "")


def test_out_of_memory_is_a_failure_with_its_reason(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)

    def greedy(config: dict) -> dict:
        raise MemoryError("tried to allocate 80 GiB")

    study.optimize(greedy, 1)
    record = study.trials()[0]
    assert record.status is TrialStatus.FAILED and (record.error or "").startswith("out of memory")


# ----------------------------------------------------------------- best and the front


def _tell_all(study: Study, results: Sequence[dict], fidelity: float | None = None) -> None:
    for metrics in results:
        queued = study.enqueue({"x": 0.5, "n": 1, "opt": "a"} if "n" in study.space.parameters else {"x": 0.5}, fidelity=fidelity)
        trial = study.ask()
        assert trial is not None and trial.number == queued.number
        if metrics.get("raise"):
            study.tell(trial, error="crashed")
        else:
            study.tell(trial, metrics)


def test_best_and_front_respect_limits(sqlite_url: str, tmp_path: Path) -> None:
    objectives = [{"name": "err"}, {"name": "acc", "goal": "max", "limit": 0.8}, {"name": "ms", "limit": 5}]
    study = _create(sqlite_url, tmp_path, objectives=objectives)
    _tell_all(
        study,
        [
            {"err": 0.10, "acc": 0.90, "ms": 4.0},  # 0: on the front
            {"err": 0.05, "acc": 0.95, "ms": 6.0},  # 1: best err, but breaks the latency limit
            {"err": 0.20, "acc": 0.85, "ms": 1.0},  # 2: on the front (fastest)
            {"err": 0.12, "acc": 0.88, "ms": 4.5},  # 3: dominated by 0
            {"err": 0.01, "acc": 0.70, "ms": 1.0},  # 4: breaks the accuracy limit
            {"err": 0.10, "acc": 0.90, "ms": 4.0},  # 5: a tie with 0: kept
            {"raise": True},  # 6: failed
            {"err": 0.08, "acc": 0.80, "ms": 5.0},  # 7: exactly at both limits: feasible, on the front
        ],
    )
    assert {t.number for t in study.pareto_front()} == {0, 2, 5, 7}
    assert study.best().number == 7  # type: ignore[union-attr]
    assert study.best("acc").number in (0, 5)  # type: ignore[union-attr]
    assert study.best("ms").number == 2  # type: ignore[union-attr]
    with pytest.raises(ObjectiveError, match="no objective named 'size'"):
        study.best("size")
    assert study.front_note() is None


def test_the_front_holds_only_full_fidelity_trials(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, space=_fidelity_space())
    _tell_all(study, [{"loss": 0.01}, {"loss": 0.02}], fidelity=3)  # cheap, low-fidelity results
    assert study.best() is None and study.pareto_front() == []
    assert study.front_note() == "no trial has completed at full fidelity yet"
    _tell_all(study, [{"loss": 0.5}, {"loss": 0.4}], fidelity=10)
    assert study.best().number == 3  # type: ignore[union-attr]
    assert [t.number for t in study.pareto_front()] == [3]


def test_front_note_when_nothing_is_feasible(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, objectives=[{"name": "loss", "limit": 0.1}])
    _tell_all(study, [{"loss": 0.5}, {"loss": 0.4}])
    assert study.best() is None and study.pareto_front() == []
    assert study.front_note() == "none of the 2 full-fidelity trials respects every limit yet"


# ------------------------------------------------------------------------------ cost


def test_cost_counts_the_steps_each_trial_trained(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, space=_fidelity_space())
    # (how it ends, steps it reports, fidelity)
    plan = {0: ("complete", 10, 10), 1: ("stop", 3, 10), 2: ("raise", 4, 10), 3: ("silent", 0, 10), 4: ("complete", 5, 5)}

    def train(config: dict, trial: Trial) -> dict:
        how, steps, _ = plan[trial.number]
        for step in range(1, steps + 1):
            trial.report(step, loss=1.0 / step)
        if how == "raise":
            raise RuntimeError("diverged")
        return {"loss": 1.0}

    for number, (_, _, fidelity) in plan.items():
        study.enqueue({"x": 0.1 * number}, fidelity=fidelity)
    study.optimize(train, len(plan))
    trials = study.trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED, TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.COMPLETED, TrialStatus.COMPLETED]
    # full run; stopped early after 3 of 10 steps; failed after 4; silent (charged its fidelity); half run
    assert [t.cost_fte for t in trials] == pytest.approx([1.0, 0.3, 0.4, 1.0, 0.5])
    assert [(t.start_step, t.end_step) for t in trials] == [(0, 10), (0, 3), (0, 4), (0, 10), (0, 5)]
    assert study.cost_fte() == pytest.approx(3.2)
    assert [o.step for o in study.store.observations(study.id, 1)] == [1.0, 2.0, 3.0]


# ----------------------------------------------------------------------- checkpoints


def _model(seed: int) -> Any:
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 2)


def _same_weights(a: Any, b: Any) -> bool:
    import torch

    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_checkpoint_and_restore(sqlite_url: str, tmp_path: Path) -> None:
    import torch

    study = _create(sqlite_url, tmp_path, space=_fidelity_space())
    study.enqueue({"x": 0.1}, fidelity=4)
    first = study.ask()
    assert first is not None
    model = _model(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert first.restore(model=model, optimizer=opt) == 0  # fresh
    assert _same_weights(model, _model(0))  # and left untouched
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    torch.manual_seed(123)
    first.checkpoint(4, model=model, optimizer=opt)
    after_checkpoint = torch.rand(3)
    assert first.checkpoint_path.exists() and first.checkpoint_path.parent == first.directory
    assert [p.name for p in first.directory.iterdir()] == [first.checkpoint_path.name]  # no temporary file left
    study.tell(first, {"loss": 0.5})
    assert study.trials()[0].cost_fte == pytest.approx(0.4)

    # a promotion continues trial 0: it restores its weights, optimizer and RNG, and pays only the rest
    study.store.enqueue(study.id, Proposal({"x": 0.1}, fidelity=10, continue_from=0, reason="promoted"))
    second = study.ask()
    assert second is not None and second.continue_from == 0
    model2 = _model(99)  # another start: other weights, another RNG state
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.1, momentum=0.9)
    assert second.restore(model=model2, optimizer=opt2) == 4
    assert _same_weights(model2, model)
    assert opt2.state_dict()["state"][0]["momentum_buffer"].equal(opt.state_dict()["state"][0]["momentum_buffer"])
    assert torch.equal(torch.rand(3), after_checkpoint)
    for step in range(5, 11):
        second.report(step, loss=0.1)
    record = study.tell(second, {"loss": 0.1})
    assert (record.start_step, record.end_step, record.cost_fte) == (4.0, 10.0, pytest.approx(0.6))
    assert study.store.events(study.id, ["missing_checkpoint"]) == []


def test_a_missing_checkpoint_means_training_from_scratch(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, space=_fidelity_space())
    study.enqueue({"x": 0.1}, fidelity=3)
    first = study.ask()
    study.tell(first, {"loss": 1.0})  # type: ignore[arg-type] - finished without a checkpoint
    study.store.enqueue(study.id, Proposal({"x": 0.1}, fidelity=10, continue_from=0))
    second = study.ask()
    assert second is not None
    model = _model(1)
    assert second.restore(model=model) == 0
    assert _same_weights(model, _model(1))
    events = study.store.events(study.id, ["missing_checkpoint"])
    assert len(events) == 1 and events[0].trial_number == 1 and "trial 0" in events[0].message
    record = study.tell(second, {"loss": 0.5})
    assert record.cost_fte == pytest.approx(1.0)  # charged the full run it trained


def test_a_resumed_trial_prefers_its_own_checkpoint(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, space=_fidelity_space())
    study.enqueue({"x": 0.1}, fidelity=2)
    base = study.ask()
    base.checkpoint(2, model=_model(2))  # type: ignore[union-attr]
    study.tell(base, {"loss": 1.0})  # type: ignore[arg-type]
    study.store.enqueue(study.id, Proposal({"x": 0.1}, fidelity=10, continue_from=0))
    trial = study.ask()
    assert trial is not None
    trial.checkpoint(6, model=_model(6))  # got to step 6, then its worker was interrupted
    study.store.requeue(study.id, trial.number, "interrupted", count_retry=False)
    resumed = study.ask()
    assert resumed is not None and resumed.number == trial.number
    model = _model(0)
    assert resumed.restore(model=model) == 6
    assert _same_weights(model, _model(6))


def test_checkpoint_errors_are_trial_errors(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path, space=_fidelity_space())
    trial = study.ask()
    assert trial is not None
    with pytest.raises(TrialError, match="has no state_dict"):
        trial.checkpoint(1, model=object())
    trial.checkpoint(1, model=_model(0))
    with pytest.raises(TrialError, match="pass the same names"):
        trial.restore(model=_model(0), optimizer=_model(1))


# --------------------------------------------------------------------------- recovery


def test_recover_lost_requeues_the_trial_of_a_dead_worker(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    orphan = study.ask(_dead_worker())
    elsewhere = study.ask("another-host:1")  # another machine: only its heartbeat can tell
    assert orphan is not None and elsewhere is not None
    assert study.recover_lost() == [orphan.number]
    record = study.trials()[orphan.number]
    assert record.status is TrialStatus.PENDING and record.retries == 1 and record.worker is None
    assert study.trials()[elsewhere.number].status is TrialStatus.RUNNING
    assert len(study.store.events(study.id, ["requeued"])) == 1
    # the next worker runs it, with its config
    again = study.ask("me")
    assert again is not None and again.number == orphan.number and again.config == orphan.config


def test_recover_lost_marks_lost_past_the_retry_limit(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    dead = _dead_worker()
    study.ask(dead)
    for retry in (1, 2):
        assert study.recover_lost(max_retries=2) == [0]
        assert study.trials()[0].retries == retry
        study.ask(dead)  # the same trial, and its worker dies again
    assert study.recover_lost(max_retries=2) == [0]
    record = study.trials()[0]
    assert record.status is TrialStatus.LOST and "retry limit 2" in (record.error or "")
    assert study.recover_lost(max_retries=2) == []


def test_recover_lost_uses_the_heartbeat_for_other_machines(sqlite_url: str, tmp_path: Path) -> None:
    from sqlalchemy import update

    from metaml.store.schema import TrialRow

    study = _create(sqlite_url, tmp_path)
    study.ask("far-away:123")
    assert study.recover_lost(stale_after=60) == []
    with study.store.engine.begin() as conn:
        conn.execute(update(TrialRow).values(heartbeat=TrialRow.heartbeat - 120))
    assert study.recover_lost(stale_after=60) == [0]
    assert study.trials()[0].status is TrialStatus.PENDING


def test_optimize_reruns_a_trial_whose_worker_died(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    orphan = study.ask(_dead_worker())
    assert orphan is not None
    study.optimize(_train, 3)
    trials = study.trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETED] * 3
    assert trials[0].config == orphan.config and trials[0].retries == 1


# ------------------------------------------------------- the optimizer hears each result once


class _Recording(Optimizer):
    name = "test-recording"
    told: list[int] = []

    def propose(self, view: StudyView) -> Proposal:
        history = view.trials
        return Proposal(self.space.sample(self.rng(history)))

    def tell(self, trial: TrialRecord) -> None:
        _Recording.told.append(trial.number)


@pytest.fixture(autouse=False)
def recording() -> Iterator[None]:
    """Register the recording optimizer for one test only (other suites list the registry)."""
    register(_Recording.name, _Recording)
    yield
    unregister(_Recording.name)


@pytest.mark.usefixtures("recording")
def test_tell_reaches_the_optimizer(sqlite_url: str, tmp_path: Path) -> None:
    _Recording.told = []
    study = _create(sqlite_url, tmp_path, optimizer=_Recording.name)
    study.optimize(_train, 3)
    assert _Recording.told == [0, 1, 2]


@pytest.mark.usefixtures("recording")
def test_a_second_tell_changes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    _Recording.told = []
    study = _create(sqlite_url, tmp_path, optimizer=_Recording.name)
    trial = study.ask()
    first = study.tell(trial, {"loss": 0.1})  # type: ignore[arg-type]
    second = study.tell(trial, {"loss": 0.9})  # type: ignore[arg-type]
    assert second == first and second.metrics == {"loss": 0.1}
    assert _Recording.told == [0]



def test_recover_lost_leaves_this_process_running_trials_alone(sqlite_url: str, tmp_path: Path) -> None:
    study = _create(sqlite_url, tmp_path)
    trial = study.ask()  # worker host:<this pid>
    assert trial is not None
    assert study.recover_lost() == []
    assert study.tell(trial, {"loss": 0.1}).status is TrialStatus.COMPLETED


def test_the_reference_point_comes_from_the_limits_and_is_stored(tmp_path: Path) -> None:
    from metaml import Float, Objective, Space

    space = Space({"x": Float(0.0, 1.0)})
    objectives = [Objective("err", "min", limit=0.5), Objective("acc", "max", limit=0.6)]
    study = Study.create("ref", space, objectives, store=tmp_path / "s.db", seed=0)
    ref = study.reference_point()
    assert ref is not None and ref.tolist() == [0.5, -0.6]  # losses: acc is turned so that lower is better
    study.optimize(lambda c, t: {"err": 0.2 + 0.1 * c["x"], "acc": 0.9 - 0.1 * c["x"]}, budget=3)
    assert study.reference_point().tolist() == [0.5, -0.6]  # type: ignore[union-attr]
    front = study.pareto_front()
    expected = max((0.5 - t.metrics["err"]) * (t.metrics["acc"] - 0.6) for t in front)  # type: ignore[index]
    assert study.hypervolume() >= expected - 1e-12


def test_best_is_a_front_member_when_a_dominated_trial_ties_on_its_objective(tmp_path: Path) -> None:
    study = Study.create("tie", _space(), ["err", "size"], store=tmp_path / "s.db", artifacts=tmp_path / "a")
    _tell_all(study, [
        {"err": 0.10, "size": 6000.0},  # 0: the same error as 1 with 6x the parameters: dominated
        {"err": 0.10, "size": 1000.0},  # 1
        {"err": 0.30, "size": 10.0},    # 2
    ])
    assert {t.number for t in study.pareto_front()} == {1, 2}
    assert study.best().number == 1  # type: ignore[union-attr]
    assert study.best("size").number == 2  # type: ignore[union-attr]
    single = Study.create("one", _space(), "err", store=tmp_path / "s.db", artifacts=tmp_path / "a")
    _tell_all(single, [{"err": 0.2}, {"err": 0.1}, {"err": 0.1}])
    assert single.best().number == 1  # type: ignore[union-attr]  # equal results: the earlier trial


def test_a_later_front_member_outside_the_reference_widens_it_and_counts(tmp_path: Path) -> None:
    study = Study.create("hv", _space(), ["err", "size"], store=tmp_path / "s.db", artifacts=tmp_path / "a")
    _tell_all(study, [{"err": 0.2, "size": 100.0}])
    study.record_reference()
    first = study.reference_point()
    assert first is not None and first.tolist() == pytest.approx([0.22, 110.0])
    assert study.hypervolume() == pytest.approx(0.02 * 10.0)
    _tell_all(study, [{"err": 0.05, "size": 600.0}])  # on the front, far outside the first reference
    ref = study.reference_point()
    assert ref is not None and ref.tolist() == pytest.approx([0.22, 660.0])
    expected = 0.02 * 560.0 + 0.15 * 60.0  # the union of both boxes below (0.22, 660)
    assert study.hypervolume() == pytest.approx(expected)
    study.record_reference()
    assert study.store.get_study("hv").info["reference_point"] == pytest.approx([0.22, 660.0])
    events = [e for e in study.store.events(study.id) if e.kind == "reference_point"]
    assert [e.trial_number for e in events] == [0, 1]
    assert events[1].data["before"] == pytest.approx([0.22, 110.0]) and events[1].data["after"] == pytest.approx([0.22, 660.0])
    study.record_reference()  # nothing new: nothing recorded twice
    assert len([e for e in study.store.events(study.id) if e.kind == "reference_point"]) == 2
