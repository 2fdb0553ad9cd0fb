"""Prometheus metrics shared by every service, defined once at import.

Metric objects live at module level (never in ``setup()``), so starting a service container
twice in one process — as tests do — never registers a name twice. Every series carries a
``service`` label; label values are bounded (entrypoint names, event types, outcomes), never ids.

nameko-prometheus was considered: it declares its metrics inside ``setup()`` (a second container
in one process fails with a duplicate registration) and does not label RPC outcomes, which
the error-ratio alerts need; this module is the small equivalent that does both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ENTRYPOINT_CALLS = Counter(
    "jinguo_entrypoint_calls_total",
    "Entrypoint calls by outcome: ok, rejected (a ServiceError the caller is told about) or error",
    ["service", "kind", "entrypoint", "outcome"],
)
ENTRYPOINT_DURATION = Histogram(
    "jinguo_entrypoint_duration_seconds",
    "Time spent in an entrypoint's worker",
    ["service", "kind", "entrypoint"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "jinguo_http_requests_total",
    "HTTP requests by route template, method and status code",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "jinguo_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "jinguo_events_published_total",
    "Events the outbox relay published and the broker confirmed",
    ["service", "event_type"],
)
EVENTS_UNROUTED = Counter(
    "jinguo_events_unrouted_total",
    "Events the broker returned because no queue was bound to them (kept in the outbox)",
    ["service", "event_type"],
)
EVENTS_CONSUMED = Counter(
    "jinguo_events_consumed_total",
    "Events handled by idempotent consumers: applied, duplicate (already applied), deferred "
    "(a transient failure: retried later through a delay queue) or failed",
    ["service", "event_type", "outcome"],
)
OUTBOX_BACKLOG = Gauge("jinguo_outbox_backlog_events", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "jinguo_outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none)",
    ["service"],
)
OUTBOX_UNROUTED = Gauge(
    "jinguo_outbox_unrouted_events",
    "Outbox rows returned as unroutable, awaiting a replay",
    ["service"],
)
DEAD_LETTERS = Gauge(
    "jinguo_dead_letters",
    "Messages parked in a dead-letter queue after too many failed deliveries",
    ["service", "queue"],
)
RPC_REFUSED = Counter(
    "jinguo_rpc_refused_total",
    "RPC requests refused before they ran because they carried no valid proof from the "
    "platform (reason: missing, malformed, expired, invalid)",
    ["service", "entrypoint", "reason"],
)
EVENT_RETRIES = Counter(
    "jinguo_event_retries_total",
    "Events put in a delay queue to be tried again later, by the transient reason they failed "
    "(database_unreachable, serialization, deadlock, lock_timeout, not_yet_known, ...)",
    ["service", "event_type", "reason"],
)
EVENT_RETRIES_EXHAUSTED = Counter(
    "jinguo_event_retries_exhausted_total",
    "Events parked because they still failed transiently after the retry horizon",
    ["service", "event_type", "reason"],
)
EVENT_RETRY_OLDEST = Gauge(
    "jinguo_event_retry_oldest_seconds",
    "Seconds since the first failure of the oldest event this process is retrying (0: none); "
    "it is parked once this passes the retry horizon",
    ["service", "queue"],
)
GAUGE_REFRESH_FAILURES = Counter(
    "jinguo_metrics_refresh_failures_total",
    "Times /metrics could not refresh the gauges it reads from the database (they keep their "
    "last value)",
    ["service"],
)
OUTBOX_RELAY_LEADER = Gauge(
    "jinguo_outbox_relay_leader", "1 while this process's relay holds the outbox lease", ["service"]
)

_KINDS: tuple[tuple[type, str], ...] = (
    (Rpc, "rpc"),
    (EventHandler, "event"),
    (HttpRequestHandler, "http"),
    (Timer, "timer"),
)


def entrypoint_kind(entrypoint: Any) -> str:
    for cls, kind in _KINDS:
        if isinstance(entrypoint, cls):
            return kind
    return "other"


def outcome_of(exc_info: Any) -> str:
    """ok; rejected — the caller was told why (a ServiceError, possibly already converted for
    the wire); or error — something unexpected, which is what error-ratio alerts watch."""
    if exc_info is None:
        return "ok"
    from kit.rpc import RemoteFailure, as_service_error

    exc = exc_info[1]
    if isinstance(exc, RemoteFailure):
        return "error" if exc.kind == "unavailable" else "rejected"
    error = as_service_error(exc)
    if error is None or error.kind == "unavailable":
        return "error"
    return "rejected"


def exposition(refresh: Callable[[], Any] | None = None, *, service: str = "") -> Response:
    """The exposition, always 200. ``refresh`` sets the gauges read from the database first;
    when it fails (the database away) they keep their last value, the failure is counted in
    ``jinguo_metrics_refresh_failures_total`` and everything else is served as usual: the
    dead-letter, retry and outbox figures matter most exactly then."""
    if refresh is not None:
        try:
            refresh()
        except Exception as exc:  # noqa: BLE001 - /metrics must answer whatever happened
            GAUGE_REFRESH_FAILURES.labels(service).inc()
            log.warning("%s: could not refresh the database gauges: %s", service, exc)
    return Response(generate_latest(REGISTRY), status=200, content_type=CONTENT_TYPE_LATEST)


class Metrics(DependencyProvider):
    """Times every entrypoint of the service and hands workers the exposition function.

    HTTP entrypoints are counted by route template and status code as well; a route that
    returns a werkzeug ``Response`` (as the gateway's do) reports its real status. It also
    watches the dead-letter queues of the service's event handlers (every
    ``DEAD_LETTER_POLL_SECONDS``, default 15).
    """

    def __init__(self) -> None:
        self._starts: WeakKeyDictionary[Any, float] = WeakKeyDictionary()
        self._watcher: Any = None
        self._stopping = False

    def start(self) -> None:
        from kit.consumer import BatchEventHandler

        queues = sorted(
            entrypoint.queue.name
            for entrypoint in self.container.entrypoints
            if isinstance(entrypoint, BatchEventHandler)
        )
        if queues:
            self._watcher = self.container.spawn_managed_thread(
                lambda: self._watch_dead_letters(queues), identifier="dead-letter-watch"
            )

    def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.kill()

    kill = stop

    def _watch_dead_letters(self, queues: list[str]) -> None:
        import eventlet
        import kombu

        from kit import deadletters

        interval = float(self.container.config.get("DEAD_LETTER_POLL_SECONDS") or 15)
        service = self.container.service_name
        uri = self.container.config["AMQP_URI"]
        while not self._stopping:
            try:
                with kombu.Connection(uri, connect_timeout=5) as connection:
                    for queue in queues:
                        parked = deadletters.depth(connection, queue)
                        DEAD_LETTERS.labels(service, queue).set(parked)
            except Exception as exc:  # noqa: BLE001 - the broker may be down; retried next round
                log.debug("could not count dead letters: %s", exc)
            eventlet.sleep(interval)

    def get_dependency(self, worker_ctx: Any) -> Any:
        """``self.metrics(refresh)`` in a worker: the exposition (``exposition``)."""
        return partial(exposition, service=self.container.service_name)

    def worker_setup(self, worker_ctx: Any) -> None:
        self._starts[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self._starts.pop(worker_ctx, None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        service = self.container.service_name
        entrypoint = worker_ctx.entrypoint
        kind = entrypoint_kind(entrypoint)
        name = entrypoint.method_name
        ENTRYPOINT_CALLS.labels(service, kind, name, outcome_of(exc_info)).inc()
        ENTRYPOINT_DURATION.labels(service, kind, name).observe(elapsed)
        if kind == "http":
            status = getattr(result, "status_code", None) or (500 if exc_info else 200)
            method = entrypoint.method
            HTTP_REQUESTS.labels(service, method, entrypoint.url, str(status)).inc()
            HTTP_DURATION.labels(service, method, entrypoint.url).observe(elapsed)
