"""Change notices: word, right after a commit, that an entity changed — for read caches.

A service that lets other processes cache what it renders (the gateway keeps published
projects) tells them, after every commit, which of those entities the commit wrote; each
listening process drops its copy. These are **not events**: no outbox, no durability, no
order, nothing a consumer may act on but "forget your copy". They are published transient and
unconfirmed to the topic exchange ``jinguo.changes`` with routing key ``<service>.<kind>``, and
every listening process has an exclusive, auto-deleted queue of its own (a broadcast). A notice
lost (the broker restarting between the commit and the publish, a listener reconnecting) costs
staleness bounded by the cache's time to live, never a wrong write: caches hold only reads.

Service side::

    class ProjectsService:
        db = Database()
        changes = ChangeNotices(project=domain.Project)

Listener side (a broadcast to every instance)::

    @on_change("projects", "project")
    def project_changed(self, notice):  # {"kind": "project", "id": "..."}
        ...
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from kombu import Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS, NON_PERSISTENT
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer
from prometheus_client import Counter

from kit.dependencies import Database

log = logging.getLogger(__name__)

CHANGES_EXCHANGE = Exchange("jinguo.changes", type="topic", durable=True)

NOTICES_UNSENT = Counter(
    "jinguo_change_notices_unsent",
    "Change notices that could not be published (caches stay stale up to their TTL)",
    ["service", "kind"],
)


def routing_key(service: str, kind: str) -> str:
    return f"{service}.{kind}"


class ChangeNotices(DependencyProvider):
    """Publishes a notice for every committed write of the named aggregate classes.

    ``ChangeNotices(project=Project)`` sends ``{"kind": "project", "id": project.id}`` with
    routing key ``projects.project`` once per project a commit added, changed or deleted. It
    listens to every ``Database`` of the service; workers do not use it directly.
    """

    def __init__(self, **kinds: type) -> None:
        self.kinds = kinds
        self.publisher: Publisher | None = None

    def setup(self) -> None:
        config = self.container.config
        self.publisher = Publisher(
            config["AMQP_URI"],
            ssl=config.get("AMQP_SSL"),
            login_method=config.get("LOGIN_METHOD"),
            use_confirms=False,
            delivery_mode=NON_PERSISTENT,
            retry=False,  # a notice is worth no wait: a worker must not hang on a broker outage
            declare=[CHANGES_EXCHANGE],
        )

    def start(self) -> None:
        # in start, not setup: every Database has built its resource by now
        for extension in self.container.dependencies:
            if isinstance(extension, Database) and extension.resource is not None:
                extension.resource.on_committed.append(self.notify)

    def notify(self, written: Iterable[Any]) -> None:
        """Publish one notice per watched entity ``written``; never raise."""
        service = self.container.service_name
        for kind, cls in self.kinds.items():
            ids = {str(entity.id) for entity in written if isinstance(entity, cls)}
            for entity_id in sorted(ids):
                self._publish(service, kind, entity_id)

    def _publish(self, service: str, kind: str, entity_id: str) -> None:
        assert self.publisher is not None
        try:
            self.publisher.publish(
                {"kind": kind, "id": entity_id},
                exchange=CHANGES_EXCHANGE,
                routing_key=routing_key(service, kind),
                # nameko's Publisher shares one options dict between instances: pass our own
                transport_options={**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": False},
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

    def get_dependency(self, worker_ctx: Any) -> ChangeNotices:
        return self


class ChangeListener(Consumer):
    """Entrypoint: the method gets every change notice of ``kind`` from ``source_service``,
    on a queue of this process's own (exclusive, auto-deleted, so never a backlog)."""

    def __init__(self, source_service: str, kind: str, **kwargs: Any) -> None:
        self.source_service = source_service
        self.kind = kind
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self) -> None:
        name = (
            f"changes-{self.source_service}-{self.kind}--{self.container.service_name}."
            f"{self.method_name}-{uuid.uuid4().hex}"
        )
        self.queue = Queue(
            name,
            exchange=CHANGES_EXCHANGE,
            routing_key=routing_key(self.source_service, self.kind),
            durable=False,
            auto_delete=True,
            exclusive=True,
        )
        super().setup()


on_change = ChangeListener.decorator

__all__ = ["CHANGES_EXCHANGE", "ChangeListener", "ChangeNotices", "on_change", "routing_key"]
