"""What the integrations share: a clear error for a missing extra or a bad destination, and the study as read once."""

from __future__ import annotations

import importlib
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from metaml.core.records import Observation, TrialRecord, TrialStatus
from metaml.errors import MetamlError, MissingExtraError

if TYPE_CHECKING:
    from metaml.objectives import Objective
    from metaml.study import Study


class IntegrationError(MetamlError):
    """An integration cannot write where it was told (a folder that cannot be written, an unreachable server)."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """The module ``module``, or a MissingExtraError that says ``pip install 'metaml[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        raise MissingExtraError(
            f"{feature} needs the '{extra}' extra ({missing} is not installed): pip install 'metaml[{extra}]'"
        ) from exc


def writable_directory(path: str | Path, option: str) -> Path:
    """``path`` as a folder that exists and can be written (made if missing), or an IntegrationError naming it."""
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".metaml-write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise IntegrationError(f"{option} {folder}: cannot write there ({reason}); name a folder you can write") from None
    return folder


def plain(value: Any) -> str | float | int | bool:
    """A configuration value as the scalar a tracking tool stores (numbers and booleans as they are, the rest as text)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def integer_step(step: float) -> int:
    """A curve step as the integer TensorBoard and MLflow want: whole steps (epochs) as they are, others in thousandths."""
    return int(step) if float(step).is_integer() else int(round(step * 1000))


def finite_metrics(metrics: dict[str, Any] | None) -> dict[str, float]:
    """The finite numeric metrics of a trial or a curve point (lists, texts and NaN left out)."""
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


@dataclass(frozen=True)
class StudySnapshot:
    """A study as read once from its store: its trials, each one's learning curve, and the front."""

    name: str
    uid: str | None
    objectives: tuple[Objective, ...]
    trials: tuple[TrialRecord, ...]
    curves: dict[int, tuple[Observation, ...]]
    front: frozenset[int]
    created_at: float
    seed: int

    @classmethod
    def read(cls, study: Study) -> StudySnapshot:
        """One picture, from the study's view (one delta read) and the results of that same picture."""
        view = study.view()
        trials = view.trials
        created = min([t.created_at for t in trials if t.created_at is not None], default=0.0)
        return cls(
            name=study.name,
            uid=study.uid,
            objectives=tuple(study.objectives),
            trials=trials,
            curves=dict(view.curves),
            front=frozenset(t.number for t in study.results(trials).front),
            created_at=created,
            seed=study.seed,
        )

    @property
    def finished(self) -> tuple[TrialRecord, ...]:
        return tuple(t for t in self.trials if t.status.finished)

    @property
    def started(self) -> tuple[TrialRecord, ...]:
        """The trials that ran or run now (queued ones have nothing to show yet)."""
        return tuple(t for t in self.trials if t.status is not TrialStatus.PENDING)

    def origin(self, trial: TrialRecord) -> str:
        """Why the optimizer proposed this trial, as its decision log says."""
        reason = trial.info.get("reason") if isinstance(trial.info, dict) else None
        return str(reason) if reason else "enqueued"


def run_name(trial: TrialRecord) -> str:
    """The name a trial's run has in every integration: ``trial-00007``."""
    return f"trial-{trial.number:05d}"


def ensure_inside(path: Path, root: Path) -> Path:
    """``path``, checked to lie inside ``root`` (names come from the store; none may climb out)."""
    resolved, base = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([resolved, base]) != base:
        raise IntegrationError(f"refusing to write {path}: outside {root}")
    return path
