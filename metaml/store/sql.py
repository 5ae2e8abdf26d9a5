"""The SQLAlchemy store: a SQLite file by default, PostgreSQL (or any SQLAlchemy URL) for many machines."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from metaml.core.interventions import INTERVENTION
from metaml.core.records import (
    IMPORTED_KEY,
    Changes,
    Cursor,
    Event,
    ImportedTrial,
    Observation,
    Proposal,
    StudyRecord,
    TrialRecord,
    TrialStatus,
)
from metaml.errors import StoreError, StudyNotFoundError
from metaml.store.base import Decider
from metaml.store.schema import SCHEMA_VERSION, Base, EventRow, MetaRow, ObservationRow, StudyRow, TrialRow

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long SQLite waits for a lock before it answers "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
#: How often a still-locked or briefly unreachable database is retried before giving up.
RETRIES = 8
#: Seconds to wait for a PostgreSQL server to answer a new connection.
CONNECT_TIMEOUT_S = 10
#: The longest study name the studies table holds.
MAX_NAME_LENGTH = 256
#: PostgreSQL advisory lock that serializes making the tables of a new store.
_PREPARE_LOCK = 0x6D65_7461_6D6C  # "metaml"


def resolve_url(store: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a file path (a path means a SQLite file)."""
    text = str(store)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


class SQLStore:
    """A study store behind SQLAlchemy 2; safe for many processes and, on PostgreSQL, many machines."""

    def __init__(self, url: str | Path, *, create: bool = True) -> None:
        self.url = resolve_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        try:
            self.engine = self._make_engine(create)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StoreError(f"cannot use the store URL {self.safe_url}: {exc}") from None
        except OSError as exc:  # the SQLite file's folder cannot be made
            raise StoreError(f"cannot create the store {self.safe_url}: {exc}") from None
        except ModuleNotFoundError as exc:  # the URL's driver (mysql:// needs MySQLdb, mssql:// pyodbc, ...)
            scheme = self.url.split("://", 1)[0]
            hint = " (write postgresql+psycopg:// for psycopg 3)" if scheme.startswith("postgresql") else ""
            raise StoreError(
                f"the store URL {self.safe_url} needs the Python package {exc.name!r}, which is not installed{hint}. "
                "metaml supports SQLite (a file path, or sqlite:///path/to/study.db) and PostgreSQL "
                "(postgresql+psycopg://user:pass@host/db, after pip install 'metaml[postgres]')"
            ) from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            self._prepare(create)
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        try:
            from sqlalchemy.engine import make_url

            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return self.url

    # ------------------------------------------------------------------ engine
    def _make_engine(self, create: bool) -> Engine:
        if self.is_sqlite:
            path = make_url(self.url).database or ""  # "sqlite://" is a database in memory
            if path and path != ":memory:" and not path.startswith("file:"):
                if Path(path).is_dir():
                    found = sorted(str(p) for p in Path(path).glob("*/study.db"))[:5]
                    holds = f" (it holds {', '.join(found)})" if found else ""
                    raise StoreError(
                        f"the store {path} failed to open: it is a folder, not a SQLite file; give a file in it, "
                        f"e.g. {Path(path) / '<name>' / 'study.db'}{holds}"
                    )
                if not create and not Path(path).exists():
                    raise StoreError(f"no study store at {path}: run 'metaml run' first, or pass --store")
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                self.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None}
            )

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_connection: Any, _record: Any) -> None:
                # (only settings of this connection: the journal mode, a setting of the file, is
                # switched to WAL by _prepare once it knows the file is a metaml store it may write)
                cursor = dbapi_connection.cursor()
                # With WAL, NORMAL never corrupts the file on a process crash; only a power cut
                # can lose the last commits. It makes each commit (each reported epoch) far cheaper.
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Any) -> None:
                # An IMMEDIATE transaction takes the write lock at once, so that two
                # processes deciding the next trial are serialized instead of deadlocking.
                immediate = conn.get_execution_options().get("immediate", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        connect_args: dict[str, Any] = {}
        if self.url.startswith("postgresql"):
            # an unroutable host would otherwise hang for the system's TCP timeout (minutes)
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
        return create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)

    def _prepare(self, create: bool) -> None:
        """Check that the database is a metaml store of this schema; with ``create``, make one in an empty database.

        Reading never writes: without ``create`` no table is made and no version stamped (a schema-1
        metaml store is the exception: it is upgraded in place, see ``_upgrade_from_1``). A
        database that holds other tables, or metaml's without their version row, is refused
        as not a metaml store, whether or not ``create`` is given.
        """
        from sqlalchemy import insert, inspect
        from sqlalchemy.exc import DatabaseError

        def work() -> None:
            with self.engine.connect() as conn:
                if create and self.is_sqlite:
                    conn = conn.execution_options(immediate=True)  # two processes creating a store take turns
                with conn.begin():
                    if create and conn.dialect.name == "postgresql":
                        # processes opening a new store at once would race to create the same tables
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PREPARE_LOCK})
                    tables = sorted(inspect(conn).get_table_names())
                    if not tables and create:
                        # the tables and the version row in one transaction: no one sees one without the other
                        Base.metadata.create_all(conn)
                        conn.execute(insert(MetaRow).values(key="schema_version", value=str(SCHEMA_VERSION)))
                        return
                    if not tables:
                        raise StoreError(
                            f"{self.safe_url} holds no metaml store yet (it has no tables): create one with "
                            "'metaml run', or pass the --store that your study uses"
                        )
                    version = None
                    if MetaRow.__tablename__ in tables:
                        version = conn.execute(select(MetaRow.value).where(MetaRow.key == "schema_version")).scalar()
                    if version is None:
                        listed = ", ".join(tables[:6]) + (", ..." if len(tables) > 6 else "")
                        raise StoreError(
                            f"{self.safe_url} is not a metaml store: it has tables ({listed}) but no metaml "
                            "version row, so metaml neither reads nor changes it; give metaml a file or "
                            "database of its own"
                        )
                    if version == "1":
                        version = _upgrade_from_1(conn)
                    if version != str(SCHEMA_VERSION):
                        raise StoreError(
                            f"the store {self.safe_url} has schema version {version}, but this metaml "
                            f"uses version {SCHEMA_VERSION}: use the metaml version that wrote it, or a new store"
                        )
                    if create:
                        Base.metadata.create_all(conn)  # (checkfirst: only a table this version adds is made)

        # A store that cannot be reached when it is opened is reported at once (a wrong URL,
        # a server not started): retrying connections is for a store that was working.
        try:
            self._retry(work, reconnect=False)
        except (IntegrityError, ProgrammingError):
            # another process created the tables (or the version row) at the same moment: look again
            try:
                self._retry(work, reconnect=False)
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot prepare the store {self.safe_url}: {getattr(exc, 'orig', None) or exc}") from None
        except DatabaseError as exc:  # e.g. "file is not a database"
            raise StoreError(f"the store {self.safe_url} is not a database metaml can read: {exc.orig or exc}") from None
        if create and self.is_sqlite:
            self._use_wal()

    def _use_wal(self) -> None:
        """Switch the file to WAL, which lets readers go on while a worker writes (a setting of the file).

        On a raw connection, outside any transaction (SQLite refuses the switch inside one), and
        through ``_retry`` like every other statement: processes opening a new store at once can
        meet in a lock SQLite answers at once with "database is locked" rather than waiting.
        """
        import sqlite3

        def switch() -> None:
            raw = self.engine.raw_connection()
            cursor = raw.cursor()
            try:
                # every row read, so that no statement keeps a read lock open
                if str(cursor.execute("PRAGMA journal_mode").fetchall()[0][0]).lower() != "wal":
                    cursor.execute("PRAGMA journal_mode=WAL").fetchall()
            except sqlite3.OperationalError as exc:
                raise OperationalError("PRAGMA journal_mode=WAL", None, exc) from None  # what _retry retries
            finally:
                cursor.close()
                raw.close()

        self._retry(switch, reconnect=False)

    # --------------------------------------------------------------- plumbing
    @contextmanager
    def _session(self, immediate: bool = False) -> Iterator[Session]:
        if immediate and self.is_sqlite:
            with self.engine.connect() as conn:
                conn = conn.execution_options(immediate=True)
                with Session(bind=conn, expire_on_commit=False) as s, s.begin():
                    yield s
            return
        with self._sessions() as s, s.begin():
            yield s

    def _retry(self, fn: Callable[[], T], reconnect: bool = True) -> T:
        """Run ``fn``, retrying a locked (or, with ``reconnect``, briefly unreachable) database with backoff."""
        delay = 0.05
        for attempt in range(RETRIES + 1):
            try:
                return fn()
            except OperationalError as exc:
                message = str(exc.orig) if exc.orig is not None else str(exc)
                transient = any(word in message for word in ("locked", "busy", "could not serialize", "deadlock"))
                if attempt == RETRIES or not (transient or (reconnect and "connection" in message.lower())):
                    raise StoreError(f"the store {self.safe_url} failed: {message.strip()}") from None
                # Brief lock waits are normal with several workers on one SQLite file: said only with -v.
                # A wait that grows past a second is worth a warning (another process may hold the lock).
                level = logging.WARNING if delay >= 0.8 else logging.DEBUG
                log.log(level, "store busy (%s); retrying in %.2f s", message.strip(), delay)
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------- studies
    def create_study(
        self,
        name: str,
        space: dict[str, Any],
        objectives: list[dict[str, Any]],
        optimizer: str,
        optimizer_settings: dict[str, Any],
        seed: int,
        info: dict[str, Any],
    ) -> StudyRecord:
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
            raise StoreError(f"a study name is a text of 1 to {MAX_NAME_LENGTH} characters, got {name!r}")

        def work() -> StudyRecord:
            with self._session() as s:
                row = StudyRow(
                    name=name,
                    space=_clean(space),
                    objectives=_clean(objectives),
                    optimizer=optimizer,
                    optimizer_settings=_clean(optimizer_settings),
                    seed=int(seed),
                    created_at=time.time(),
                    info=_clean(info),
                )
                s.add(row)
                s.flush()
                return _study(row)

        try:
            return self._retry(work)
        except IntegrityError:
            raise StoreError(f"a study named {name!r} already exists in {self.safe_url}") from None

    def import_study(
        self,
        name: str,
        space: dict[str, Any],
        objectives: list[dict[str, Any]],
        optimizer: str,
        optimizer_settings: dict[str, Any],
        seed: int,
        info: dict[str, Any],
        trials: Sequence[ImportedTrial],
    ) -> StudyRecord:
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
            raise StoreError(f"a study name is a text of 1 to {MAX_NAME_LENGTH} characters, got {name!r}")
        numbers = [t.number for t in trials]
        if len(set(numbers)) != len(numbers) or any(not isinstance(n, int) or n < 0 for n in numbers):
            raise StoreError(f"imported trials need distinct numbers from 0 up, got {numbers[:10]}")
        if any(not t.status.finished for t in trials):
            raise StoreError("only finished trials (completed, pruned, failed, lost) can be imported")

        def work() -> StudyRecord:
            now = time.time()
            with self._session(immediate=True) as s:
                row = StudyRow(
                    name=name, space=_clean(space), objectives=_clean(objectives), optimizer=optimizer,
                    optimizer_settings=_clean(optimizer_settings), seed=int(seed), created_at=now, info=_clean(info),
                    version=1 if trials else 0,
                )  # fmt: skip
                s.add(row)
                s.flush()
                for t in trials:
                    s.add(_imported_row(row.id, t, now))
                    for step, metrics in t.curve:
                        s.add(ObservationRow(study_id=row.id, trial_number=t.number, step=float(step),
                                             metrics=_clean(metrics), time=t.ended_at or now))  # fmt: skip
                source = (info.get(IMPORTED_KEY) or {}).get("source", "elsewhere")
                s.add(_event_row(row.id, "imported", f"{len(trials)} trials imported from {source}", None,
                                 {"trials": len(trials)}, now))  # fmt: skip
                s.flush()
                return _study(row)

        try:
            return self._retry(work)
        except IntegrityError:
            raise StoreError(f"a study named {name!r} already exists in {self.safe_url}") from None

    def get_study(self, name: str) -> StudyRecord:
        def work() -> StudyRecord | None:
            with self._session() as s:
                row = s.scalars(select(StudyRow).where(StudyRow.name == name)).first()
                return None if row is None else _study(row)

        record = self._retry(work)
        if record is None:
            known = self.list_studies()
            hint = f"studies in this store: {', '.join(known)}" if known else "this store holds no study yet"
            raise StudyNotFoundError(f"no study named {name!r} in {self.safe_url} ({hint})")
        return record

    def list_studies(self) -> list[str]:
        def work() -> list[str]:
            with self._session() as s:
                return list(s.scalars(select(StudyRow.name).order_by(StudyRow.id)))

        return self._retry(work)

    def update_study_info(self, study_id: int, updates: dict[str, Any]) -> None:
        def work() -> None:
            with self._session(immediate=True) as s:
                row = s.get(StudyRow, study_id, with_for_update=True)
                if row is None:
                    raise StoreError(f"study id {study_id} vanished from {self.safe_url}")
                row.info = {**row.info, **_clean(updates)}

        self._retry(work)

    # ----------------------------------------------------------------- trials
    def ask(self, study_id: int, worker: str, decide: Decider, since: Cursor | None = None) -> TrialRecord | None:
        """Claim the oldest pending trial, or decide and claim a new one, all under the study's lock.

        ``decide`` is given what changed since ``since`` (the whole study without it), read
        under the lock. Deciding under the lock is the fallback that always makes progress;
        ``Study.ask`` decides outside it (``snapshot`` then ``commit_proposal``) and comes here
        only when other workers keep changing the study under it.
        """

        def work() -> TrialRecord | None:
            now = time.time()
            with self._session(immediate=True) as s:
                # The study row is the lock that serializes every decision about this study.
                s.execute(select(StudyRow.id).where(StudyRow.id == study_id).with_for_update())
                pending = _claim_pending(s, study_id, worker, now)
                if pending is not None:
                    return pending
                new = decide(_changes(s, study_id, since or Cursor(), self.safe_url))
                if new is None:
                    return None
                return _insert_proposal(s, study_id, worker, new, now)

        return self._retry(work)

    def claim_pending(self, study_id: int, worker: str) -> TrialRecord | None:
        """Claim the oldest pending trial (None when none is queued): a short write, no decision."""

        def work() -> TrialRecord | None:
            with self._session(immediate=True) as s:
                has_pending = s.scalar(
                    select(TrialRow.id)
                    .where(TrialRow.study_id == study_id, TrialRow.status == TrialStatus.PENDING.value)
                    .limit(1)
                )
                if has_pending is None:
                    return None
                s.execute(select(StudyRow.id).where(StudyRow.id == study_id).with_for_update())
                return _claim_pending(s, study_id, worker, time.time())

        return self._retry(work)

    def snapshot(self, study_id: int, since: Cursor | None = None) -> Changes:
        """What changed in the study since ``since`` (everything without it), read without any lock.

        Trials whose state changed after the cursor's version, curve points and events added
        after its ids; ``Changes.cursor`` is where the next call starts. Its ``version`` is the
        version these trials are as of: a decision made on them is committed with it.
        """
        since = since or Cursor()

        def work() -> Changes:
            with self._session() as s:
                return _changes(s, study_id, since, self.safe_url)

        return self._retry(work)

    def commit_proposal(self, study_id: int, worker: str, proposal: Proposal, version: int) -> TrialRecord | None:
        """Create and claim the trial ``proposal`` describes, if the study is still at ``version``.

        None (nothing written) when any trial changed state since: the decision was made on a
        picture that is no longer true, so the caller reads what changed and decides again.
        """

        def work() -> TrialRecord | None:
            with self._session(immediate=True) as s:
                current = s.scalar(select(StudyRow.version).where(StudyRow.id == study_id).with_for_update())
                if current is None:
                    raise StoreError(f"study id {study_id} vanished from {self.safe_url}")
                if current != version:
                    return None
                return _insert_proposal(s, study_id, worker, proposal, time.time())

        return self._retry(work)

    def enqueue(self, study_id: int, trial: Proposal) -> TrialRecord:
        def work() -> TrialRecord:
            now = time.time()
            with self._session(immediate=True) as s:
                s.execute(select(StudyRow.id).where(StudyRow.id == study_id).with_for_update())
                top = s.scalar(select(func.max(TrialRow.number)).where(TrialRow.study_id == study_id))
                number = -1 if top is None else int(top)
                row = _new_row(study_id, number + 1, trial, now, TrialStatus.PENDING, None)
                s.add(row)
                _bump(s, study_id, row)
                s.add(_event_row(study_id, "enqueued", trial.reason or "enqueued by the user", number + 1, _proposal_data(trial), now))
                s.flush()
                return _trial(row)

        return self._retry(work)

    def heartbeat(self, study_id: int, number: int, worker: str, attempt: int | None = None) -> bool:
        """Refresh a running trial's heartbeat; False when ``worker`` (and ``attempt``) no longer hold it."""

        def work() -> bool:
            with self._session() as s:
                row = self._row(s, study_id, number)
                if not _held(row, worker, attempt):
                    return False
                row.heartbeat = time.time()
                return True

        return self._retry(work)

    def finish(
        self,
        study_id: int,
        number: int,
        status: TrialStatus,
        *,
        metrics: dict[str, Any] | None = None,
        start_step: float | None = None,
        end_step: float | None = None,
        cost_fte: float = 0.0,
        error: str | None = None,
        traceback: str | None = None,
        fte_per_step: float | None = None,
        attempt: int | None = None,
        info: dict[str, Any] | None = None,
    ) -> bool:
        """Record a running trial's end; ``cost_fte`` (this run's cost) is added to what earlier runs cost.

        With ``attempt`` (the claim token a worker got with the trial) the result is refused
        (False) unless that claim is still the trial's current one: a worker that lost its
        claim (paused past the stale time, its trial requeued and taken by another) cannot
        overwrite the new holder's result.

        With ``fte_per_step`` (for a run whose worker cannot say what it trained, e.g. one
        killed at its timeout) the run is charged for the steps it reported instead.
        """
        if not status.finished:
            raise StoreError(f"finish() needs a final status, not {status.value}")

        def work() -> bool:
            now = time.time()
            with self._session(immediate=True) as s:
                row = self._row(s, study_id, number, lock=True)
                if not _held(row, None, attempt):
                    return False
                charge, steps = float(cost_fte), (start_step, end_step)
                if fte_per_step is not None:
                    reported = _reported_step(s, row)
                    charge += _attempt_charge(row, reported, fte_per_step)
                    if steps == (None, None) and reported is not None:
                        steps = (row.start_step or 0.0, reported)
                row.status = status.value
                row.metrics = _clean(metrics) if metrics is not None else None
                row.start_step, row.end_step = steps
                row.cost_fte = (row.cost_fte or 0.0) + charge
                row.error, row.traceback = error, traceback
                row.ended_at = now
                if info:
                    row.info = {**(row.info or {}), **_clean(info)}
                _bump(s, study_id, row)
                if status is not TrialStatus.COMPLETED:
                    message = error or status.value
                    s.add(_event_row(study_id, status.value, message, number, {"cost_fte": charge}, now))
                return True

        return self._retry(work)

    def set_start_step(
        self, study_id: int, number: int, worker: str | None, step: float, attempt: int | None = None
    ) -> bool:
        """Note the step the running trial restored (its run is charged from there); False if not held."""

        def work() -> bool:
            with self._session() as s:
                row = self._row(s, study_id, number)
                if not _held(row, worker, attempt):
                    return False
                row.start_step = float(step)
                _bump(s, study_id, row)
                return True

        return self._retry(work)

    def requeue(
        self,
        study_id: int,
        number: int,
        reason: str,
        *,
        count_retry: bool,
        fte_per_step: float | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Return a running trial to the queue; with ``fte_per_step`` the steps it reported are charged.

        With ``attempt`` only the current claim may requeue it (a late worker is refused).
        """

        def work() -> bool:
            now = time.time()
            with self._session(immediate=True) as s:
                row = self._row(s, study_id, number, lock=True)
                if not _held(row, None, attempt):
                    return False
                charge = 0.0 if fte_per_step is None else _attempt_charge(row, _reported_step(s, row), fte_per_step)
                _back_to_queue(row, charge)
                _bump(s, study_id, row)
                if count_retry:
                    row.retries += 1
                data = {"retries": row.retries, "cost_fte": charge}
                s.add(_event_row(study_id, "requeued", reason, number, data, now))
                return True

        return self._retry(work)

    def recover_stale(
        self, study_id: int, stale_after: float, max_retries: int, fte_per_step: float | None = None
    ) -> list[int]:
        """Requeue (or, past ``max_retries``, mark lost) running trials without a recent heartbeat.

        With ``fte_per_step`` each lost run is charged for the steps it reported.
        """

        def work() -> list[int]:
            now = time.time()
            touched: list[int] = []
            with self._session(immediate=True) as s:
                rows = s.scalars(
                    select(TrialRow)
                    .where(
                        TrialRow.study_id == study_id,
                        TrialRow.status == TrialStatus.RUNNING.value,
                        TrialRow.heartbeat < now - stale_after,
                    )
                    .with_for_update()
                ).all()
                for row in rows:
                    silent = now - (row.heartbeat or now)
                    holder = row.worker
                    charge = 0.0 if fte_per_step is None else _attempt_charge(row, _reported_step(s, row), fte_per_step)
                    if row.retries < max_retries:
                        row.retries += 1
                        _back_to_queue(row, charge)
                        message = (
                            f"lost: no heartbeat from worker {holder} for {silent:.0f} s; "
                            f"returned to the queue (retry {row.retries} of {max_retries})"
                        )
                        kind = "lost"
                    else:
                        row.status = TrialStatus.LOST.value
                        row.cost_fte = (row.cost_fte or 0.0) + charge
                        row.ended_at = now
                        row.error = f"lost {row.retries + 1} times (no heartbeat); retry limit {max_retries} reached"
                        message = row.error
                        kind = "lost"
                    data = {"worker": holder, "cost_fte": charge}
                    s.add(_event_row(study_id, kind, message, row.number, data, now))
                    row.worker, row.heartbeat = None, None
                    touched.append(row.number)
                if rows:
                    _bump(s, study_id, *rows)
            return touched

        return self._retry(work)

    def trials(self, study_id: int, statuses: Sequence[TrialStatus] | None = None) -> list[TrialRecord]:
        def work() -> list[TrialRecord]:
            with self._session() as s:
                query = _trials_query(study_id)
                if statuses is not None:
                    query = query.where(TrialRow.status.in_([st.value for st in statuses]))
                return [_trial(r) for r in s.scalars(query)]

        return self._retry(work)

    def trial(self, study_id: int, number: int) -> TrialRecord:
        def work() -> TrialRecord:
            with self._session() as s:
                return _trial(self._row(s, study_id, number))

        return self._retry(work)

    # ---------------------------------------------------- curves and audit log
    def add_observation(
        self, study_id: int, number: int, step: float, metrics: dict[str, Any], attempt: int | None = None
    ) -> bool:
        """Record a learning-curve point; False (nothing written) when ``attempt`` no longer holds the trial.

        The curve is keyed by step: a step reported again (a retry that restored an earlier
        checkpoint, or a second report of the same step) updates that point, merging its
        metrics, so that no point is ever duplicated.
        """

        def work() -> bool:
            now = time.time()
            with self._session() as s:
                if attempt is not None and not _held(self._row(s, study_id, number), None, attempt):
                    return False
                existing = s.scalars(
                    select(ObservationRow).where(
                        ObservationRow.study_id == study_id,
                        ObservationRow.trial_number == number,
                        ObservationRow.step == float(step),
                    )
                ).first()
                if existing is None:
                    s.add(ObservationRow(study_id=study_id, trial_number=number, step=float(step), metrics=_clean(metrics), time=now))
                else:
                    existing.metrics = {**dict(existing.metrics), **_clean(metrics)}
                    existing.time = now
                return True

        return self._retry(work)

    def holds(self, study_id: int, number: int, attempt: int | None) -> bool:
        """Whether claim ``attempt`` is still the running trial's current one (e.g. before a checkpoint)."""

        def work() -> bool:
            with self._session() as s:
                return _held(self._row(s, study_id, number), None, attempt)

        return self._retry(work)

    def observations(self, study_id: int, number: int | None = None) -> list[Observation]:
        def work() -> list[Observation]:
            with self._session() as s:
                query = select(ObservationRow).where(ObservationRow.study_id == study_id)
                if number is not None:
                    query = query.where(ObservationRow.trial_number == number)
                rows = s.scalars(query.order_by(ObservationRow.id))
                return [Observation(r.trial_number, r.step, dict(r.metrics), r.time) for r in rows]

        return self._retry(work)

    def add_event(
        self, study_id: int, kind: str, message: str, trial_number: int | None = None, data: dict[str, Any] | None = None
    ) -> None:
        def work() -> None:
            with self._session() as s:
                s.add(_event_row(study_id, kind, message, trial_number, data or {}, time.time()))

        self._retry(work)

    def intervene(self, study_id: int, message: str, data: dict[str, Any], trial_number: int | None = None) -> None:
        def work() -> None:
            with self._session(immediate=True) as s:
                found = s.scalar(select(StudyRow.id).where(StudyRow.id == study_id).with_for_update())
                if found is None:
                    raise StoreError(f"study id {study_id} vanished from {self.safe_url}")
                _bump(s, study_id)
                s.add(_event_row(study_id, INTERVENTION, message, trial_number, data, time.time()))

        self._retry(work)

    def events(self, study_id: int, kinds: Sequence[str] | None = None) -> list[Event]:
        def work() -> list[Event]:
            with self._session() as s:
                query = select(EventRow).where(EventRow.study_id == study_id)
                if kinds is not None:
                    query = query.where(EventRow.kind.in_(list(kinds)))
                rows = s.scalars(query.order_by(EventRow.id))
                return [Event(r.id, r.kind, r.message, r.trial_number, dict(r.data), r.time) for r in rows]

        return self._retry(work)

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- helpers
    def _row(self, s: Session, study_id: int, number: int, lock: bool = False) -> TrialRow:
        query = select(TrialRow).where(TrialRow.study_id == study_id, TrialRow.number == number)
        if lock:
            query = query.with_for_update()
        row = s.scalars(query).first()
        if row is None:
            raise StoreError(f"trial {number} does not exist in study id {study_id}")
        return row

    def __repr__(self) -> str:
        return f"SQLStore({self.safe_url!r})"


def open_store(store: str | Path | SQLStore, *, create: bool = True) -> SQLStore:
    """A store from a URL, a path or an existing store; an unreachable one gives a StoreError."""
    if isinstance(store, SQLStore):
        return store
    try:
        return SQLStore(store, create=create)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store {store}: {exc.__class__.__name__}: {exc}") from None


def _upgrade_from_1(conn: Any) -> str:
    """Bring a schema-1 store (metaml before versioned snapshots) to schema 2 in place; return the new version.

    The change is additive (a version column on studies and trials, and its index): nothing
    is rewritten, and a schema-1 study reads as one whose trials all changed at version 0.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PREPARE_LOCK})
    again = conn.execute(select(MetaRow.value).where(MetaRow.key == "schema_version")).scalar()
    if again != "1":
        return str(again)  # another process upgraded it while we waited
    log.info("upgrading the store from schema 1 to %s (adding version columns)", SCHEMA_VERSION)
    for table in ("studies", "trials"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN version INTEGER NOT NULL DEFAULT 0"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_trials_study_version ON trials (study_id, version)"))
    conn.execute(
        update(MetaRow).where(MetaRow.key == "schema_version").values(value=str(SCHEMA_VERSION))
    )
    return str(SCHEMA_VERSION)


def _bump(s: Session, study_id: int, *rows: TrialRow) -> int:
    """Advance the study's version and stamp the changed trial rows with it (in the caller's transaction)."""
    s.execute(update(StudyRow).where(StudyRow.id == study_id).values(version=StudyRow.version + 1))
    version = int(s.scalar(select(StudyRow.version).where(StudyRow.id == study_id)) or 0)
    for row in rows:
        row.version = version
    return version


def _claim_pending(s: Session, study_id: int, worker: str, now: float) -> TrialRecord | None:
    """Claim the oldest pending trial inside a transaction that holds the study's lock."""
    pending = s.scalars(
        select(TrialRow)
        .where(TrialRow.study_id == study_id, TrialRow.status == TrialStatus.PENDING.value)
        .order_by(TrialRow.number)
        .limit(1)
    ).first()
    if pending is None:
        return None
    pending.status = TrialStatus.RUNNING.value
    pending.worker, pending.started_at, pending.heartbeat = worker, now, now
    pending.info = {**(pending.info or {}), "attempt": _attempt(pending) + 1}
    _bump(s, study_id, pending)
    s.flush()
    return _trial(pending)


def _insert_proposal(s: Session, study_id: int, worker: str, new: Proposal, now: float) -> TrialRecord:
    """Create the decided trial, claimed by ``worker``, inside a transaction that holds the study's lock."""
    top = s.scalar(select(func.max(TrialRow.number)).where(TrialRow.study_id == study_id))
    number = 0 if top is None else int(top) + 1
    row = _new_row(study_id, number, new, now, TrialStatus.RUNNING, worker)
    s.add(row)
    s.add(_event_row(study_id, "proposal", new.reason or "proposed", number, _proposal_data(new), now))
    _bump(s, study_id, row)
    s.flush()
    return _trial(row)


def _attempt(row: TrialRow) -> int:
    """The claim token of a trial: how many times it was claimed (0 while never run)."""
    value = (row.info or {}).get("attempt", 0)
    return int(value) if isinstance(value, int) else 0


def _held(row: TrialRow, worker: str | None, attempt: int | None) -> bool:
    """Whether ``row`` is running and still held by ``worker`` and claim ``attempt`` (when given)."""
    if row.status != TrialStatus.RUNNING.value:
        return False
    if worker is not None and row.worker != worker:
        return False
    return attempt is None or _attempt(row) == attempt


def _reported_step(s: Session, row: TrialRow) -> float | None:
    """The furthest step the trial's current run reported (None when it reported nothing)."""
    query = select(func.max(ObservationRow.step)).where(
        ObservationRow.study_id == row.study_id, ObservationRow.trial_number == row.number
    )
    if row.started_at is not None:
        query = query.where(ObservationRow.time >= row.started_at)
    top = s.scalar(query)
    return None if top is None else float(top)


def _attempt_charge(row: TrialRow, reported: float | None, fte_per_step: float) -> float:
    """What the current run of ``row`` cost: the steps it reported past the step it restored."""
    if reported is None:
        return 0.0
    return max(0.0, reported - (row.start_step or 0.0)) * fte_per_step


def _back_to_queue(row: TrialRow, charge: float) -> None:
    """Make a running trial pending again, keeping what its runs so far cost."""
    row.status = TrialStatus.PENDING.value
    row.cost_fte = (row.cost_fte or 0.0) + charge
    row.worker, row.heartbeat, row.started_at = None, None, None
    row.start_step = None


def _trials_query(study_id: int) -> Any:
    return select(TrialRow).where(TrialRow.study_id == study_id).order_by(TrialRow.number)


def _new_row(study_id: int, number: int, new: Proposal, now: float, status: TrialStatus, worker: str | None) -> TrialRow:
    running = status is TrialStatus.RUNNING
    return TrialRow(
        study_id=study_id,
        number=number,
        config=_clean(new.config),
        fidelity=None if new.fidelity is None else float(new.fidelity),
        continue_from=new.continue_from,
        status=status.value,
        worker=worker,
        heartbeat=now if running else None,
        created_at=now,
        started_at=now if running else None,
        cost_fte=0.0,
        retries=0,
        info=_clean({**new.info, "reason": new.reason, **({"attempt": 1} if running else {})}),
    )


def _imported_row(study_id: int, t: ImportedTrial, now: float) -> TrialRow:
    """A finished trial that was not trained here: 0 FTE, no worker, its provenance under ``info["imported"]``."""
    steps = [float(step) for step, _ in t.curve]
    return TrialRow(
        study_id=study_id, number=t.number, config=_clean(t.config),
        fidelity=None if t.fidelity is None else float(t.fidelity), continue_from=None, status=t.status.value,
        worker=None, heartbeat=None, created_at=t.started_at or now, started_at=t.started_at, ended_at=t.ended_at or now,
        metrics=None if t.metrics is None else _clean(t.metrics), start_step=None,
        end_step=max(steps) if steps else None, cost_fte=0.0, error=t.error, traceback=None, retries=0,
        info=_clean({IMPORTED_KEY: t.provenance, "reason": f"imported from {t.provenance.get('source', 'elsewhere')}"}),
        version=1,
    )  # fmt: skip


def _event_row(study_id: int, kind: str, message: str, number: int | None, data: dict[str, Any], now: float) -> EventRow:
    return EventRow(study_id=study_id, trial_number=number, kind=kind, message=message, data=_clean(data), time=now)


def _proposal_data(new: Proposal) -> dict[str, Any]:
    return {"config": new.config, "fidelity": new.fidelity, "continue_from": new.continue_from, **new.info}


def _study(row: StudyRow) -> StudyRecord:
    return StudyRecord(
        id=row.id,
        name=row.name,
        space=row.space,
        objectives=list(row.objectives),
        optimizer=row.optimizer,
        optimizer_settings=dict(row.optimizer_settings),
        seed=row.seed,
        created_at=row.created_at,
        info=dict(row.info),
    )


def _trial(row: TrialRow) -> TrialRecord:
    return TrialRecord(
        study_id=row.study_id,
        number=row.number,
        config=dict(row.config),
        fidelity=row.fidelity,
        continue_from=row.continue_from,
        status=TrialStatus(row.status),
        worker=row.worker,
        heartbeat=row.heartbeat,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        metrics=None if row.metrics is None else dict(row.metrics),
        start_step=row.start_step,
        end_step=row.end_step,
        cost_fte=row.cost_fte or 0.0,
        error=row.error,
        traceback=row.traceback,
        retries=row.retries or 0,
        info=dict(row.info or {}),
        id=row.id,
    )


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _changes(s: Session, study_id: int, since: Cursor, where: str) -> Changes:
    """What changed in a study since ``since``, read in session ``s`` (see ``SQLStore.snapshot``)."""
    # The study's version first: a trial that changes after it is read with its newer
    # version, which then stands for the picture (its changes are all in the select).
    study_version = s.scalar(select(StudyRow.version).where(StudyRow.id == study_id))
    if study_version is None:
        raise StoreError(f"study id {study_id} vanished from {where}")
    rows = s.scalars(_trials_query(study_id).where(TrialRow.version > since.version)).all()
    trials = tuple(_trial(r) for r in rows)
    version = max([since.version, int(study_version), *(r.version or 0 for r in rows)])
    points = s.scalars(
        select(ObservationRow)
        .where(ObservationRow.study_id == study_id, ObservationRow.id > since.observation)
        .order_by(ObservationRow.id)
    ).all()
    observations = tuple(Observation(r.trial_number, r.step, dict(r.metrics), r.time) for r in points)
    found = s.scalars(
        select(EventRow).where(EventRow.study_id == study_id, EventRow.id > since.event).order_by(EventRow.id)
    ).all()
    events = tuple(Event(r.id, r.kind, r.message, r.trial_number, dict(r.data), r.time) for r in found)
    cursor = Cursor(
        version,
        max([since.observation, *(r.id for r in points)]),
        max([since.event, *(e.id for e in events)]),
    )
    return Changes(cursor, trials, observations, events)
