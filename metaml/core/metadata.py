"""What a study records about itself besides its trials, as typed fields instead of a free dict.

The store keeps it as one JSON object (the study row's ``info``); every writer and reader
goes through ``StudyMetadata``, so a key cannot be read that nobody writes (or written under
a misspelt name: ``Study.update_metadata`` refuses unknown fields). Keys that a later
version of metaml wrote are kept in ``extra`` and written back untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class StudyMetadata:
    """A study's identity, provenance, what a worker needs to join it, and what its runs recorded."""

    # identity: written once, at creation
    #: The study's identity, in every checkpoint it writes (a study of the same name elsewhere has another).
    uid: str | None = None
    #: The folder its checkpoints live under.
    artifacts: str | None = None
    # provenance at creation
    metaml_version: str | None = None
    python: str | None = None
    platform: str | None = None
    host: str | None = None
    command: str | None = None
    #: Installed package versions, by name.
    packages: Mapping[str, str] | None = None
    #: The git commit of the study file's folder (``{"commit": ..., "dirty": ...}``).
    git: Mapping[str, Any] | None = None
    study_file: str | None = None
    study_yaml: str | None = None
    description: str | None = None
    #: A hash of the data, when the caller gives one at creation (``Study.create(info={"data_hash": ...})``);
    #: else the report takes the one the trials' provenance files agree on.
    data_hash: str | None = None
    #: For a study imported from elsewhere (``metaml import``): its source (``optuna``, ``csv``), where it was
    #: read from, what was imported and what was skipped. Its trials carry their own ``info["imported"]``.
    imported: Mapping[str, Any] | None = None
    #: The earlier studies a warm-started study learns from, matched and frozen at creation
    #: (``metaml.core.warm_start.warm_start_to_info``): their trials, never this study's own.
    warm_start: Mapping[str, Any] | None = None
    # what `metaml worker` needs to join the study from another process or machine
    #: The training function, ``module:function`` or ``path.py:function``.
    function: str | None = None
    #: The folder a relative ``path.py`` in ``function`` is found from.
    function_dir: str | None = None
    #: The budget the latest ``metaml run`` ran under (``Budget.to_dict``).
    budget: Mapping[str, Any] | None = None
    #: The execution settings of the latest ``metaml run`` (``ExecutionSettings.to_dict``).
    execution: Mapping[str, Any] | None = None
    # what runs recorded
    #: A fixed hyperparameter schedule every trial replays (``metaml.core.schedule.Schedule.to_dict``; the
    #: study file's ``schedule:``), set at creation.
    schedule: Mapping[str, Any] | None = None
    #: The default trial of a built-in pipeline: ``{"number", "config", "pipeline"}``.
    default_trial: Mapping[str, Any] | None = None
    #: The hypervolume reference point last recorded (``Study.record_reference``).
    reference_point: tuple[float, ...] | None = None
    #: The final test evaluation of the front (``metaml.final_evaluation``).
    test_evaluation: Mapping[str, Any] | None = None
    #: Keys this version does not know (written by a later one): kept as they are.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in fields(cls) if f.name != "extra")

    @classmethod
    def from_info(cls, info: Mapping[str, Any] | None) -> StudyMetadata:
        """The metadata stored as ``info`` (a study row's JSON object)."""
        info = dict(info or {})
        known = cls.field_names()
        values: dict[str, Any] = {k: v for k, v in info.items() if k in known}
        if values.get("reference_point") is not None:
            values["reference_point"] = tuple(float(x) for x in values["reference_point"])
        return cls(**values, extra={k: v for k, v in info.items() if k not in known})

    def to_info(self) -> dict[str, Any]:
        """The JSON object the store keeps: set fields only, and the unknown keys as they came."""
        out = dict(self.extra)
        for name in self.field_names():
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @staticmethod
    def encode(**changes: Any) -> dict[str, Any]:
        """``changes`` as the store's JSON update (tuples as lists); an unknown field name is refused (a ``TypeError``)."""
        unknown = sorted(set(changes) - StudyMetadata.field_names())
        if unknown:
            raise TypeError(f"unknown study metadata field(s) {unknown}; known: {sorted(StudyMetadata.field_names())}")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}
