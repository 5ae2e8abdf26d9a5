"""A throwaway PostgreSQL cluster on loopback, for tests and benchmarks that need a real server.

It uses the server binaries of the Debian/Ubuntu package ``postgresql``
(``/usr/lib/postgresql/*/bin``). PostgreSQL refuses to run as root, so as root the cluster
belongs to the ``postgres`` system user and its tools run through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cluster:
    """A running throwaway cluster: its admin URL and where its files are."""

    url: str
    bindir: Path
    data: Path
    base: Path

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            subprocess.run(
                _as_postgres_user([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
                capture_output=True, timeout=60,
            )
        shutil.rmtree(self.base, ignore_errors=True)


def server_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parents[1].name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    return Path(max(found, key=version)).parent if found else None


def why_unavailable() -> str | None:
    """Why no throwaway cluster can be started here, or None when one can."""
    if server_bindir() is None:
        return "no PostgreSQL server binaries (install the Debian package 'postgresql')"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as its own user"
    return None


def start_cluster() -> Cluster:
    """initdb and start a cluster on a free loopback port (durability off: it is thrown away)."""
    bindir = server_bindir()
    if bindir is None:
        raise RuntimeError(why_unavailable() or "no PostgreSQL")
    base = Path(tempfile.mkdtemp(prefix="metaml-pg-"))
    data, log = base / "data", base / "server.log"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    base.chmod(0o700)
    subprocess.run(
        _as_postgres_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True, timeout=120,
    )
    port = _free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]),
        check=True, capture_output=True, timeout=120,
    )
    return Cluster(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", bindir, data, base)


def admin_connect(url: str):  # type: ignore[no-untyped-def]
    """An autocommit psycopg connection for CREATE/DROP DATABASE."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database or "postgres",
        autocommit=True, connect_timeout=10,
    )


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url``, dropped afterwards; yields its URL."""
    from sqlalchemy.engine import make_url

    name = f"metaml_{uuid.uuid4().hex[:12]}"
    with admin_connect(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_connect(admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres_user(cmd: list[str]) -> list[str]:
    return cmd if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *cmd]
