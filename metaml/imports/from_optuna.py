"""An Optuna study (from its RDB storage) as a metaml study: its space, objectives, trials and curves.

What maps to what:

- distributions: ``FloatDistribution`` -> ``Float`` (log kept), ``IntDistribution`` -> ``Int``,
  ``CategoricalDistribution`` -> ``Categorical``; a range of one value -> ``Constant``. metaml
  has no stepped ranges: a ``step`` (other than an integer's 1) is refused unless
  ``drop_steps``, which imports the range as continuous and says so in the provenance.
- define-by-run parameters (set in some trials only) get the condition that explains them:
  a categorical (or integer) parameter whose values in the trials that set it never occur in
  those that do not; none found is refused, naming the parameter.
- directions -> objectives (``min`` / ``max``), named by the study's ``metric_names``, or
  ``value`` (``value_0``, ``value_1``, ... with several), or the names given.
- states: ``COMPLETE`` -> completed with its values; ``PRUNED`` -> pruned with its last
  intermediate value; ``FAIL`` -> failed with Optuna's fail reason; ``RUNNING`` and
  ``WAITING`` are not finished and are skipped (and counted).
- intermediate values -> the learning curve of the first objective, keyed by Optuna's step.

Every imported trial keeps Optuna's trial number and records its provenance (``source:
optuna``, the storage with its password hidden, the study, the trial number and id, its user
attributes) in ``TrialRecord.imported``; the study records the same in its metadata.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from metaml.core.records import ImportedTrial, TrialStatus
from metaml.errors import MissingExtraError, SpaceError, StoreError, StudyNotFoundError, shown
from metaml.imports.base import ImportReport, write_import
from metaml.imports.conditions import infer_conditions
from metaml.objectives import Objective
from metaml.space import Categorical, Constant, Float, Int, Space
from metaml.space.parameters import Parameter
from metaml.store import SQLStore

#: The Optuna states that are imported, as metaml's.
STATES = {"COMPLETE": TrialStatus.COMPLETED, "PRUNED": TrialStatus.PRUNED, "FAIL": TrialStatus.FAILED}


def import_optuna(
    storage: str,
    study_name: str,
    store: str | Path | SQLStore,
    name: str | None = None,
    *,
    objectives: Sequence[str] | None = None,
    drop_steps: bool = False,
) -> ImportReport:
    """Import the Optuna study ``study_name`` from ``storage`` (an RDB URL) into ``store`` as the study ``name``.

    Everything is read and checked before anything is written: an unreachable storage, an
    unknown study or a distribution metaml cannot represent raises a MetamlError and leaves
    the store as it was.
    """
    optuna = _optuna()
    study = _load(optuna, storage, study_name)
    where = _safe_url(storage)
    frozen = list(study.get_trials(deepcopy=False))
    names = _objective_names(study, objectives)
    goals = [_goal(d, n) for d, n in zip(study.directions, names, strict=True)]
    objs = [Objective(n, g) for n, g in zip(names, goals, strict=True)]
    finished = [t for t in frozen if t.state.name in STATES]
    skipped = [f"Optuna trial {t.number} is {t.state.name.lower()}: only finished trials are imported"
               for t in frozen if t.state.name not in STATES]  # fmt: skip
    stepped: dict[str, float] = {}
    # the space is what the trials that ran to a result set; a failed trial may have stopped halfway
    # through suggesting, or before a parameter no other trial has (it is then skipped, and said)
    decided = [t for t in finished if t.state.name in ("COMPLETE", "PRUNED")] or finished
    params = _parameters(decided, drop_steps, stepped)
    if not params:
        raise SpaceError(f"the Optuna study {study_name!r} in {where} has no finished trial with parameters: nothing to import")
    when = infer_conditions(params, [dict(t.params) for t in decided], f"the Optuna study {study_name!r}")
    space = Space({n: _with_when(p, when.get(n)) for n, p in params.items()})
    source = {"source": "optuna", "storage": where, "study": study_name}
    trials: list[ImportedTrial] = []
    for t in finished:
        got = _trial(t, space, names, source)
        if isinstance(got, str):
            skipped.append(got)
        else:
            trials.append(got)
    provenance = {**source, "optuna_version": optuna.__version__, "directions": [d.name.lower() for d in study.directions],
                  "user_attrs": dict(study.user_attrs), "conditions_inferred": when, "steps_dropped": stepped}  # fmt: skip
    return write_import(store, name or study_name, space, objs, trials, provenance, skipped)


def _optuna() -> ModuleType:
    try:
        module = importlib.import_module("optuna")
    except ImportError as exc:
        raise MissingExtraError(
            "metaml import optuna needs the 'optuna' extra (optuna is not installed): pip install 'metaml[optuna]'"
        ) from exc
    module.logging.set_verbosity(module.logging.WARNING)
    return module


def _load(optuna: ModuleType, storage: str, study_name: str) -> Any:
    """The Optuna study, or one line saying why it cannot be read (nothing created on the way)."""
    where = _safe_url(storage)
    if not isinstance(storage, str) or "://" not in storage:
        raise StoreError(f"an Optuna storage is an RDB URL such as sqlite:///optuna.db, got {shown(storage)}")
    if storage.startswith("sqlite:///"):
        path = storage[len("sqlite:///"):]
        if path and path != ":memory:" and not Path(path).is_file():
            raise StoreError(f"no Optuna storage at {where}: the file {path} does not exist")
    try:
        rdb = optuna.storages.RDBStorage(storage, skip_table_creation=True, skip_compatibility_check=False)
        known = [s.study_name for s in rdb.get_all_studies()]
    except Exception as exc:  # any driver or schema error: the storage cannot be read, whatever the library says
        raise StoreError(f"cannot read the Optuna storage {where}: {_first_line(exc)}") from None
    if study_name not in known:
        hint = f"studies there: {', '.join(known)}" if known else "it holds no study"
        raise StudyNotFoundError(f"no Optuna study named {study_name!r} in {where} ({hint})")
    try:
        return optuna.load_study(study_name=study_name, storage=rdb)
    except Exception as exc:
        raise StoreError(f"cannot read the Optuna study {study_name!r} in {where}: {_first_line(exc)}") from None


def _objective_names(study: Any, given: Sequence[str] | None) -> list[str]:
    n = len(study.directions)
    if given:
        if len(given) != n:
            raise SpaceError(f"the Optuna study has {n} objective(s), but {len(given)} name(s) were given: {list(given)}")
        return list(given)
    names = getattr(study, "metric_names", None)
    if names:
        return list(names)
    return ["value"] if n == 1 else [f"value_{i}" for i in range(n)]


def _goal(direction: Any, name: str) -> str:
    if direction.name == "MINIMIZE":
        return "min"
    if direction.name == "MAXIMIZE":
        return "max"
    raise SpaceError(f"the objective {name!r} has no direction in Optuna ({direction.name})")


def _parameters(trials: Sequence[Any], drop_steps: bool, stepped: dict[str, float]) -> dict[str, Parameter]:
    """One metaml parameter per Optuna parameter; the same name with two distributions is refused."""
    seen: dict[str, tuple[Any, int]] = {}
    for t in trials:
        for pname, dist in t.distributions.items():
            if pname not in seen:
                seen[pname] = (dist, t.number)
            elif seen[pname][0] != dist:
                raise SpaceError(
                    f"the Optuna parameter {pname!r} has two distributions ({seen[pname][0]} in trial "
                    f"{seen[pname][1]}, {dist} in trial {t.number}): metaml needs one range per parameter; "
                    "import the trials of one range at a time"
                )
    return {pname: _parameter(pname, dist, drop_steps, stepped) for pname, (dist, _) in seen.items()}


def _parameter(name: str, dist: Any, drop_steps: bool, stepped: dict[str, float]) -> Parameter:
    kind = type(dist).__name__
    try:
        if hasattr(dist, "choices"):
            return Categorical(list(dist.choices))
        low, high = dist.low, dist.high
        is_int = kind == "IntDistribution" or (isinstance(low, int) and isinstance(high, int) and "Int" in kind)
        step = getattr(dist, "step", None)
        if step is not None and not (is_int and step == 1):
            if not drop_steps:
                raise SpaceError(
                    f"it is a {kind} with step {step}, and metaml has no stepped ranges: pass --drop-steps "
                    f"(drop_steps=True) to import it as the whole range [{low}, {high}]"
                )
            stepped[name] = step
        if low == high:
            return Constant(low)
        return (Int if is_int else Float)(low, high, log=bool(getattr(dist, "log", False)))
    except SpaceError as exc:
        raise SpaceError(f"the Optuna parameter {name!r} cannot be represented: {exc}") from None
    raise AssertionError("unreachable")


def _with_when(param: Parameter, when: Mapping[str, list[Any]] | None) -> Parameter:
    if when is None:
        return param
    if isinstance(param, Categorical):
        return Categorical(list(param.choices), when=when)
    if isinstance(param, Constant):
        return Constant(param.value, when=when)
    assert isinstance(param, (Float, Int))
    return type(param)(param.lower, param.upper, log=param.log, when=when)


def _trial(t: Any, space: Space, names: Sequence[str], source: Mapping[str, Any]) -> ImportedTrial | str:
    """One finished Optuna trial as an imported one, or why it is skipped."""
    status = STATES[t.state.name]
    try:
        config = space.validate(dict(t.params))
    except SpaceError as exc:
        return f"Optuna trial {t.number} ({t.state.name.lower()}) does not fit the space: {exc}"
    curve = tuple((float(step), {names[0]: float(v)}) for step, v in sorted(t.intermediate_values.items())
                  if v is not None and math.isfinite(v))  # fmt: skip
    metrics: dict[str, Any] | None = None
    if t.values is not None and status is not TrialStatus.FAILED:
        if len(t.values) != len(names) or not all(v is not None and math.isfinite(v) for v in t.values):
            return f"Optuna trial {t.number} has the values {list(t.values)}, not {len(names)} finite number(s)"
        metrics = {n: float(v) for n, v in zip(names, t.values, strict=True)}
    elif status is TrialStatus.PRUNED and curve:
        metrics = dict(curve[-1][1])
    elif status is TrialStatus.COMPLETED:
        return f"Optuna trial {t.number} is complete but has no value"
    error = None
    if status is TrialStatus.FAILED:
        error = str(t.system_attrs.get("fail_reason") or "the trial failed in Optuna (which kept no reason)")
    provenance = {**source, "number": t.number, "trial_id": getattr(t, "_trial_id", None),
                  "state": t.state.name, "user_attrs": dict(t.user_attrs)}  # fmt: skip
    return ImportedTrial(
        number=t.number, config=config, status=status, provenance=provenance, metrics=metrics, curve=curve,
        error=error, started_at=_stamp(t.datetime_start), ended_at=_stamp(t.datetime_complete),
    )  # fmt: skip


def _stamp(when: Any) -> float | None:
    return None if when is None else float(when.timestamp())


def _safe_url(url: Any) -> str:
    """The storage URL with its password hidden (it is shown in messages and kept as provenance)."""
    if not isinstance(url, str):
        return shown(url)
    try:
        from sqlalchemy.engine import make_url

        return str(make_url(url).render_as_string(hide_password=True))
    except Exception:
        return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
