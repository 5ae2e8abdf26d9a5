"""What only the SQL store does: schemas and their upgrade, databases that are not metaml stores, URLs.

The store contract itself (what any backend must do) is checked by ``metaml.testing.store``,
run on every backend in test_conformance.py.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine

from metaml.core.records import Changes, Proposal
from metaml.errors import StoreError
from metaml.store import SCHEMA_VERSION, SQLStore, TrialStatus, open_store
from metaml.store.schema import MetaRow
from metaml.testing.store import OBJECTIVES, SPACE


def _study(store: SQLStore, name: str | None = None) -> int:
    return store.create_study(name or f"study-{uuid.uuid4().hex[:8]}", SPACE, OBJECTIVES, "random", {}, 0, {}).id


def _propose(changes: Changes) -> Proposal:
    return Proposal({"x": len(changes.trials) / 100})


# ------------------------------------------------------------------ schema versions


def test_a_schema_version_mismatch_is_refused_clearly(store: SQLStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(MetaRow).where(MetaRow.key == "schema_version").values(value="999"))
    try:
        with pytest.raises(StoreError) as info:
            SQLStore(store.url)
        message = str(info.value)
        assert "schema version 999" in message and f"version {SCHEMA_VERSION}" in message
        assert "new store" in message  # says what to do
        with pytest.raises(StoreError, match="schema version 999"):
            open_store(store.url)
    finally:
        with store.engine.begin() as conn:
            conn.execute(update(MetaRow).where(MetaRow.key == "schema_version").values(value=str(SCHEMA_VERSION)))
    SQLStore(store.url).close()


def test_a_schema_1_store_is_upgraded_in_place(store_url: str) -> None:
    from sqlalchemy import create_engine, text

    first = SQLStore(store_url)
    sid = _study(first, name="old")
    first.ask(sid, "w", _propose)
    first.close()
    engine = create_engine(store_url)
    with engine.begin() as conn:  # make it look as metaml 0.1's schema 1 left it
        conn.execute(text("DROP INDEX ix_trials_study_version"))
        conn.execute(text("ALTER TABLE trials DROP COLUMN version"))
        conn.execute(text("ALTER TABLE studies DROP COLUMN version"))
        conn.execute(text("UPDATE metaml_meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()
    again = SQLStore(store_url, create=False)
    try:
        assert [t.number for t in again.snapshot(sid).trials] == [0]  # every old trial is in the first snapshot
        again.finish(sid, 0, TrialStatus.COMPLETED, metrics={"loss": 1.0})
        with again.engine.connect() as conn:
            assert conn.execute(text("SELECT value FROM metaml_meta WHERE key = 'schema_version'")).scalar() == str(SCHEMA_VERSION)
    finally:
        again.close()


# ---------------------------------------------- databases that are not metaml stores


def _foreign(path: Path) -> Path:
    """A SQLite file of another tool (Optuna-like: it even has a table called 'studies')."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT)")
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO studies VALUES (1, 'theirs')")
        conn.execute("INSERT INTO alembic_version VALUES ('v3.0.0.d')")
    conn.close()
    return path


def _state(folder: Path) -> dict[str, str]:
    """Every file in the folder with a hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("create", [False, True])
def test_a_foreign_sqlite_database_is_refused_and_left_unchanged(tmp_path: Path, create: bool) -> None:
    path = _foreign(tmp_path / "optuna.db")
    before = _state(tmp_path)
    with pytest.raises(StoreError, match="not a metaml store") as info:
        open_store(path, create=create)
    assert "studies" in str(info.value)  # names what it found
    assert _state(tmp_path) == before  # not a byte written, no -wal or -shm file made


def test_an_empty_database_is_not_made_a_store_by_reading(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StoreError, match="no metaml store"):
        SQLStore(path, create=False)
    assert _state(tmp_path) == {"empty.db": hashlib.sha256(b"").hexdigest()}
    store = SQLStore(path)  # creating one there is what create=True is for
    assert store.list_studies() == []
    store.close()


def test_a_store_without_its_version_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    store = SQLStore(path)
    with store.engine.begin() as conn:
        conn.execute(delete(MetaRow))
    store.close()
    for create in (False, True):
        with pytest.raises(StoreError, match="not a metaml store"):
            SQLStore(path, create=create)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metaml_meta").fetchone() == (0,)  # not stamped
    conn.close()


def test_reading_a_metaml_store_works_and_writes_no_table(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    SQLStore(path).close()
    with sqlite3.connect(path) as conn:
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    conn.close()
    reader = SQLStore(path, create=False)
    assert reader.list_studies() == []
    reader.close()
    with sqlite3.connect(path) as conn:
        after = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    conn.close()
    assert after == tables


def test_a_folder_as_the_store_says_so_and_suggests_a_file(tmp_path: Path) -> None:
    (tmp_path / "runs" / "quick").mkdir(parents=True)
    SQLStore(tmp_path / "runs" / "quick" / "study.db").close()
    for create in (False, True):
        with pytest.raises(StoreError) as info:
            open_store(tmp_path / "runs", create=create)
        message = str(info.value)
        assert "folder" in message and "<name>/study.db" in message
        assert str(tmp_path / "runs" / "quick" / "study.db") in message  # the store it holds


@pytest.mark.parametrize(
    ("url", "package"),
    [
        ("mysql://user@localhost/db", "MySQLdb"),
        ("mssql://user@localhost/db", "pyodbc"),
        ("postgresql+psycopg2://user@localhost/db", "psycopg2"),
    ],
)
def test_a_url_whose_driver_is_missing_names_the_package_and_the_supported_schemes(url: str, package: str) -> None:
    try:
        __import__(package)
        pytest.skip(f"{package} is installed here")
    except ImportError:
        pass
    with pytest.raises(StoreError) as info:
        open_store(url, create=False)
    message = str(info.value)
    assert repr(package) in message
    assert "sqlite" in message and "postgresql+psycopg://" in message and "metaml[postgres]" in message


# ---------------------------------------------------------------- opening by URL


def test_an_unreachable_server_is_a_quick_store_error() -> None:
    pytest.importorskip("psycopg")
    start = time.time()
    with pytest.raises(StoreError) as info:
        open_store("postgresql+psycopg://u:secret@127.0.0.1:1/x")
    assert time.time() - start < 5
    message = str(info.value)
    assert "127.0.0.1:1" in message and "secret" not in message  # the password is hidden


@pytest.mark.parametrize(
    "url,pattern",
    [
        ("nosuchdb://host/x", "cannot use the store URL"),
        ("sqlite:///{tmp}/file.txt/study.db", "cannot create the store"),
        ("{tmp}", "store .*failed"),  # a folder, not a database file
    ],
)
def test_unusable_urls_are_store_errors(tmp_path: Any, url: str, pattern: str) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    with pytest.raises(StoreError, match=pattern):
        open_store(url.format(tmp=tmp_path))


def test_opening_a_missing_store_without_create(tmp_path: Any) -> None:
    with pytest.raises(StoreError, match="no study store"):
        SQLStore(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_paths_and_memory_urls(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = open_store(tmp_path / "deep" / "er" / "study.db")
    assert s.url == f"sqlite:///{tmp_path / 'deep' / 'er' / 'study.db'}" and s.is_sqlite
    assert open_store(s) is s
    s.close()
    mem = SQLStore("sqlite://")
    _study(mem)
    assert len(mem.list_studies()) == 1
    mem.close()
    assert list(tmp_path.iterdir()) == [tmp_path / "deep"]  # "sqlite://" made no folder


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_a_quick_store_error(postgres_server: Any) -> None:
    if postgres_server.url is None:
        pytest.skip(postgres_server.reason)
    from sqlalchemy.engine import make_url

    url = make_url(postgres_server.url).set(database="no_such_database").render_as_string(hide_password=False)
    start = time.time()
    with pytest.raises(StoreError, match="no_such_database"):
        open_store(url)
    assert time.time() - start < 5


def test_a_wal_switch_that_meets_a_lock_is_retried_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # processes opening a new store at once can meet in a lock SQLite answers at once ("database is locked"),
    # and the switch to WAL runs outside any transaction, so outside _retry: it raised (a flaky worker test)
    path = tmp_path / "study.db"
    SQLStore(f"sqlite:///{path}").close()
    plain = sqlite3.connect(path, isolation_level=None)
    plain.execute("PRAGMA journal_mode=DELETE")
    plain.close()
    real, tries = Engine.raw_connection, []

    class Cursor:
        def __init__(self, real: Any) -> None:
            self.real = real

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "PRAGMA journal_mode=WAL" and len(tries) < 2:
                tries.append(sql)
                raise sqlite3.OperationalError("database is locked")
            return self.real.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    class Locked:
        def __init__(self, real: Any) -> None:
            self.real = real

        def cursor(self) -> Cursor:
            return Cursor(self.real.cursor())

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

    monkeypatch.setattr(Engine, "raw_connection", lambda self: Locked(real(self)))
    SQLStore(f"sqlite:///{path}").close()
    assert len(tries) == 2
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_brief_lock_waits_are_quiet_and_a_long_one_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    import metaml.store.sql as sql

    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setattr(sql.time, "sleep", lambda seconds: None)
    failures = iter(range(6))

    def locked_six_times() -> str:
        if next(failures, None) is not None:
            raise OperationalError("UPDATE trials", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    with caplog.at_level("DEBUG", logger="metaml.store.sql"):
        assert store._retry(locked_six_times) == "done"
    levels = [r.levelname for r in caplog.records if "store busy" in r.getMessage()]
    assert levels == ["DEBUG"] * 4 + ["WARNING"] * 2  # waits of 0.05 to 0.4 s are normal; 0.8 s and more are not
    store.close()
