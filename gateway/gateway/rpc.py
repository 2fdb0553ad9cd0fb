"""Calling the services: nameko RPC with a deadline, so a dead service is a 503, never a hang.

Requests carry a message TTL and a deadline header equal to the timeout, so a call the gateway
gave up on is not executed later by a service that comes back (kit's ``@rpc`` drops requests
past their deadline). A service that never started (no queue bound) is refused by the broker
at once (``UnknownService``); one that stopped answering times out.
"""

from __future__ import annotations

import time
from typing import Any

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy

from gateway.errors import BROKER_ERRORS, BrokerUnavailable, ServiceTimeout, ServiceUnavailable
from kit.rpc import DEADLINE_KEY

DEFAULT_TIMEOUT = 10.0
#: fail fast while the broker is down rather than retrying for many seconds
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 0.5}


class ServiceClient:
    def __init__(self, proxy: Any, service: str, timeout: float) -> None:
        self._proxy = proxy
        self.service = service
        self.timeout = timeout

    def call(self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        return self.start(method, *args, timeout=timeout, **kwargs).result()

    def start(
        self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> PendingCall:
        """Send the request and return at once; ``result()`` waits for the answer (so a
        caller can prepare the next request meanwhile, as an import does with its batches)."""
        deadline = timeout or self.timeout
        # travels as a context header; the service drops the request once it has passed
        self._proxy.worker_ctx.data[DEADLINE_KEY] = time.time() + deadline
        try:
            reply = getattr(self._proxy, method).call_async(*args, **kwargs)
        except UnknownService:
            raise ServiceUnavailable(self.service, "is not running") from None
        except BROKER_ERRORS as exc:
            raise BrokerUnavailable(
                f"the message broker is unreachable ({type(exc).__name__})"
            ) from None
        return PendingCall(reply, self.service, deadline)


class PendingCall:
    def __init__(self, reply: Any, service: str, timeout: float) -> None:
        self._reply = reply
        self.service = service
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout

    def result(self) -> Any:
        with eventlet.Timeout(max(self._deadline - time.monotonic(), 0.001), False):
            return self._reply.result()
        raise ServiceTimeout(self.service, self.timeout)


class ServiceRpc(RpcProxy):
    """``registry = ServiceRpc("registry")``; workers call ``self.registry.call("method", ...)``."""

    def __init__(self, target_service: str) -> None:
        # transient: a request outlives neither its deadline nor a broker restart; confirms
        # stay on, so a service that never started is refused at once (UnknownService)
        super().__init__(target_service, retry_policy=PUBLISH_RETRY, delivery_mode=1)

    def setup(self) -> None:
        super().setup()
        self.timeout = float(self.container.config.get("RPC_TIMEOUT") or DEFAULT_TIMEOUT)
        self.options["expiration"] = self.timeout

    def get_dependency(self, worker_ctx: Any) -> ServiceClient:
        return ServiceClient(super().get_dependency(worker_ctx), self.target_service, self.timeout)
