"""SQLAlchemy 2 plumbing: portable column types, engines, and the unit of work.

One engine per service process. SQLite (the embedded default) runs in WAL mode with
``BEGIN IMMEDIATE`` for writes, and writers in one process take turns on a green lock so a
greenlet never spins on SQLite's busy handler while another greenlet holds the write lock.
PostgreSQL runs through psycopg2 made cooperative with psycogreen, so one slow query does not
stall every other greenlet in the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kit import audit
from kit.aggregate import DomainEvent
from kit.catalogue import Catalogue, registered
from kit.clock import utcnow
from kit.columns import ID_LENGTH, NAMING_CONVENTION, Id, UTCDateTime
from kit.outbox import write_outbox_rows
from kit.retry import classify

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


_psycopg_made_green = False


def _make_psycopg_cooperative() -> None:
    """Let psycopg2 wait on its socket through eventlet instead of blocking the process."""
    global _psycopg_made_green
    if _psycopg_made_green:
        return
    from eventlet import patcher

    if patcher.is_monkey_patched("socket"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        _psycopg_made_green = True


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3).

    psycopg2 is the driver psycogreen makes cooperative under eventlet.
    """
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg2://" + url[len(plain) :]
    return url


#: seconds to wait for a PostgreSQL connection, and for a free pooled one: a database that does
#: not answer must fail a request (503 naming it) before its caller's deadline, not hang it
DEFAULT_CONNECT_TIMEOUT = 2.0


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    pre_ping: bool = False,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Engine:
    """An engine tuned for the backend named by ``url``."""
    url = normalize_url(url)
    if is_sqlite(url):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        _tune_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        _make_psycopg_cooperative()
        engine = sa.create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            # no ping before every checkout (a round trip per unit of work, ~0.3 ms of CPU with
            # psycogreen): after a restart of PostgreSQL the first statement on a stale
            # connection fails, SQLAlchemy invalidates the whole pool, and that one request or
            # event is answered 503 / retried. DATABASE_PRE_PING=true trades speed for zero.
            pool_pre_ping=pre_ping,
            pool_timeout=connect_timeout,
            # JIT compilation costs 200-300 ms on a report query and wins nothing on the short
            # statements of a service (measured: coverage over 100k host units, 1.1 s -> 0.8 s)
            connect_args={
                "options": "-c jit=off",
                "connect_timeout": max(1, round(connect_timeout)),
                # a connection whose peer vanished (a failover, a cut link) is noticed in
                # seconds by the kernel instead of after the default two hours
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
            },
        )
        _switch_autocommit_quietly(engine)
        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


def _switch_autocommit_quietly(engine: Engine) -> None:
    """Enter and leave autocommit (the read sessions, the relay) without a round trip.

    SQLAlchemy leaves ``AUTOCOMMIT`` through psycopg2's ``set_isolation_level``, which sends
    ``SET default_transaction_isolation TO DEFAULT`` every time a connection goes back to the
    pool: a round trip per read. Flipping psycopg2's ``autocommit`` attribute sends nothing,
    and on a connection at the server's default level it is the whole switch.
    """
    dialect = engine.dialect
    set_level = dialect.set_isolation_level

    def set_isolation_level(dbapi_connection: Any, level: str) -> None:
        if level == "AUTOCOMMIT" and dbapi_connection.isolation_level is None:
            dbapi_connection.autocommit = True
        elif level == dialect.default_isolation_level and dbapi_connection.isolation_level is None:
            dbapi_connection.autocommit = False
        else:
            set_level(dbapi_connection, level)

    dialect.set_isolation_level = set_isolation_level  # type: ignore[method-assign]


def _tune_sqlite(engine: Engine) -> None:
    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control from pysqlite so BEGIN is ours to issue
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (kill -9); an OS crash may lose the
        # last commits, state and outbox rows together, never one without the other
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def _keep_aggregates(sessions: sessionmaker) -> None:
    """Hold every aggregate a session loads or adds until the session ends.

    The session's identity map is weak: once an object is flushed and nobody else refers to
    it, it can be collected — and the events it recorded with it. Keeping the aggregates here
    (the "seen" set of the unit-of-work pattern) is what lets ``commit`` find every event.
    """

    def seen(session: Session, instance: Any) -> None:
        if hasattr(instance, "pull_events"):
            session.info.setdefault("aggregates", []).append(instance)

    sa_event.listen(sessions, "loaded_as_persistent", seen)
    sa_event.listen(sessions, "transient_to_pending", seen)


def _keep_changes(sessions: sessionmaker) -> None:
    """Remember every object a session's flushes wrote (added, changed or deleted), so that
    after the commit ``DatabaseResource.on_committed`` callbacks can be told what changed."""

    def flushed(session: Session, _context: Any) -> None:
        changed = session.info.setdefault("changed", {})
        for instance in (*session.new, *session.dirty, *session.deleted):
            changed[id(instance)] = instance

    sa_event.listen(sessions, "after_flush", flushed)


class DatabaseResource:
    """What a service process holds: the engine, sessions, and who to tell about new events."""

    def __init__(
        self,
        url: str,
        *,
        service_name: str,
        pool_size: int = 10,
        echo: bool = False,
        pre_ping: bool = False,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        catalogue: Catalogue | None = None,
        audit_trail: bool = True,
    ) -> None:
        self.url = url
        #: whether use cases leave audit records (``kit.audit``); off only in the benchmark
        #: that measures what the trail costs
        self.audit_trail = audit_trail
        self.service_name = service_name
        self._catalogue = catalogue
        self.engine = create_engine(
            url,
            pool_size=pool_size,
            echo=echo,
            pre_ping=pre_ping,
            connect_timeout=connect_timeout,
        )
        #: the last time (monotonic) a statement or connection failed because the database did
        #: not answer, and what failed: health reports the database down from that moment
        self.unreachable_since: float | None = None
        self.last_failure: float | None = None
        self.last_error: str | None = None
        sa_event.listen(self.engine, "handle_error", self._on_error)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        _keep_aggregates(self.sessions)
        _keep_changes(self.sessions)
        if audit_trail:  # off (the benchmark's baseline): no change tracker either
            audit.track_changes(self.sessions)
        # PostgreSQL reads run in autocommit: at READ COMMITTED every statement takes its own
        # snapshot inside a transaction too, so BEGIN and ROLLBACK would buy nothing but two
        # round trips per read
        self.read_sessions = self.sessions
        self._autocommit_engine: Engine | None = None
        if self.engine.dialect.name == "postgresql":
            self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self.read_sessions = sessionmaker(self._autocommit_engine, expire_on_commit=False)
        self.write_lock = threading.Lock() if is_sqlite(url) else None
        self.on_events_committed: list[Callable[[], None]] = []
        #: told, after each commit that wrote anything, the objects it added, changed or deleted
        self.on_committed: list[Callable[[list[Any]], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.write_lock is not None

    @property
    def catalogue(self) -> Catalogue:
        """The event catalogue events written and read here are checked against: the one handed
        to this resource, else the one registered in the process (``kit.catalogue``)."""
        return self._catalogue if self._catalogue is not None else registered()

    def _on_error(self, context: Any) -> None:
        error = context.sqlalchemy_exception or context.original_exception
        if context.is_disconnect or classify(error) == "database_unreachable":
            if self.unreachable_since is None:
                self.unreachable_since = time.monotonic()
                log.warning(
                    "%s: the database did not answer (%s)",
                    self.service_name,
                    type(context.original_exception).__name__,
                )
            self.last_failure = time.monotonic()
            self.last_error = type(context.original_exception).__name__

    def failed_within(self, seconds: float) -> bool:
        """Whether a statement failed for want of the database in the last ``seconds``."""
        return self.last_failure is not None and time.monotonic() - self.last_failure < seconds

    def mark_reachable(self) -> None:
        """The database answered (health checked it): forget the last failure."""
        if self.unreachable_since is not None:
            log.info("%s: the database answers again", self.service_name)
        self.unreachable_since = None
        self.last_failure = None
        self.last_error = None

    def unit_of_work(self, *, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self, readonly=readonly)

    #: workers write ``with self.db() as uow`` or ``with self.db(readonly=True) as uow``
    __call__ = unit_of_work

    @contextmanager
    def begin(self, *, write: bool = True) -> Iterator[sa.Connection]:
        """A Core connection in a transaction, for plumbing that needs no ORM (the relay)."""
        lock = self.write_lock if write else None
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as connection:
                if self.is_sqlite:
                    connection.execution_options(sqlite_begin="IMMEDIATE" if write else "DEFERRED")
                with connection.begin():
                    yield connection
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def autocommit(self, *, write: bool = True) -> Iterator[sa.Connection]:
        """A Core connection whose statements each stand alone, for plumbing (the relay).

        PostgreSQL runs them in autocommit: one round trip a statement, where a transaction
        would add BEGIN and COMMIT (two more, and as much CPU as the statement itself). Only
        for statements that need no company: each commits, or fails, on its own. SQLite runs
        them in a transaction as ``begin`` does (its BEGIN and COMMIT are no round trips, and
        writers must take the green write lock).
        """
        if self._autocommit_engine is None:
            with self.begin(write=write) as connection:
                yield connection
            return
        with self._autocommit_engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """One database transaction, and the events it causes.

    Use it as a context manager: state changes and ``emit``-ed (or aggregate-recorded) events
    are written together by ``commit()``; leaving the block without committing rolls back.
    """

    def __init__(self, resource: DatabaseResource, *, readonly: bool = False) -> None:
        self.resource = resource
        self.readonly = readonly
        self.session: Session | None = None
        self._staged: list[DomainEvent] = []
        self._locked = False
        self.committed = False
        #: entries a use case declared for the audit trail (``kit.audit.declare``)
        self.audit_declared: list[audit.AuditEntry] = []
        #: records queued by ``audit``, appended when the unit of work commits
        self._audit_pending: list[tuple[Any, audit.AuditEntry, Any]] = []

    def __enter__(self) -> UnitOfWork:
        if self.session is not None:
            raise RuntimeError("a unit of work is entered once; make a new one")
        lock = self.resource.write_lock
        if lock is not None and not self.readonly:
            lock.acquire()
            self._locked = True
        try:
            sessions = self.resource.read_sessions if self.readonly else self.resource.sessions
            self.session = sessions()
            if self.resource.is_sqlite:
                mode = "DEFERRED" if self.readonly else "IMMEDIATE"
                self.session.connection(execution_options={"sqlite_begin": mode})
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            if self.session is not None:
                if not self.committed:
                    self.session.rollback()
                self.session.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            self.resource.write_lock.release()  # type: ignore[union-attr]

    @property
    def audit_enabled(self) -> bool:
        return self.resource.audit_trail

    def audit_changes(self) -> dict[int, Any]:
        """Flush, and hand over what the flushes of this unit of work changed, per object
        (``kit.audit.track_changes``)."""
        assert self.session is not None, "audit_changes() outside the with-block"
        self.session.flush()
        return self.session.info.pop("audit_changes", None) or {}

    def audit(
        self, actor: dict[str, Any] | None, entry: audit.AuditEntry, at: Any
    ) -> dict[str, Any]:
        """Queue a record for this database's audit log, appended in this transaction as its
        last step, just before it commits (``commit``). Every record of a transaction is
        chained under the log's lock after every row lock the act took, so a unit of work that
        applies a batch of events never waits for a row while holding the log's lock: that
        order deadlocked with a request holding the row and waiting for the log (the fault
        suite's 200 sagas on PostgreSQL)."""
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot write the audit trail")
        assert self.session is not None, "audit() outside the with-block"
        self._audit_pending.append((actor, entry, at))
        return {"action": entry.action, "object_type": entry.object_type, "at": at}

    def emit(self, event_type: str, **data: Any) -> None:
        """Stage an event to be written to the outbox when this unit of work commits."""
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot emit events")
        self._staged.append(DomainEvent(event_type, data))

    def commit(self) -> list[dict[str, Any]]:
        """Commit state and outbox rows in one transaction; return the event bodies written."""
        if self.readonly:
            raise RuntimeError("a read-only unit of work does not commit")
        assert self.session is not None, "commit() outside the with-block"
        session = self.session
        session.flush()
        pending = self._staged + [
            event
            for aggregate in session.info.get("aggregates", ())
            for event in aggregate.pull_events()
        ]
        self._staged = []
        pending.sort(key=lambda event: event.seq)
        if pending:
            catalogue = self.resource.catalogue
            source = self.resource.service_name
            bodies = [catalogue.outgoing(source, event.name, event.data) for event in pending]
        else:
            bodies = []
        if bodies:
            write_outbox_rows(session, bodies, [event.name for event in pending])
        for actor, entry, at in self._audit_pending:
            audit.append(session, actor, entry, at)
        self._audit_pending = []
        session.commit()
        self.committed = True
        if bodies:
            for callback in self.resource.on_events_committed:
                callback()
        changed = session.info.pop("changed", None)
        if changed and self.resource.on_committed:
            written = list(changed.values())
            for listener in self.resource.on_committed:
                listener(written)
        return bodies

    def rollback(self) -> None:
        if self.session is not None:
            self.session.rollback()


@contextmanager
def connect(url: str, *, service_name: str = "tool") -> Iterator[DatabaseResource]:
    """A short-lived resource for scripts and tests outside a nameko container."""
    resource = DatabaseResource(url, service_name=service_name, pool_size=2)
    try:
        yield resource
    finally:
        resource.dispose()


__all__ = [
    "ID_LENGTH",
    "NAMING_CONVENTION",
    "DatabaseResource",
    "Id",
    "UTCDateTime",
    "UnitOfWork",
    "connect",
    "create_engine",
    "utcnow",
]
