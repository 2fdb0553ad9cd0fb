"""The entrypoints every service has for the people who run it: ``health`` over RPC (the
gateway's ``/health`` asks it), ``/healthz`` for readiness probes and ``/metrics`` for
Prometheus — written once here, mixed into each service class — and ``Metrics``, the dependency
provider that times every entrypoint and watches the dead-letter queues (the metrics
themselves are defined in ``kit.metrics``).

A service with business gauges of its own overrides ``refresh_metrics(uow)``; it runs in a
read-only unit of work at each scrape, and a gauge keeps its last value while the database is
away (the scrape still answers, with ``jinguo_database_up 0``).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

import eventlet
import kombu
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler, http

from kit import deadletters, metrics
from kit.consumer import BatchEventHandler
from kit.errors import Forbidden
from kit.health import Health, health_response
from kit.rpc import RemoteFailure, as_service_error, rpc

log = logging.getLogger(__name__)

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
    exc = exc_info[1]
    if isinstance(exc, RemoteFailure):
        return "error" if exc.kind == "unavailable" else "rejected"
    error = as_service_error(exc)
    if error is None or error.kind == "unavailable":
        return "error"
    return "rejected"


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
        interval = float(self.container.config.get("DEAD_LETTER_POLL_SECONDS") or 15)
        service = self.container.service_name
        uri = self.container.config["AMQP_URI"]
        while not self._stopping:
            try:
                with kombu.Connection(uri, connect_timeout=5) as connection:
                    for queue in queues:
                        parked = deadletters.depth(connection, queue)
                        metrics.DEAD_LETTERS.labels(service, queue).set(parked)
            except Exception as exc:  # noqa: BLE001 - the broker may be down; retried next round
                log.debug("could not count dead letters: %s", exc)
            eventlet.sleep(interval)

    def get_dependency(self, worker_ctx: Any) -> Any:
        """``self.metrics(refresh)`` in a worker: the exposition (``exposition``)."""
        return partial(metrics.exposition, service=self.container.service_name)

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
        metrics.ENTRYPOINT_CALLS.labels(service, kind, name, outcome_of(exc_info)).inc()
        metrics.ENTRYPOINT_DURATION.labels(service, kind, name).observe(elapsed)
        if kind == "http":
            status = getattr(result, "status_code", None) or (500 if exc_info else 200)
            method = entrypoint.method
            metrics.HTTP_REQUESTS.labels(service, method, entrypoint.url, str(status)).inc()
            metrics.HTTP_DURATION.labels(service, method, entrypoint.url).observe(elapsed)


#: who may look at and replay dead letters over RPC (the gateway's ops pages; the gateway
#: checks the role first, the service again since these RPCs move messages)
OPS_ROLES = ("ops", "admin")


def ops_only(actor: Any) -> None:
    role = actor.get("role") if isinstance(actor, dict) else None
    if role not in OPS_ROLES:
        error = Forbidden("only ops and admins handle dead letters", role=role)
        error.code = "ROLE_NOT_ALLOWED"
        raise error


class Operations:
    db: Any
    health_report = Health()
    metrics = Metrics()
    dead_letter_desk = deadletters.DeadLetterDesk()

    def refresh_metrics(self, uow: Any) -> None:
        """Set the service's own gauges from the database (none by default)."""

    @rpc
    def health(self) -> dict[str, Any]:
        return self.health_report()

    @rpc
    def dead_letters(self, actor: dict[str, Any]) -> dict[str, Any]:
        """Each event queue of this service with how many messages are parked behind it."""
        ops_only(actor)
        return {"queues": self.dead_letter_desk.counts()}

    @rpc
    def peek_dead_letters(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """``{queue, limit?}``: the first parked messages of a queue, left parked."""
        ops_only(actor)
        return self.dead_letter_desk.look(payload.get("queue"), payload.get("limit"))

    @rpc
    def replay_dead_letters(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """``{queue, limit?}``: ``jinguo-dlq replay`` for one queue; how many went back."""
        ops_only(actor)
        return self.dead_letter_desk.replay(payload.get("queue"), payload.get("limit"))

    @http("GET", "/healthz")
    def serve_health(self, request: Any) -> Any:
        """For readiness probes: the database answers, the outbox backlog, the queues consumed."""
        return health_response(self.health_report())

    @http("GET", "/metrics")
    def serve_metrics(self, request: Any) -> Any:
        if type(self).refresh_metrics is Operations.refresh_metrics:
            return self.metrics()  # no gauges of its own: no database read at each scrape

        def refresh() -> None:
            with self.db(readonly=True) as uow:
                self.refresh_metrics(uow)

        return self.metrics(refresh)
