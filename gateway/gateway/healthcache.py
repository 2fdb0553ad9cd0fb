"""The health report, computed at most once per few seconds however many ask.

``GET /health`` is public: without this, every anonymous request would open a broker
connection and call every service. A healthy report is kept ``GATEWAY_HEALTH_CACHE_TTL``
seconds (0: computed on each request), a degraded one at most ``DEGRADED_TTL`` (so recovery is
seen soon); while one is being computed, others asking wait for it rather than compute their
own. Lookups count in ``jinguo_gateway_cache_lookups_total{cache="health"}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import eventlet.semaphore
from nameko.extensions import DependencyProvider

from gateway.readcache import LOOKUPS

DEFAULT_TTL = 5.0
#: the longest a degraded report is kept
DEGRADED_TTL = 1.0


class CachedReport:
    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        healthy: Callable[[Any], bool] = lambda report: report[0] == 200,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._healthy = healthy
        self._keep = ttl
        self._lock = eventlet.semaphore.Semaphore()
        self._report: Any = None
        self._at: float | None = None
        #: how many times the report was computed (the rest were answered from memory)
        self.computed = 0

    def _fresh(self) -> bool:
        return self._at is not None and self._clock() - self._at < self._keep

    def get(self, compute: Callable[[], Any]) -> Any:
        """The kept report while fresh, else ``compute()`` (once, for everybody waiting)."""
        if self._fresh():
            LOOKUPS.labels("health", "hit").inc()
            return self._report
        with self._lock:
            if self._fresh():  # another request computed it while this one waited
                LOOKUPS.labels("health", "hit").inc()
                return self._report
            LOOKUPS.labels("health", "miss").inc()
            report = compute()
            self.computed += 1
            self._report, self._at = report, self._clock()
            self._keep = self.ttl if self._healthy(report) else min(self.ttl, DEGRADED_TTL)
            return report


class HealthCache(DependencyProvider):
    """One ``CachedReport`` per gateway process; config ``HEALTH_CACHE_TTL`` seconds."""

    def __init__(self) -> None:
        self.report: CachedReport | None = None

    def setup(self) -> None:
        ttl = self.container.config.get("HEALTH_CACHE_TTL")
        self.report = CachedReport(DEFAULT_TTL if ttl in (None, "") else float(ttl))

    def get_dependency(self, worker_ctx: Any) -> CachedReport:
        assert self.report is not None
        return self.report
