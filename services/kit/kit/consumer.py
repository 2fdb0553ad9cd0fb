"""Idempotent event consumers that commit in batches.

``@on_event("registry", "organization_suspended")`` makes ``method(self, event, uow)`` a
handler of that event type, bound like nameko's ``@event_handler`` (queue
``evt-registry-organization_suspended--<service>.<method>`` on ``registry.events``).

For each event it validates the body against the event catalogue (``kit.catalogue``: the one
the service's database was given, else the one registered; tolerant reader), records
``(handler, event_id)`` in the ``inbox`` table and runs the handler inside the same unit of
work, so the effect and the inbox row commit together; a redelivered or republished event
finds its inbox row and changes nothing, and two replicas racing on one event collide on the
inbox primary key.

Messages are taken in batches: up to ``batch_size`` events that arrived together are applied
one after another, in queue order, inside one transaction, and acknowledged after it commits.
A commit per batch instead of per event is what lets a consumer keep pace with the relay. If
any event of a batch fails, the batch is rolled back and its events are applied one by one,
each in its own transaction, so only the failing event is held back and the others go on.
A failure that means "try later" (``kit.retry.classify``: the database away, a serialization
conflict, ``RetryLater``) sends the event through a delay queue with exponential backoff until
``EVENT_RETRY_HORIZON_SECONDS``; any other failure requeues it (after ``RETRY_DELAY``) until the
queue's delivery limit parks it in ``<queue>.dead``. When the whole batch failed because the
database did not answer, its events go to the delay queues without being tried one by one.
One batch per handler is in flight at a time, so a replica applies the events of one queue in
the order the broker delivered them (a retried event comes back later, out of that order:
handlers already cope, as events of different types travel on different queues).

The handler must not commit. Events it emits go out through the outbox like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import eventlet
import kombu
from kombu import Queue, binding
from kombu.pools import ProducerPool
from nameko.events import EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import QueueConsumer
from sqlalchemy.dialects import postgresql, sqlite

from kit import metrics, queues, retry
from kit.amqp import close_pool, producer_pool
from kit.catalogue import EventInvalid, registered
from kit.clock import utcnow
from kit.db import DatabaseResource, UnitOfWork
from kit.tables import inbox

log = logging.getLogger(__name__)

#: seconds an event that failed for good waits before it is requeued (until the delivery limit
#: parks it); events that failed for a transient reason go to the delay queues (``kit.retry``)
RETRY_DELAY = 1.0
DEFAULT_BATCH_SIZE = 100
#: how long the first event of a batch waits for company before the batch is applied
DEFAULT_MAX_WAIT = 0.005
DEFAULT_PREFETCH = 200

Apply = Callable[[dict[str, Any], UnitOfWork], Any]


def _insert_ignoring_duplicates(uow: UnitOfWork) -> Any:
    assert uow.session is not None
    dialect = uow.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(inbox).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(inbox).on_conflict_do_nothing()
    raise RuntimeError(f"no idempotent insert for {dialect}")


def claim(uow: UnitOfWork, handler: str, events: list[tuple[str, str]]) -> set[str]:
    """Record ``(event_id, event_type)`` pairs as applied by ``handler``; return the event ids
    that were new (the ones to apply). One statement, whatever the batch size."""
    if not events:
        return set()
    assert uow.session is not None
    now = utcnow()
    rows = [
        {"handler": handler, "event_id": event_id, "event_type": event_type, "applied_at": now}
        for event_id, event_type in events
    ]
    statement = _insert_ignoring_duplicates(uow).returning(inbox.c.event_id)
    return set(uow.session.execute(statement, rows).scalars())


@dataclass(frozen=True)
class Outcome:
    """How one event of a batch ended: done (applied now or before: acknowledge it), to be
    retried later for a transient ``reason`` (``kit.retry``), or failed for good (requeue it;
    the delivery limit parks it). Truthy when done."""

    done: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.done

    @property
    def transient(self) -> bool:
        return not self.done and self.reason is not None


DONE = Outcome(True)
FAILED = Outcome(False)


def apply_batch(
    resource: DatabaseResource,
    handler: str,
    source: str,
    event_type: str,
    bodies: list[dict[str, Any]],
    apply: Apply,
    *,
    service: str,
) -> list[Outcome]:
    """Apply each event of ``bodies`` exactly once; per event, whether it is done with
    (applied now, or applied before), must be retried later (a transient failure) or failed."""
    done: list[Outcome] = [DONE] * len(bodies)
    events: list[tuple[int, dict[str, Any]]] = []
    catalogue = resource.catalogue
    for index, body in enumerate(bodies):
        try:
            events.append((index, catalogue.incoming(source, event_type, body)))
        except EventInvalid as exc:
            log.error("%s: %s; the message is requeued", handler, exc)
            metrics.EVENTS_CONSUMED.labels(service, event_type, "failed").inc()
            done[index] = FAILED
    try:
        applied = _apply_together(resource, handler, event_type, events, apply)
    except Exception as exc:  # noqa: BLE001 - retried event by event below
        reason = retry.classify(exc)
        if reason == "database_unreachable":
            # the database is away: trying each event alone would fail the same way, once
            # per event; the whole batch waits in the delay queues instead
            log.warning(
                "%s: the database did not answer (%s); %d event(s) will be retried later",
                handler,
                type(exc).__name__,
                len(events),
            )
            metrics.EVENTS_CONSUMED.labels(service, event_type, "deferred").inc(len(events))
            for index, _ in events:
                done[index] = Outcome(False, reason)
            return done
        log.warning(
            "%s: a batch of %d failed; applying its events one by one", handler, len(events)
        )
        for index, event in events:
            done[index] = _apply_alone(resource, handler, event_type, event, apply, service)
        return done
    metrics.EVENTS_CONSUMED.labels(service, event_type, "applied").inc(applied)
    if len(events) > applied:
        metrics.EVENTS_CONSUMED.labels(service, event_type, "duplicate").inc(len(events) - applied)
    return done


def _apply_together(
    resource: DatabaseResource,
    handler: str,
    event_type: str,
    events: list[tuple[int, dict[str, Any]]],
    apply: Apply,
) -> int:
    with resource() as uow:
        new = claim(uow, handler, [(str(event["event_id"]), event_type) for _, event in events])
        applied = 0
        for _, event in events:
            event_id = str(event["event_id"])
            if event_id in new:
                new.discard(event_id)  # the same event twice in one batch is applied once
                apply(event, uow)
                applied += 1
        uow.commit()
    return applied


def _apply_alone(
    resource: DatabaseResource,
    handler: str,
    event_type: str,
    event: dict[str, Any],
    apply: Apply,
    service: str,
) -> Outcome:
    try:
        applied = _apply_together(resource, handler, event_type, [(0, event)], apply)
    except Exception as exc:
        reason = retry.classify(exc)
        if reason is not None:
            log.info(
                "%s will retry %s %s later (%s): %s",
                handler,
                event_type,
                event.get("event_id"),
                reason,
                exc,
            )
            metrics.EVENTS_CONSUMED.labels(service, event_type, "deferred").inc()
            return Outcome(False, reason)
        log.exception("%s failed on %s %s", handler, event_type, event.get("event_id"))
        metrics.EVENTS_CONSUMED.labels(service, event_type, "failed").inc()
        return FAILED
    outcome = "applied" if applied else "duplicate"
    metrics.EVENTS_CONSUMED.labels(service, event_type, outcome).inc()
    return DONE


def apply_once(
    resource: DatabaseResource,
    handler: str,
    source: str,
    event_type: str,
    body: dict[str, Any],
    apply: Apply,
    *,
    service: str,
) -> Outcome:
    """Apply one event exactly once; falsy if it could not be applied (it raised)."""
    return apply_batch(resource, handler, source, event_type, [body], apply, service=service)[0]


class BatchQueueConsumer(QueueConsumer):
    """nameko's queue consumer on a channel of its own, with a prefetch sized for batches
    (config ``EVENT_PREFETCH``) rather than ``max_workers``."""

    @property
    def prefetch_count(self) -> int:
        return int(self.container.config.get("EVENT_PREFETCH") or DEFAULT_PREFETCH)


class BatchEventHandler(EventHandler):
    """An ``@event_handler`` whose worker receives a list of bodies and returns, per body,
    whether it is done (ack) or must be retried (requeue)."""

    queue_consumer = BatchQueueConsumer()

    def __init__(
        self,
        source_service: str,
        event_type: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_wait: float = DEFAULT_MAX_WAIT,
        **kwargs: Any,
    ) -> None:
        self.batch_size = batch_size
        self.max_wait = max_wait
        super().__init__(source_service, event_type, **kwargs)

    def setup(self) -> None:
        super().setup()
        self._check_catalogue()
        # a quorum queue with a delivery limit: a message that keeps failing is dead-lettered
        # into <queue>.dead (kit.queues; kit.deadletters shows and replays it) and the next
        # ones go on
        name = self.queue.name
        # two bindings (kombu drops a Queue's own exchange once it has bindings): the event
        # type on its source's exchange, and the queue's own name on the service's return
        # exchange, by which retried copies come back (kit.retry)
        self.queue = Queue(
            name,
            durable=True,
            queue_arguments=queues.queue_arguments(name, self.container.config),
            bindings=[
                binding(self.queue.exchange, routing_key=self.event_type),
                binding(retry.return_exchange(self.container.service_name), routing_key=name),
            ],
        )
        self._pending: list[tuple[Any, Any]] = []
        self._in_flight = False
        self._timer: Any = None
        self.policy = retry.RetryPolicy.from_config(self.container.config)
        self._retries: ProducerPool | None = None
        #: message id -> (first failure, epoch s; last retry, monotonic s) of events in retry
        self._failing: dict[str, tuple[float, float]] = {}
        metrics.EVENT_RETRY_OLDEST.labels(self.container.service_name, name).set_function(
            self.oldest_failing_age
        )

    def _check_catalogue(self) -> None:
        """A consumer that could validate no event refuses to start, rather than requeue every
        event it is sent until the delivery limit parks it: its service hands a catalogue to a
        ``Database(catalogue=...)`` or one is registered (``kit.catalogue``)."""
        handed = (getattr(provider, "catalogue", None) for provider in self.container.dependencies)
        if all(catalogue is None for catalogue in handed):
            registered()

    def start(self) -> None:
        config = self.container.config
        with kombu.Connection(config["AMQP_URI"]) as connection:
            queues.declare_dead_letter_queue(connection, self.queue.name)
            retry.declare(connection, self.container.service_name, self.policy, config)
        # copies for the delay queues go out publisher-confirmed: the original is acknowledged
        # only once the broker holds the copy
        self._retries = producer_pool(config, confirms=True, size=1)
        super().start()

    def stop(self) -> None:
        super().stop()
        close_pool(self._retries)
        self._retries = None

    def kill(self) -> None:
        super().kill()
        close_pool(self._retries)
        self._retries = None

    def handle_message(self, body: Any, message: Any) -> None:
        self._pending.append((body, message))
        if len(self._pending) >= self.batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = eventlet.spawn_after(self.max_wait, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._in_flight or not self._pending:
            return
        batch, self._pending = self._pending[: self.batch_size], self._pending[self.batch_size :]
        self._in_flight = True
        try:
            self.container.spawn_worker(
                self,
                ([body for body, _ in batch],),
                {},
                context_data={},
                handle_result=partial(self._batch_done, batch),
            )
        except ContainerBeingKilled:
            for _, message in batch:
                self.queue_consumer.requeue_message(message)
            self._in_flight = False

    def _batch_done(self, batch: list, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        outcomes = result if exc_info is None and result is not None else [FAILED] * len(batch)
        try:
            if any(not outcome and not outcome.transient for outcome in outcomes):
                time.sleep(RETRY_DELAY)
            for (_, message), outcome in zip(batch, outcomes, strict=True):
                try:
                    if outcome:
                        self._failing.pop(_message_key(message), None)
                        self.queue_consumer.ack_message(message)
                    elif outcome.transient:
                        self._retry_later(message, str(outcome.reason))
                    else:
                        self.queue_consumer.requeue_message(message)
                except Exception as exc:  # noqa: BLE001 - the broker redelivers unacked messages
                    log.warning("could not settle a message of %s: %s", self.event_type, exc)
        finally:
            # whatever happened, the next batch must be able to go
            self._in_flight = False
            if self._pending:
                self._flush()
        return result, exc_info

    def _retry_later(self, message: Any, reason: str) -> None:
        """Move a message that failed transiently into a delay queue (then acknowledge it), or
        park it once its retry horizon has passed."""
        service = self.container.service_name
        decision = retry.decide(self.policy, message.headers, reason=reason)
        if decision.park:
            log.error(
                "%s: %s still failing (%s) %.0fs after its first failure; parked in %s",
                self.queue.name,
                message.properties.get("message_id"),
                reason,
                self.policy.horizon,
                queues.dead_letter_queue(self.queue.name),
            )
            metrics.EVENT_RETRIES_EXHAUSTED.labels(service, self.event_type, reason).inc()
            self._failing.pop(_message_key(message), None)
            if message.channel.connection:
                message.reject(requeue=False)  # dead-lettered into <queue>.dead, at least once
            return
        try:
            assert self._retries is not None, "the handler is stopping"
            with self._retries.acquire(block=True, timeout=10) as producer:
                retry.publish_retry(producer, service, self.queue.name, message, decision, reason)
        except Exception as exc:  # noqa: BLE001 - the broker itself is away: requeue instead
            log.warning(
                "%s: could not put %s in a delay queue (%s); requeued",
                self.queue.name,
                message.properties.get("message_id"),
                exc,
            )
            time.sleep(RETRY_DELAY)
            self.queue_consumer.requeue_message(message)
            return
        metrics.EVENT_RETRIES.labels(service, self.event_type, reason).inc()
        self._failing[_message_key(message)] = (decision.since, time.monotonic())
        self.queue_consumer.ack_message(message)

    def oldest_failing_age(self) -> float:
        """Seconds since the first failure of the oldest event this process is retrying.

        An event is forgotten when it is applied or parked, or when it has not come back for
        twice the longest delay (another replica took it over)."""
        now_wall, now = time.time(), time.monotonic()
        stale = 2 * self.policy.cap + 30
        for key, (_, seen) in list(self._failing.items()):
            if now - seen > stale:
                self._failing.pop(key, None)
        if not self._failing:
            return 0.0
        return max(0.0, now_wall - min(since for since, _ in self._failing.values()))


def _message_key(message: Any) -> str:
    properties = message.properties or {}
    return str(properties.get("message_id") or id(message))


def on_event(
    source: str,
    event_type: str,
    *,
    db: str = "db",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> Callable:
    """Decorate ``method(self, event, uow)`` as an idempotent, batching event handler."""

    def decorator(method: Callable) -> Callable:
        def handle(self: Any, bodies: list[dict[str, Any]]) -> list[bool]:
            return apply_batch(
                getattr(self, db),
                f"{self.name}.{method.__name__}",
                source,
                event_type,
                bodies,
                lambda event, uow: method(self, event, uow),
                service=self.name,
            )

        # nameko checks the call signature against ``handle``, not ``method``
        handle.__name__ = method.__name__
        handle.__qualname__ = method.__qualname__
        handle.__doc__ = method.__doc__
        return BatchEventHandler.decorator(
            source, event_type, batch_size=batch_size, max_wait=max_wait
        )(handle)

    return decorator
