"""Change notices: word, right after a commit, that an entity changed — for read caches.

A service that lets other processes cache what it renders (the gateway keeps published
projects) tells them, after every commit, which of those entities the commit wrote; each
listening process drops its copy. These are **not events**: no outbox, no durability, no
order, nothing a consumer may act on but "forget your copy". They are published transient and
unconfirmed to the topic exchange ``jinguo.changes`` with routing key ``<service>.<kind>``, and
every listening process has an exclusive, auto-deleted queue of its own (a broadcast), read
without acknowledgements in a green thread (no nameko worker per notice). Notices published
while a listener was disconnected are gone, so a listener drops everything on (re)connecting;
one lost otherwise (the publishing service's own connection failing after its commit) costs
staleness bounded by the cache's time to live, never a wrong write: caches hold only reads.

Service side (notices only for projects somebody may have cached: the published ones)::

    class ProjectsService:
        db = Database()
        changes = ChangeNotices(project=(domain.Project, is_published))

Listener side: ``follow(amqp_uri, [("projects", "project")], on_notice, on_connected, ...)``
in a managed thread (the gateway's ``ReadCacheProvider`` does this).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from kombu import Exchange, Queue, binding
from kombu.pools import ProducerPool
from nameko.constants import NON_PERSISTENT
from nameko.extensions import DependencyProvider
from prometheus_client import Counter

from kit.amqp import close_pool, listen, producer_pool
from kit.dependencies import Database

log = logging.getLogger(__name__)

CHANGES_EXCHANGE = Exchange("jinguo.changes", type="topic", durable=True)
#: producers (each with its connection) a service publishes notices through at once
PRODUCERS = 4

NOTICES_UNSENT = Counter(
    "jinguo_change_notices_unsent",
    "Change notices that could not be published (caches stay stale up to their TTL)",
    ["service", "kind"],
)


def routing_key(service: str, kind: str) -> str:
    return f"{service}.{kind}"


def _always(_entity: Any) -> bool:
    return True


class ChangeNotices(DependencyProvider):
    """Publishes a notice for every committed write of the named aggregate classes.

    ``ChangeNotices(project=Project)`` sends ``{"kind": "project", "id": project.id}`` with
    routing key ``projects.project`` once per project a commit added, changed or deleted. It
    listens to every ``Database`` of the service; workers do not use it directly.
    """

    def __init__(self, **kinds: type | tuple[type, Callable[[Any], bool]]) -> None:
        # kind -> (class, which of its instances anybody may have cached)
        self.kinds = {
            kind: spec if isinstance(spec, tuple) else (spec, _always)
            for kind, spec in kinds.items()
        }
        self.producers: ProducerPool | None = None

    def setup(self) -> None:
        self.producers = producer_pool(self.container.config, confirms=False, size=PRODUCERS)

    def stop(self) -> None:
        close_pool(self.producers)

    kill = stop

    def start(self) -> None:
        # in start, not setup: every Database has built its resource by now
        for extension in self.container.dependencies:
            if isinstance(extension, Database) and extension.resource is not None:
                extension.resource.on_committed.append(self.notify)

    def notify(self, written: Iterable[Any]) -> None:
        """Publish one notice per watched entity ``written``; never raise."""
        service = self.container.service_name
        for kind, (cls, cached) in self.kinds.items():
            ids = {str(e.id) for e in written if isinstance(e, cls) and cached(e)}
            for entity_id in sorted(ids):
                self._publish(service, kind, entity_id)

    def _publish(self, service: str, kind: str, entity_id: str) -> None:
        assert self.producers is not None
        publish_notice(self.producers, service, kind, entity_id)

    def get_dependency(self, worker_ctx: Any) -> ChangeNotices:
        return self


def publish_notice(producers: ProducerPool, service: str, kind: str, entity_id: str) -> bool:
    """Tell every listener that ``entity_id`` of ``kind`` changed; never raise (False when it
    could not be sent: the caches stay stale up to their TTL)."""
    try:
        with producers.acquire(block=True) as producer:
            producer.publish(
                {"kind": kind, "id": entity_id},
                exchange=CHANGES_EXCHANGE,
                declare=[CHANGES_EXCHANGE],
                routing_key=routing_key(service, kind),
                delivery_mode=NON_PERSISTENT,
                serializer="json",
                retry=False,  # worth no wait: a worker must not hang on a broker outage
            )
    except Exception as exc:  # noqa: BLE001 - a notice must never fail the committed work
        NOTICES_UNSENT.labels(service, kind).inc()
        log.warning(
            "change notice %s %s not sent (%s: %s); caches stay stale up to their TTL",
            kind,
            entity_id,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def follow(
    amqp_uri: str,
    bindings: Iterable[tuple[str, str]],
    on_notice: Callable[[dict[str, Any]], None],
    on_connected: Callable[[], None],
    *,
    stopped: Callable[[], bool],
    ssl: Any = None,
    retry_interval: float = 1.0,
    name: str = "jinguo-changes",
) -> None:
    """Hear change notices of ``bindings`` ((service, kind) pairs) until ``stopped()``.

    Runs in a green thread of its own, calling ``on_notice`` per notice in that thread: no
    worker, no acknowledgement (the queue is this process's alone and holds nothing of value).
    ``on_connected`` runs each time the queue is bound and consumed — first and after every
    reconnection — since notices published while disconnected are gone: a cache drops
    everything then. Broker errors are logged and retried every ``retry_interval`` seconds.
    The connection shows as ``name`` in RabbitMQ's management UI.
    """
    bindings = list(bindings)
    queue = Queue(
        f"changes-{uuid.uuid4().hex}",
        bindings=[binding(CHANGES_EXCHANGE, routing_key(*pair)) for pair in bindings],
        durable=False,
        auto_delete=True,
        exclusive=True,
    )

    def received(body: Any, _message: Any) -> None:
        try:
            on_notice(body)
        except Exception:  # one bad notice must not stop the others
            log.exception("change notice %r not applied", body)

    listen(
        amqp_uri,
        queue,
        received,
        on_connected,
        stopped=stopped,
        ssl=ssl,
        retry_interval=retry_interval,
        name=name,
    )


__all__ = [
    "CHANGES_EXCHANGE",
    "ChangeNotices",
    "follow",
    "publish_notice",
    "routing_key",
]
