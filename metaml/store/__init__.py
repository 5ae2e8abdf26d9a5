"""Study stores: the single source of truth of every study (SQLite by default, PostgreSQL for many machines)."""

from __future__ import annotations

from metaml.core.records import Changes, Cursor, Event, Observation, Proposal, StudyRecord, TrialRecord, TrialStatus
from metaml.store.base import Decider, Store
from metaml.store.schema import SCHEMA_VERSION
from metaml.store.sql import SQLStore, open_store, resolve_url

__all__ = [
    "SCHEMA_VERSION",
    "Changes",
    "Cursor",
    "Decider",
    "Event",
    "Observation",
    "Proposal",
    "SQLStore",
    "Store",
    "StudyRecord",
    "TrialRecord",
    "TrialStatus",
    "open_store",
    "resolve_url",
]
