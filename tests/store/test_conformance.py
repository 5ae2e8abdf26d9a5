"""metaml's SQL store runs the package's store conformance suite (``metaml.testing.store``) on every backend.

The backends are the ``store_url`` parameters of tests/conftest.py (a SQLite file, a PostgreSQL
database); a new backend joins there or with a ``StoreSuite`` subclass of its own, not with
copies of the tests. What only the SQL store has (schemas, foreign databases, URLs) is tested
in test_sql.py.
"""

from __future__ import annotations

import functools

import pytest
from sqlalchemy import update

from metaml.store import SQLStore, Store
from metaml.store.schema import TrialRow
from metaml.testing.store import Opener, StoreSuite


class TestSQLStore(StoreSuite):
    """``SQLStore`` on each backend of ``store_url`` (the ``store`` fixture comes from tests/conftest.py)."""

    def age(self, store: Store, study_id: int, number: int, seconds: float) -> None:
        assert isinstance(store, SQLStore)
        with store.engine.begin() as conn:
            conn.execute(
                update(TrialRow)
                .where(TrialRow.study_id == study_id, TrialRow.number == number)
                .values(heartbeat=TrialRow.heartbeat - seconds)
            )

    @pytest.fixture
    def new_opener(self, new_store_url: str | None) -> Opener | None:
        return None if new_store_url is None else functools.partial(SQLStore, new_store_url)
