"""nameko dependency providers: the Database (with its outbox relay) and friends.

One provider per external resource, with the whole lifecycle: connect in ``setup``, hand each
worker the resource in ``get_dependency``, stop the relay and dispose of the engine in ``stop``
and ``kill``. No I/O at import time.
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider

from kit.catalogue import Catalogue
from kit.db import DatabaseResource
from kit.outbox import OutboxRelay

log = logging.getLogger(__name__)


class Database(DependencyProvider):
    """The service's database; workers open units of work with ``self.db()``.

    With ``outbox=True`` (the default) it also runs the service's outbox relay in a managed
    green thread and wakes it whenever a unit of work commits events. Config keys:
    ``DATABASE_URL`` (or ``url_key``), ``DATABASE_POOL_SIZE``, ``DATABASE_CONNECT_TIMEOUT``
    (seconds, default 2), ``AMQP_URI`` and ``OUTBOX``
    (relay tuning: ``batch_size``, ``poll_interval``, ``lease_ttl``, ``confirm_timeout``,
    ``retention_days``, and ``amqp_uri`` to publish through another broker address).

    Events written and consumed are checked against ``catalogue``, or, when it is None, the
    catalogue registered in the process (``kit.catalogue``; importing ``language`` registers
    it); a service that publishes (``outbox=True``) refuses to start without one.
    """

    def __init__(
        self,
        *,
        url_key: str = "DATABASE_URL",
        outbox: bool = True,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.url_key = url_key
        self.outbox = outbox
        self.catalogue = catalogue
        self.resource: DatabaseResource | None = None
        self.relay: OutboxRelay | None = None
        self._relay_thread: Any = None

    def setup(self) -> None:
        config = self.container.config
        self.resource = DatabaseResource(
            config[self.url_key],
            service_name=self.container.service_name,
            pool_size=int(config.get("DATABASE_POOL_SIZE") or 10),
            pre_ping=bool(config.get("DATABASE_PRE_PING")),
            connect_timeout=float(config.get("DATABASE_CONNECT_TIMEOUT") or 2.0),
            catalogue=self.catalogue,
            # the audit trail is always on; only the benchmark that prices it turns it off
            audit_trail=str(config.get("AUDIT_TRAIL", "on")).lower() not in ("off", "false", "0"),
        )
        if self.outbox:
            self.resource.catalogue  # noqa: B018 - no catalogue: fail at start, not at a commit
            options = dict(config.get("OUTBOX") or {})
            # the relay may publish through another address than the service's RPC traffic
            amqp_uri = options.pop("amqp_uri", None) or config["AMQP_URI"]
            self.relay = OutboxRelay(
                self.resource, amqp_uri=amqp_uri, ssl=config.get("AMQP_SSL"), **options
            )
            self.resource.on_events_committed.append(self.relay.wake)

    def start(self) -> None:
        if self.relay is not None:
            self._relay_thread = self.container.spawn_managed_thread(
                self.relay.run, identifier=f"{self.container.service_name}.outbox_relay"
            )

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            if self._relay_thread is not None:
                with eventlet.Timeout(self.relay.confirm_timeout + 5, False):
                    self._relay_thread.wait()
        if self.resource is not None:
            self.resource.dispose()

    def kill(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.resource is not None:
            self.resource.dispose()

    def get_dependency(self, worker_ctx: Any) -> DatabaseResource:
        assert self.resource is not None
        return self.resource
