"""The transactional outbox and its relay.

A unit of work writes event rows to ``outbox`` in the same transaction as the state change
(``write_outbox_rows``). The relay, running inside the service, publishes pending rows in id
order onto nameko's ``<service>.events`` topic exchange — routing key = event type, persistent
delivery, ``mandatory`` — with publisher confirms awaited per batch rather than per message,
then marks them sent. Nothing is published from inside a request.

Guarantees, and how:

* **Nothing lost.** A row is marked sent only after the broker confirmed it; while the broker
  is down the relay backs off and retries, and rows wait in the database.
* **At least once.** A crash between confirm and mark republishes the batch: consumers are
  idempotent (``kit.consumer``), so a duplicate changes nothing.
* **Nothing vanishes unseen.** An event no queue is bound to comes back as a ``basic.return``;
  its row is marked ``unrouted`` (counted in ``jinguo_events_unrouted_total`` and the
  ``jinguo_outbox_unrouted_events`` gauge) and the events behind it go on.
  ``requeue_unrouted`` puts such rows back in line once a consumer is bound.
* **In order per entity.** Only the relay that holds the lease row in ``outbox_lease`` publishes,
  so with N replicas of a service one relay publishes and order is the commit order of each
  entity's changes. Events about an entity also carry its ``version`` for consumers that
  keep a copy (see ``language.events``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import amqp
import kombu
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kit import metrics
from kit.clock import utcnow
from kit.tables import outbox, outbox_lease

if TYPE_CHECKING:  # the unit of work writes rows through this module: no import back at run time
    from kit.db import DatabaseResource

log = logging.getLogger(__name__)


def write_outbox_rows(
    session: Session, bodies: list[dict[str, Any]], event_types: list[str]
) -> None:
    now = utcnow()
    session.execute(
        sa.insert(outbox),
        [
            {
                "event_id": body["event_id"],
                "event_type": event_type,
                "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                "status": "pending",
                "created_at": now,
                "attempts": 0,
            }
            for body, event_type in zip(bodies, event_types, strict=True)
        ],
    )


# the relay's statements, built once (building one costs about what running it does)
_PENDING = (
    sa.select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.body)
    .where(outbox.c.status == "pending")
    .order_by(outbox.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer()))
)
_MARK_SENT = (
    sa.update(outbox)
    .where(outbox.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(status="sent", sent_at=sa.bindparam("sent_at"), attempts=outbox.c.attempts + 1)
)


def event_exchange_name(service_name: str) -> str:
    """nameko's convention: ``@event_handler("registry", ...)`` binds to ``registry.events``."""
    return f"{service_name}.events"


class BrokerUnavailable(Exception):
    pass


class OutboxRelay:
    """Publishes a service's outbox. Call ``run()`` in a green thread; ``wake()`` after commit."""

    def __init__(
        self,
        resource: DatabaseResource,
        *,
        amqp_uri: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        lease_ttl: float = 15.0,
        confirm_timeout: float = 10.0,
        max_backoff: float = 10.0,
        retention_days: float = 7.0,
        gather: float = 0.005,
        ssl: Any = None,
        publish_pause: float = 0.0,
    ) -> None:
        self.resource = resource
        self.service_name = resource.service_name
        self.amqp_uri = amqp_uri
        self.batch_size = int(batch_size)
        self.poll_interval = float(poll_interval)
        self.lease_ttl = float(lease_ttl)
        self.confirm_timeout = float(confirm_timeout)
        self.max_backoff = float(max_backoff)
        self.retention = timedelta(days=float(retention_days))
        # after a wake-up, wait this long for more commits: fewer, larger batches cost less
        # broker work per event (about 1 ms of CPU per event measured), for a few ms of latency
        self.gather = float(gather)
        self.ssl = ssl
        #: seconds between the broker's confirms and marking the rows sent: 0 in production;
        #: the fault suite widens the window a crash may fall into (``OUTBOX_PUBLISH_PAUSE``)
        self.publish_pause = float(publish_pause or 0)
        self.exchange = event_exchange_name(self.service_name)
        self.lease_name = f"{self.service_name}.outbox"
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._stopping = False
        self._lease_until: Any = None
        self._connection: kombu.Connection | None = None
        self._channel: Any = None
        self._next_tag = 0
        self._unconfirmed: dict[int, str] = {}
        self._nacked: set[str] = set()
        self._returned: dict[str, str] = {}
        self._last_purge = 0.0
        self._last_observed = 0.0

    # --- lifecycle -----------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    def run(self) -> None:
        """Relay until ``stop()``; survives broker and database outages by backing off."""
        backoff = 0.5
        while not self._stopping:
            try:
                published = self.relay_once()
                backoff = 0.5
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any failure
                log.warning(
                    "outbox relay for %s: %s; retrying in %.1fs", self.service_name, exc, backoff
                )
                self._disconnect()
                self._sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if published == 0 and self._sleep(self.poll_interval) and self.gather:
                self._stopped.wait(self.gather)
        self._disconnect()
        self._release_lease()

    def _sleep(self, seconds: float) -> bool:
        """Wait until woken or ``seconds`` pass; True if woken (a commit has events)."""
        woken = self._wake.wait(seconds)
        self._wake.clear()
        return woken

    # --- one round -----------------------------------------------------------------------

    def relay_once(self) -> int:
        """Publish one batch if this relay holds the lease; return how many rows it handled."""
        if not self.hold_lease():
            metrics.OUTBOX_RELAY_LEADER.labels(self.service_name).set(0)
            # a follower is not woken by commits: it only waits to take over the lease
            self._stopped.wait(self.lease_ttl / 3)
            return 0
        metrics.OUTBOX_RELAY_LEADER.labels(self.service_name).set(1)
        with self.resource.autocommit(write=False) as connection:
            rows = connection.execute(_PENDING, {"limit": self.batch_size}).all()
        if rows:
            self._publish(rows)
        if time.monotonic() - self._last_observed >= 1.0:
            self._last_observed = time.monotonic()
            self._observe_backlog()
            self._purge_sent()
        return len(rows)

    def _publish(self, rows: list[Any]) -> None:
        channel = self._ensure_channel()
        self._unconfirmed.clear()
        self._nacked.clear()
        self._returned.clear()
        for row in rows:
            message = amqp.Message(
                row.body.encode("utf-8"),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=row.event_id,
                application_headers={
                    "jinguo.event_type": row.event_type,
                    "jinguo.source_service": self.service_name,
                    "jinguo.outbox_id": row.id,
                },
            )
            channel.basic_publish(
                message, exchange=self.exchange, routing_key=row.event_type, mandatory=True
            )
            self._next_tag += 1
            self._unconfirmed[self._next_tag] = row.event_id
        self._await_confirms()
        if self.publish_pause:
            self._stopped.wait(self.publish_pause)
        self._record_outcome(rows)

    def _await_confirms(self) -> None:
        deadline = time.monotonic() + self.confirm_timeout
        assert self._connection is not None
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerUnavailable(
                    f"{len(self._unconfirmed)} publishes unconfirmed after {self.confirm_timeout}s"
                )
            try:
                self._connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue

    def _record_outcome(self, rows: list[Any]) -> None:
        now = utcnow()
        sent = [
            r for r in rows if r.event_id not in self._nacked and r.event_id not in self._returned
        ]
        unrouted = [r for r in rows if r.event_id in self._returned]
        nacked = [r for r in rows if r.event_id in self._nacked]
        # each update stands alone: a crash between them leaves rows pending, published again
        # (at least once) — the same as a crash before the commit of one transaction would
        with self.resource.autocommit() as connection:
            if sent:
                connection.execute(_MARK_SENT, {"ids": [r.id for r in sent], "sent_at": now})
            for row in unrouted:
                connection.execute(
                    sa.update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(
                        status="unrouted",
                        attempts=outbox.c.attempts + 1,
                        last_error=self._returned[row.event_id],
                    )
                )
            if nacked:
                connection.execute(
                    sa.update(outbox)
                    .where(outbox.c.id.in_([r.id for r in nacked]))
                    .values(attempts=outbox.c.attempts + 1, last_error="nacked by the broker")
                )
        for row in sent:
            metrics.EVENTS_PUBLISHED.labels(self.service_name, row.event_type).inc()
        for row in unrouted:
            metrics.EVENTS_UNROUTED.labels(self.service_name, row.event_type).inc()
            log.warning(
                "event %s (%s) had no queue bound; kept in %s's outbox as unrouted",
                row.event_id,
                row.event_type,
                self.service_name,
            )
        if nacked:
            raise BrokerUnavailable(f"broker nacked {len(nacked)} events; they stay pending")

    # --- broker connection ---------------------------------------------------------------

    def _ensure_channel(self) -> Any:
        if self._channel is not None:
            return self._channel
        connection = kombu.Connection(
            self.amqp_uri, ssl=self.ssl, connect_timeout=5, heartbeat=0, transport_options={}
        )
        try:
            connection.connect()
            channel = connection.connection.channel()
            channel.confirm_select()
            channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
        except Exception:
            connection.release()
            raise
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._connection = connection
        self._channel = channel
        self._next_tag = 0
        return channel

    def _disconnect(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):  # the connection is being thrown away
                connection.release()

    def _settle(self, delivery_tag: int, multiple: bool) -> list[str]:
        tags = [t for t in self._unconfirmed if t <= delivery_tag] if multiple else [delivery_tag]
        return [event_id for t in tags if (event_id := self._unconfirmed.pop(t, None))]

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked.update(self._settle(delivery_tag, multiple))

    def _on_return(self, exc: Any, exchange: str, routing_key: str, message: Any) -> None:
        event_id = message.properties.get("message_id")
        if event_id:
            self._returned[event_id] = (
                f"{getattr(exc, 'reply_text', exc)}: {exchange}/{routing_key}"
            )

    # --- lease ---------------------------------------------------------------------------

    def hold_lease(self) -> bool:
        """Take or renew the lease; only its holder publishes (one relay per service)."""
        now = utcnow()
        renew_after = timedelta(seconds=self.lease_ttl / 3)
        if self._lease_until is not None and now < self._lease_until - 2 * renew_after:
            return True
        expires = now + timedelta(seconds=self.lease_ttl)
        with self.resource.begin() as connection:
            taken = connection.execute(
                sa.update(outbox_lease)
                .where(outbox_lease.c.name == self.lease_name)
                .where(
                    sa.or_(outbox_lease.c.holder == self.holder, outbox_lease.c.expires_at < now)
                )
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
            if not taken:
                exists = connection.execute(
                    sa.select(outbox_lease.c.holder).where(outbox_lease.c.name == self.lease_name)
                ).first()
                if exists is None:
                    connection.execute(
                        sa.insert(outbox_lease).values(
                            name=self.lease_name, holder=self.holder, expires_at=expires
                        )
                    )
                    taken = 1
        self._lease_until = expires if taken else None
        return bool(taken)

    def _release_lease(self) -> None:
        if self._lease_until is None:
            return
        try:
            with self.resource.begin() as connection:
                connection.execute(
                    sa.update(outbox_lease)
                    .where(outbox_lease.c.name == self.lease_name)
                    .where(outbox_lease.c.holder == self.holder)
                    .values(expires_at=utcnow())
                )
        except Exception as exc:  # noqa: BLE001 - best effort; the lease expires anyway
            log.info("could not release the outbox lease: %s", exc)
        self._lease_until = None
        metrics.OUTBOX_RELAY_LEADER.labels(self.service_name).set(0)

    # --- housekeeping --------------------------------------------------------------------

    def _observe_backlog(self) -> None:
        status = outbox_status(self.resource)
        metrics.OUTBOX_BACKLOG.labels(self.service_name).set(status["pending"])
        metrics.OUTBOX_OLDEST_AGE.labels(self.service_name).set(
            status["oldest_pending_age_seconds"]
        )
        metrics.OUTBOX_UNROUTED.labels(self.service_name).set(status["unrouted"])

    def _purge_sent(self) -> None:
        if time.monotonic() - self._last_purge < 3600:
            return
        self._last_purge = time.monotonic()
        with self.resource.begin() as connection:
            connection.execute(
                sa.delete(outbox)
                .where(outbox.c.status == "sent")
                .where(outbox.c.sent_at < utcnow() - self.retention)
            )


def outbox_status(resource: DatabaseResource) -> dict[str, Any]:
    """Pending and unrouted counts and the age of the oldest pending row."""
    with resource.begin(write=False) as connection:
        counts = dict(
            connection.execute(
                sa.select(outbox.c.status, sa.func.count())
                .where(outbox.c.status.in_(("pending", "unrouted")))
                .group_by(outbox.c.status)
            ).all()
        )
        oldest = connection.execute(
            sa.select(sa.func.min(outbox.c.id)).where(outbox.c.status == "pending")
        ).scalar()
        created = None
        if oldest is not None:
            created = connection.execute(
                sa.select(outbox.c.created_at).where(outbox.c.id == oldest)
            ).scalar()
    age = (utcnow() - created).total_seconds() if created is not None else 0.0
    return {
        "pending": counts.get("pending", 0),
        "unrouted": counts.get("unrouted", 0),
        "oldest_pending_age_seconds": max(age, 0.0),
    }


def requeue_unrouted(resource: DatabaseResource) -> int:
    """Put unrouted events back in line (after a consumer has bound its queue)."""
    with resource.begin() as connection:
        return connection.execute(
            sa.update(outbox).where(outbox.c.status == "unrouted").values(status="pending")
        ).rowcount
