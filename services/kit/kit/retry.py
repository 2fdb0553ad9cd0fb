"""Retrying an event later when a dependency is sick, parking it fast when the event is bad.

A handler's failure is either **transient** — the database or the broker did not answer, a
serialization conflict or deadlock undid the transaction, a lock wait timed out, the event
refers to something another event will create first (``RetryLater``) — or **permanent**: the
event cannot be applied (invalid, a bug). ``classify`` tells them apart; ``None`` is permanent.

Permanent failures are requeued and parked by the queue's delivery limit, as before
(``kit.deadletters``). A transient failure is moved out of the way, so the events behind it go
on: the consumer publishes a copy of the message (publisher-confirmed) to the service's retry
exchange ``<service>.retry`` and then acknowledges the original. The exchange routes by a
header to one of a few **delay queues** ``<service>.retry.<T>s``, quorum queues with a
per-queue TTL of ``T`` seconds and the service's return exchange ``<service>.retry.back`` as
their dead-letter exchange: when the copy expires the broker dead-letters it, with its original
routing key (the name of the work queue), back onto the work queue, bound there by its name.
Each copy also carries a per-message TTL between ``T/2`` and ``T`` (the jitter), so a burst
that failed together does not come back together; a copy never waits longer than its queue's
``T``.

The delay of attempt ``n`` is ``min(cap, base * 2**(n-1))`` seconds with that jitter (config
``EVENT_RETRY_BASE_SECONDS`` 1, ``EVENT_RETRY_MAX_DELAY_SECONDS`` 30). Copies carry the time
of their first failure; once ``EVENT_RETRY_HORIZON_SECONDS`` (900, 15 minutes) have passed
since then, the next transient failure parks the message (rejected into ``<queue>.dead``,
reason ``rejected``) like a poison one. With the 30-second cap an event is tried again at
most 30 s after its dependency came back.

Why this and not the alternatives: RabbitMQ's delayed-message exchange is a plugin (not in the
Debian broker, and it keeps delayed messages on one node, not replicated); requeueing with a
sleep blocks the queue behind the message and counts against the delivery limit, which is what
parked every event of a 90-second database outage; a per-message TTL on a single delay queue
expires only at the head, so one long delay would hold back every shorter one behind it.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import kombu
from sqlalchemy import exc as sa_exc

from kit import queues
from kit.errors import RetryLater, ServiceError
from kit.queues import dead_lettering_arguments

log = logging.getLogger(__name__)

#: headers a retried copy carries (kept by ``jinguo-dlq replay`` only as history: it resets them)
ATTEMPT_HEADER = "jinguo-retry-attempt"
SINCE_HEADER = "jinguo-retry-since"
REASON_HEADER = "jinguo-retry-reason"
TIER_HEADER = "jinguo-retry-tier"
RETRY_HEADERS = (ATTEMPT_HEADER, SINCE_HEADER, REASON_HEADER, TIER_HEADER)

DEFAULT_BASE = 1.0
DEFAULT_CAP = 30.0
DEFAULT_HORIZON = 900.0

#: PostgreSQL SQLSTATEs that mean "the same transaction may well succeed a little later"
_PG_TRANSIENT = {
    "40001": "serialization",  # serialization_failure
    "40P01": "deadlock",  # deadlock_detected
    "55P03": "lock_timeout",  # lock_not_available
    "57014": "statement_timeout",  # query_canceled (statement_timeout)
    "53300": "database_unreachable",  # too_many_connections
    "57P01": "database_unreachable",  # admin_shutdown
    "57P02": "database_unreachable",  # crash_shutdown
    "57P03": "database_unreachable",  # cannot_connect_now (starting up, recovering)
}
#: SQLSTATE classes that never get better by waiting (data, integrity, syntax, privileges)
_PG_PERMANENT_CLASSES = ("22", "23", "42", "28", "0A", "P0")


def classify(exc: BaseException) -> str | None:
    """The reason to retry ``exc`` later, or None if it is permanent (park it).

    Reasons (bounded, they label ``jinguo_event_retries_total``): ``not_yet_known``,
    ``database_unreachable``, ``serialization``, ``deadlock``, ``lock_timeout``,
    ``statement_timeout``, ``broker_unreachable``, ``dependency_unavailable``.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = _classify_one(current)
        if reason is not None:
            return reason
        current = current.__cause__
    return None


def _classify_one(exc: BaseException) -> str | None:
    if isinstance(exc, RetryLater):
        return "not_yet_known"
    if isinstance(exc, ServiceError):
        return "dependency_unavailable" if exc.kind == "unavailable" else None
    if getattr(exc, "kind", None) == "unavailable" and hasattr(exc, "code"):
        return "dependency_unavailable"  # a RemoteFailure from a service that is down
    if isinstance(exc, sa_exc.DBAPIError):
        code = getattr(exc.orig, "pgcode", None)
        if code in _PG_TRANSIENT:
            return _PG_TRANSIENT[code]
        if exc.connection_invalidated:
            return "database_unreachable"
        if code and str(code).startswith(_PG_PERMANENT_CLASSES):
            return None
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            text = str(exc.orig).lower()
            if "locked" in text or "busy" in text:  # SQLite: database is locked
                return "lock_timeout"
            if type(exc.orig).__module__.startswith("sqlite3"):
                # SQLite reports a missing table or column as an OperationalError too
                unreachable = ("unable to open", "disk i/o")
                return "database_unreachable" if any(t in text for t in unreachable) else None
            return "database_unreachable"  # psycopg2: the connection failed or broke
        return None
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return "database_unreachable"  # TimeoutError: no pooled connection came free
    if isinstance(exc, kombu.exceptions.OperationalError | ConnectionError | TimeoutError):
        return "broker_unreachable"
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, until a horizon."""

    base: float = DEFAULT_BASE
    cap: float = DEFAULT_CAP
    horizon: float = DEFAULT_HORIZON

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RetryPolicy:
        return cls(
            base=float(config.get("EVENT_RETRY_BASE_SECONDS") or DEFAULT_BASE),
            cap=float(config.get("EVENT_RETRY_MAX_DELAY_SECONDS") or DEFAULT_CAP),
            horizon=float(config.get("EVENT_RETRY_HORIZON_SECONDS") or DEFAULT_HORIZON),
        )

    def tier(self, attempt: int) -> int:
        """The delay queue of attempt ``attempt`` (1-based): its TTL in whole seconds."""
        ceiling = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        return max(1, round(ceiling))

    def tiers(self) -> list[int]:
        """Every delay queue this policy uses, shortest first."""
        found: list[int] = []
        attempt = 1
        while True:
            tier = self.tier(attempt)
            if tier not in found:
                found.append(tier)
            if tier >= round(self.cap) or attempt > 64:
                return found
            attempt += 1

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds attempt ``attempt`` waits: between half its tier and its tier (jitter)."""
        tier = self.tier(attempt)
        return tier * (rng or random).uniform(0.5, 1.0)

    def expired(self, since: float, now: float) -> bool:
        """Whether a message failing since ``since`` (epoch seconds) has used up its horizon."""
        return now - since >= self.horizon

    def schedule(self, rng: random.Random | None = None) -> list[float]:
        """The delays of successive attempts until the horizon (for docs and tests)."""
        delays: list[float] = []
        elapsed = 0.0
        attempt = 1
        while elapsed < self.horizon:
            delay = self.delay(attempt, rng)
            delays.append(delay)
            elapsed += delay
            attempt += 1
        return delays


@dataclass(frozen=True)
class Decision:
    """What to do with a message whose handler failed transiently."""

    park: bool
    attempt: int
    since: float
    tier: int = 0
    delay: float = 0.0


def decide(
    policy: RetryPolicy,
    headers: dict[str, Any] | None,
    now: float | None = None,
    rng: random.Random | None = None,
    reason: str | None = None,
) -> Decision:
    """Retry (the next attempt, its delay queue and delay) or park, from the message's retry
    headers (absent on a first failure).

    A failure for another ``reason`` than the last one starts the backoff again (not the
    horizon): an event that waited out a database outage and now only waits for the event
    that creates what it refers to (itself back from the same outage) is tried again in a
    second, not in 30."""
    now = time.time() if now is None else now
    headers = headers or {}
    previous = headers.get(REASON_HEADER)
    attempt = int(headers.get(ATTEMPT_HEADER) or 0) + 1
    if reason is not None and previous is not None and previous != reason:
        attempt = 1
    since = float(headers.get(SINCE_HEADER) or now)
    if policy.expired(since, now):
        return Decision(park=True, attempt=attempt, since=since)
    return Decision(
        park=False,
        attempt=attempt,
        since=since,
        tier=policy.tier(attempt),
        delay=policy.delay(attempt, rng),
    )


# --- the broker side -------------------------------------------------------------------------


def exchange_name(service: str) -> str:
    return f"{service}.retry"


def delay_queue(service: str, tier: int) -> str:
    return f"{service}.retry.{tier}s"


def return_exchange_name(service: str) -> str:
    """Where expired copies go back to their work queues: a direct exchange of the service's
    own, each of its event queues bound by its own name. Not the default exchange: writing to
    that would let a service's broker user put messages into any queue of the vhost."""
    return f"{service}.retry.back"


def return_exchange(service: str) -> kombu.Exchange:
    return kombu.Exchange(return_exchange_name(service), type="direct", durable=True)


def delay_queue_arguments(tier: int, config: dict[str, Any], service: str) -> dict[str, Any]:
    """A delay queue: expired messages go back through the service's return exchange by their
    routing key (their work queue's name); quorum with at-least-once dead-lettering where
    configured."""
    return {
        "x-message-ttl": int(tier * 1000),
        "x-dead-letter-exchange": return_exchange_name(service),
        **dead_lettering_arguments(config),
    }


def declare(connection: kombu.Connection, service: str, policy: RetryPolicy, config: dict) -> None:
    """The service's retry exchange and its delay queues (idempotent; every replica of the
    service declares them as it starts, so two may race: ``queues.declare_settled``)."""

    def declare(channel: Any) -> None:
        exchange = kombu.Exchange(exchange_name(service), type="headers", durable=True)
        exchange(channel).declare()
        return_exchange(service)(channel).declare()
        for tier in policy.tiers():
            kombu.Queue(
                delay_queue(service, tier),
                exchange=exchange,
                bindings=[
                    kombu.binding(exchange, arguments={"x-match": "all", TIER_HEADER: f"{tier}s"})
                ],
                durable=True,
                queue_arguments=delay_queue_arguments(tier, config, service),
            )(channel).declare()

    queues.declare_settled(connection, declare)


def publish_retry(
    producer: kombu.Producer,
    service: str,
    queue_name: str,
    message: Any,
    decision: Decision,
    reason: str,
) -> None:
    """A copy of ``message`` into the delay queue of ``decision``, back on ``queue_name`` once it
    expires. The producer's channel must have publisher confirms: the original is acknowledged
    only after this returns."""
    headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
    headers.update(
        {
            ATTEMPT_HEADER: decision.attempt,
            SINCE_HEADER: decision.since,
            REASON_HEADER: reason,
            TIER_HEADER: f"{decision.tier}s",
        }
    )
    properties = message.properties or {}
    producer.publish(
        message.body,
        exchange=exchange_name(service),
        routing_key=queue_name,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=2,
        message_id=properties.get("message_id"),
        correlation_id=properties.get("correlation_id"),
        expiration=round(decision.delay, 3),
        retry=False,
    )
