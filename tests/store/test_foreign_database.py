"""Opening a store never writes to a database that is not a metaml store, and refuses it as such."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import delete

from metaml.errors import StoreError
from metaml.store import SQLStore, open_store
from metaml.store.schema import MetaRow


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
