"""A read cache for the gateway: responses it may serve again without asking the service.

The gateway keeps what ``GET /projects/{id}`` answered for a **published** project (readable by
everyone signed in, so one rendering serves every caller) and serves it again until the
projects service says that project changed: a change notice (``kit.changes``) sent after every
commit that wrote it, or this gateway's own write through ``/projects/{id}/...``. A time to
live bounds the staleness should a notice be lost (the broker restarting in between).

The race every invalidated cache has — a read that started before a change and finishes after
its notice must not put the old rendering back — is closed with tickets: take one before
asking the service, and ``put`` refuses if the key was forgotten since.

Single-threaded by design: the gateway's workers are green threads of one OS thread, and no
method here yields to the hub.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import eventlet.event
from nameko.extensions import DependencyProvider
from prometheus_client import Counter

from kit.changes import follow

LOOKUPS = Counter(
    "jinguo_gateway_cache_lookups_total", "Gateway read-cache lookups", ["cache", "result"]
)
FORGOTTEN = Counter(
    "jinguo_gateway_cache_forgotten_total",
    "Gateway read-cache entries dropped on change",
    ["cache"],
)


class ReadCache:
    """At most ``size`` entries, each for at most ``ttl`` seconds (0: cache nothing)."""

    def __init__(
        self,
        name: str,
        *,
        size: int = 10_000,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        # when each key was last forgotten (an epoch, counted per forget); the oldest records
        # are dropped past ``size`` and ``_floor`` stands in for them (conservatively)
        self._epoch = 0
        self._forgotten: OrderedDict[str, int] = OrderedDict()
        self._floor = 0
        self._hits = LOOKUPS.labels(name, "hit")
        self._misses = LOOKUPS.labels(name, "miss")
        self._dropped = FORGOTTEN.labels(name)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            if entry is not None:
                del self._entries[key]
            self._misses.inc()
            return None
        self._entries.move_to_end(key)
        self._hits.inc()
        return entry[1]

    def ticket(self) -> int:
        """Take before fetching what you mean to ``put``."""
        return self._epoch

    def put(self, key: str, value: Any, ticket: int) -> bool:
        """Keep ``value`` unless ``key`` was forgotten after ``ticket`` was taken."""
        if self.ttl <= 0 or self._forgotten.get(key, self._floor) > ticket:
            return False
        self._entries[key] = (self._clock() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return True

    def forget(self, key: str) -> None:
        self._epoch += 1
        if self._entries.pop(key, None) is not None:
            self._dropped.inc()
        self._forgotten[key] = self._epoch
        self._forgotten.move_to_end(key)
        while len(self._forgotten) > self.size:
            _, epoch = self._forgotten.popitem(last=False)
            self._floor = max(self._floor, epoch)

    def clear(self) -> None:
        """Forget everything (a write whose project this gateway cannot name)."""
        self._epoch += 1
        self._floor = self._epoch
        self._dropped.inc(len(self._entries))
        self._entries.clear()
        self._forgotten.clear()


class ReadCacheProvider(DependencyProvider):
    """One ``ReadCache`` per gateway process, kept current by the change notices of
    ``follows`` ((service, kind), heard in a managed green thread: ``kit.changes.follow``),
    and emptied whenever that listener (re)connects. Config ``<PREFIX>_TTL`` seconds (0 turns
    the cache off) and ``<PREFIX>_SIZE`` entries."""

    def __init__(
        self, name: str, *, follows: tuple[str, str], config_prefix: str, ttl: float = 30.0
    ) -> None:
        self.name = name
        self.follows = follows
        self.config_prefix = config_prefix
        self.default_ttl = ttl
        self.cache: ReadCache | None = None
        self._stopped = False
        self._connected = eventlet.event.Event()

    def setup(self) -> None:
        config = self.container.config
        ttl = config.get(f"{self.config_prefix}_TTL")
        size = config.get(f"{self.config_prefix}_SIZE")
        self.cache = ReadCache(
            self.name,
            ttl=self.default_ttl if ttl in (None, "") else float(ttl),
            size=10_000 if size in (None, "") else int(size),
        )

    def start(self) -> None:
        self._stopped = False
        self.container.spawn_managed_thread(
            self._follow, identifier=f"{self.container.service_name}.{self.name}_changes"
        )

    def _follow(self) -> None:
        assert self.cache is not None
        cache = self.cache

        def connected() -> None:
            cache.clear()  # what changed while nobody listened is unknown: forget it all
            if not self._connected.ready():
                self._connected.send(True)

        follow(
            self.container.config["AMQP_URI"],
            [self.follows],
            lambda notice: cache.forget(str(notice["id"])),
            connected,
            stopped=lambda: self._stopped,
            ssl=self.container.config.get("AMQP_SSL"),
            name=f"{self.container.service_name} {self.name} cache: change notices",
        )

    @property
    def listening(self) -> bool:
        """Whether the change notices have been heard at least once since start."""
        return self._connected.ready()

    def stop(self) -> None:
        self._stopped = True

    def kill(self) -> None:
        self._stopped = True

    def get_dependency(self, worker_ctx: Any) -> ReadCache:
        assert self.cache is not None
        return self.cache
