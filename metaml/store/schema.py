"""The database tables of a study store (SQLAlchemy 2 declarative)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Bump when a table changes; a store written with another version is refused (1 is upgraded in place).
SCHEMA_VERSION = 2


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "metaml_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class StudyRow(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    space: Mapped[dict[str, Any]] = mapped_column(JSON)
    objectives: Mapped[list[Any]] = mapped_column(JSON)
    optimizer: Mapped[str] = mapped_column(String(128))
    optimizer_settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(BigInteger)  # numpy seeds go up to 2**32 - 1
    created_at: Mapped[float] = mapped_column(Float)
    info: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Bumped by every change of a trial's state (a claim, a result, a requeue): the version a
    #: decision was made on, checked when it is committed (schema 2).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TrialRow(Base):
    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_trial_number"),
        Index("ix_trials_study_status", "study_id", "status"),
        Index("ix_trials_study_version", "study_id", "version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    fidelity: Mapped[float | None] = mapped_column(Float, nullable=True)
    continue_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    worker: Mapped[str | None] = mapped_column(String(256), nullable=True)
    heartbeat: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    start_step: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_step: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost_fte: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    info: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The study's version when this row last changed state: a snapshot reads only newer rows (schema 2).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ObservationRow(Base):
    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_trial", "study_id", "trial_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    trial_number: Mapped[int] = mapped_column(Integer)
    step: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    time: Mapped[float] = mapped_column(Float)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_study", "study_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    trial_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    time: Mapped[float] = mapped_column(Float)
