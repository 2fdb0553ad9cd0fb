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
from collections.abc import Callable
from typing import Any

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
