"""Time-driven checks: run in one replica at a time, send each notice once, catch up.

A service marks one method ``@scheduled``; every ``SCHEDULE_INTERVAL_SECONDS`` (default 300)
the replica that holds the schedule's lease calls it with the time (``as_of``, ISO-8601 UTC)
in a worker, like any entrypoint. The lease is the outbox relay's mechanism and table
(``outbox_lease``, row ``<service>.schedule``, ``SCHEDULE_LEASE_TTL`` seconds, default 60):
another replica takes over only when the holder stopped renewing it.

What the checks have done is kept in the service's own ``reminders_sent`` table
(``reminders_table``): one row per ``(kind, subject_id, notice)``, written by
``send_once`` in the same transaction as the notice's outbox row. A notice whose row exists is
never sent again (a restart, a second run, a manual catch-up), and checks ask "which notices
are owed as of now and not yet sent" rather than "what happened since the last run", so a
check that missed days (the service was down) sends every notice still owed, once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import sqlalchemy as sa
from nameko.extensions import Entrypoint

from kit.clock import isoformat, utcnow
from kit.columns import UTCDateTime
from kit.errors import Forbidden, InvalidInput
from kit.tables import outbox_lease

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 300.0
DEFAULT_LEASE_TTL = 60.0


def reminders_table(metadata: sa.MetaData, name: str = "reminders_sent") -> sa.Table:
    """The table of notices a service's checks have sent (one per kind, subject and notice)."""
    return sa.Table(
        name,
        metadata,
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("subject_id", sa.String(36), primary_key=True),
        sa.Column("notice", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
    )


class SentNotices:
    """The ``reminders_sent`` rows over a SQLAlchemy session: what was sent, and marking one."""

    def __init__(self, session: Any, table: sa.Table) -> None:
        self.session = session
        self.table = table

    def sent(self, kind: str, subject_ids: Iterable[str]) -> set[tuple[str, str]]:
        """``(subject_id, notice)`` of the notices of ``kind`` already sent about these."""
        ids = sorted({str(i) for i in subject_ids})
        found: set[tuple[str, str]] = set()
        table = self.table
        for start in range(0, len(ids), 500):
            rows = self.session.execute(
                sa.select(table.c.subject_id, table.c.notice)
                .where(table.c.kind == kind)
                .where(table.c.subject_id.in_(ids[start : start + 500]))
            )
            found.update((row.subject_id, row.notice) for row in rows)
        return found

    def mark(self, kind: str, subject_id: str, notice: str, event_id: str, at: datetime) -> None:
        """Write the row; the primary key refuses a second one (the transaction fails and its
        outbox row with it)."""
        self.session.execute(
            sa.insert(self.table).values(
                kind=kind, subject_id=str(subject_id), notice=notice, event_id=event_id, sent_at=at
            )
        )


def send_once(
    uow: Any,
    notices: Any,
    key: tuple[str, str, str],
    event_type: str,
    at: datetime,
    **data: Any,
) -> str:
    """Emit ``event_type`` through the outbox together with the row that makes it unique,
    ``key`` = ``(kind, subject_id, notice)``; returns the event's id. ``notices`` is the
    service's ``SentNotices`` (or a fake)."""
    kind, subject_id, notice = key
    event_id = str(uuid.uuid4())
    notices.mark(kind, subject_id, notice, event_id, at)
    uow.emit(event_type, event_id=event_id, occurred_at=at, **data)
    return event_id


class Lease:
    """A named lease in ``outbox_lease``: the relay's mechanism, for any one-at-a-time job."""

    def __init__(self, resource: Any, name: str, ttl: float) -> None:
        self.resource = resource
        self.name = name
        self.ttl = float(ttl)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.until: datetime | None = None

    def hold(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = utcnow()
        expires = now + timedelta(seconds=self.ttl)
        with self.resource.begin() as connection:
            taken = connection.execute(
                sa.update(outbox_lease)
                .where(outbox_lease.c.name == self.name)
                .where(
                    sa.or_(outbox_lease.c.holder == self.holder, outbox_lease.c.expires_at < now)
                )
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
            if not taken:
                exists = connection.execute(
                    sa.select(outbox_lease.c.holder).where(outbox_lease.c.name == self.name)
                ).first()
                if exists is None:
                    connection.execute(
                        sa.insert(outbox_lease).values(
                            name=self.name, holder=self.holder, expires_at=expires
                        )
                    )
                    taken = 1
        self.until = expires if taken else None
        return bool(taken)

    def release(self) -> None:
        if self.until is None:
            return
        try:
            with self.resource.begin() as connection:
                connection.execute(
                    sa.update(outbox_lease)
                    .where(outbox_lease.c.name == self.name)
                    .where(outbox_lease.c.holder == self.holder)
                    .values(expires_at=utcnow())
                )
        except Exception as exc:  # noqa: BLE001 - best effort; the lease expires anyway
            log.info("could not release the lease %s: %s", self.name, exc)
        self.until = None


class ScheduledChecks(Entrypoint):
    """The entrypoint ``@scheduled`` makes: a managed thread that, while this replica holds the
    schedule's lease, calls the method every interval with ``as_of`` (aware UTC, ISO-8601)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lease: Lease | None = None
        self.interval = DEFAULT_INTERVAL_SECONDS
        self.ttl = DEFAULT_LEASE_TTL
        self.runs = 0
        self._stopped = threading.Event()
        self._thread: Any = None

    def setup(self) -> None:
        config = self.container.config
        self.interval = float(config.get("SCHEDULE_INTERVAL_SECONDS") or DEFAULT_INTERVAL_SECONDS)
        self.ttl = float(config.get("SCHEDULE_LEASE_TTL") or DEFAULT_LEASE_TTL)

    def start(self) -> None:
        # the service's database (``kit.dependencies.Database``), set up by now
        resource = next(
            d.resource
            for d in self.container.dependencies
            if getattr(d, "resource", None) is not None and hasattr(d.resource, "begin")
        )
        self.lease = Lease(resource, f"{self.container.service_name}.schedule", self.ttl)
        self._thread = self.container.spawn_managed_thread(
            self._run, identifier=f"{self.container.service_name}.schedule"
        )

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.kill()
        if self.lease is not None:
            self.lease.release()

    kill = stop

    def _run(self) -> None:
        assert self.lease is not None
        last_run: float | None = None
        # renew well within the lease's life, run when the interval has passed
        tick = min(self.interval, self.lease.ttl / 3)
        while not self._stopped.is_set():
            try:
                if self.lease.hold():
                    now = eventlet.hubs.get_hub().clock()
                    if last_run is None or now - last_run >= self.interval:
                        last_run = now
                        self.run_once()
                else:
                    last_run = None  # another replica runs them; take over afresh
            except Exception as exc:  # noqa: BLE001 - the schedule must outlive any failure
                log.warning("%s's scheduled checks: %s", self.container.service_name, exc)
            eventlet.sleep(tick)

    def run_once(self, as_of: datetime | None = None) -> Any:
        """Run the checks once in a worker (as of now by default) and wait for it."""
        done = eventlet.event.Event()

        def handle_result(worker_ctx: Any, result: Any, exc_info: Any) -> tuple[Any, Any]:
            done.send((result, exc_info))
            return result, exc_info

        moment = isoformat(as_of or utcnow())
        self.container.spawn_worker(self, (moment,), {}, handle_result=handle_result)
        result, exc_info = done.wait()
        self.runs += 1
        if exc_info is not None:
            raise exc_info[1]
        return result


scheduled = ScheduledChecks.decorator


#: who may run the checks by hand (``run_checks(as_of)``): the platform's system actor (an
#: admin) and admins, for tests and for a manual catch-up after an outage
CHECK_RUNNERS = ("admin",)


def ensure_may_run_checks(role: str | None) -> None:
    if role not in CHECK_RUNNERS:
        error = Forbidden("only the system and admins run the scheduled checks", role=role)
        error.code = "ROLE_NOT_ALLOWED"
        raise error


def moment_of(value: str) -> datetime:
    """``as_of`` from a payload: an aware ISO-8601 moment, in UTC (a naive one is refused)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(
            "as_of is not an ISO-8601 moment", field="as_of", rule="datetime"
        ) from exc
    if moment.tzinfo is None:
        raise InvalidInput("as_of needs a time zone", field="as_of", rule="aware")
    return moment.astimezone(UTC)
