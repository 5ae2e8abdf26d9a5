"""Shared fixtures: store URLs for every backend (SQLite always, PostgreSQL when one is at hand).

PostgreSQL comes from, in this order:

1. ``METAML_TEST_POSTGRES_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``):
   each test gets a database of its own made through it (and dropped after), or, where that
   role may not create databases, the database the URL names, shared by every test;
2. the PostgreSQL server binaries (``/usr/lib/postgresql/*/bin/initdb``, Debian/Ubuntu
   package ``postgresql``): a throwaway cluster (``metaml.testing.postgres``) in a temporary
   folder, on a free loopback port, stopped and deleted at the end of the session (as root,
   it belongs to the ``postgres`` system user and its tools run via ``runuser``);
3. otherwise the PostgreSQL cases are skipped, with the reason.

Each test's database is a file copy of a template that already holds metaml's tables (much
quicker than making them); a test that needs a database without even those tables asks for
``new_store_url``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metaml.testing.postgres import admin_connect, start_cluster, why_unavailable

POSTGRES_ENV = "METAML_TEST_POSTGRES_URL"


@dataclass
class PostgresServer:
    """The session's PostgreSQL, or why there is none (``url`` None, ``reason`` says why)."""

    url: str | None  # the database tests share, where no database can be made; else the template's
    reason: str = ""
    admin_url: str | None = None  # where databases are made and dropped; None when the role cannot
    template: str | None = None  # the name of a database holding metaml's tables, copied for each test


def _database_url(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database(admin_url: str, template: str | None = None) -> Iterator[str]:
    """A new database (empty, or a copy of ``template``), dropped (its connections cut) afterwards."""
    name = f"metaml_test_{uuid.uuid4().hex[:12]}"
    with admin_connect(admin_url) as conn:
        if template is None:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            # a file copy of a small database is quicker than PostgreSQL 15's default (WAL_LOG)
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
    try:
        yield _database_url(admin_url, name)
    finally:
        with contextlib.suppress(Exception), admin_connect(admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _session_server(admin_url: str, can_create: bool) -> Iterator[PostgresServer]:
    if not can_create:
        yield PostgresServer(admin_url)
        return
    from metaml.store import SQLStore

    with postgres_database(admin_url) as template_url:
        SQLStore(template_url).close()  # make the tables once
        template = template_url.rsplit("/", 1)[-1]
        yield PostgresServer(template_url, admin_url=admin_url, template=template)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL for the session, or the reason there is none."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        yield PostgresServer(None, "psycopg is not installed (pip install 'metaml[postgres]')")
        return
    url = os.environ.get(POSTGRES_ENV)
    if url:
        try:
            with admin_connect(url) as conn:
                row = conn.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        except Exception as exc:  # a CI misconfiguration should say so, not skip quietly
            pytest.fail(f"{POSTGRES_ENV} is set but cannot be reached: {exc}")
        with _session_server(url, bool(row and row[0])) as server:
            yield server
        return
    why = why_unavailable()
    if why is not None:
        yield PostgresServer(None, f"{why}; or set {POSTGRES_ENV}")
        return
    try:
        cluster = start_cluster()
    except (subprocess.SubprocessError, OSError, KeyError, RuntimeError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-500:]
        yield PostgresServer(None, f"could not start a throwaway PostgreSQL: {exc} {detail}")
        return
    try:
        with _session_server(cluster.url, True) as server:
            yield server
    finally:
        cluster.stop()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _postgres(request: pytest.FixtureRequest) -> PostgresServer:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if server.url is None:
        pytest.skip(server.reason)
    return server


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a store without studies, once per backend: a new SQLite file, and a new PostgreSQL database.

    (Only where the role of ``METAML_TEST_POSTGRES_URL`` cannot create databases do the
    PostgreSQL cases share its database: then studies need unique names.)
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'study.db'}"
        return
    server = _postgres(request)
    if server.admin_url is None:
        assert server.url is not None
        yield server.url
        return
    with postgres_database(server.admin_url, server.template) as url:
        yield url


@pytest.fixture
def new_store_url(store_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """A URL on the backend of ``store_url`` where no store was ever opened (not even its tables).

    None where the role of ``METAML_TEST_POSTGRES_URL`` cannot create databases.
    """
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'new' / 'study.db'}"
        return
    server = _postgres(request)
    if server.admin_url is None:
        yield None
        return
    with postgres_database(server.admin_url) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    """An open SQLStore on ``store_url``, closed after the test."""
    from metaml.store import SQLStore

    s = SQLStore(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite store URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'study.db'}"
