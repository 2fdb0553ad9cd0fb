"""Calling the services: nameko RPC with a deadline, so a dead service is a 503, never a hang.

Requests carry a message TTL and a deadline header equal to the timeout, so a call the gateway
gave up on is not executed later by a service that comes back (kit's ``@rpc`` drops requests
past their deadline). A service that never started (no queue bound) is refused by the broker
at once (503 ``SERVICE_UNAVAILABLE``); one that stopped answering times out.

Every request is signed with ``JINGUO_RPC_KEY`` (``kit.trust``: an HMAC over ``service.method``,
the deadline and the exact body with its actor), which the service checks before the method
runs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import eventlet
from amqp.exceptions import ChannelError
from eventlet.event import Event
from kombu import Connection, Queue
from nameko.extensions import SharedExtension
from nameko.messaging import HeaderEncoder
from nameko.rpc import (
    RPC_REPLY_QUEUE_TEMPLATE,
    RPC_REPLY_QUEUE_TTL,
    RpcProxy,
    RpcReply,
    get_rpc_exchange,
)

from gateway.errors import BROKER_ERRORS, BrokerUnavailable, ServiceTimeout, ServiceUnavailable
from kit.amqp import close_pool, listen, producer_pool
from kit.rpc import DEADLINE_KEY
from kit.trust import rpc_keys, signed_request

DEFAULT_TIMEOUT = 10.0
#: fail fast while the broker is down rather than retrying for many seconds
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 0.5}
#: producers (each with its connection) a gateway process publishes requests through at once
PRODUCERS = 10
_HEADERS = HeaderEncoder()


class ServiceClient:
    def __init__(self, rpc: ServiceRpc, worker_ctx: Any) -> None:
        self._rpc = rpc
        self._worker_ctx = worker_ctx
        self.service = rpc.target_service
        self.timeout = rpc.timeout
        #: how much longer than the deadline this caller waits for a late answer: a request
        #: the service started before its deadline runs to its end, and an idempotent request
        #: keeps that outcome for its retry (``gateway.http``)
        self.patience = 0.0
        #: this service, once the worker has called it
        self.called: str | None = None

    def call(self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        return self.start(method, *args, timeout=timeout, **kwargs).result()

    def start(
        self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> PendingCall:
        """Send the request and return at once; ``result()`` waits for the answer (so a
        caller can prepare the next request meanwhile, as an import does with its batches)."""
        deadline = timeout or self.timeout
        expires = time.time() + deadline
        self.called = self.service
        # travels as a context header; the service drops the request once it has passed
        self._worker_ctx.data[DEADLINE_KEY] = expires
        # serialised once here and signed: the proof covers the exact bytes the service gets
        request = signed_request(
            self._rpc.key,
            self.service,
            method,
            args,
            kwargs,
            expires,
            serializer=self._rpc.serializer,
        )
        listener = self._rpc.rpc_reply_listener
        correlation_id = str(uuid.uuid4())
        reply = listener.get_reply_event(correlation_id)
        try:
            self._rpc.send(
                request.body,
                routing_key=f"{self.service}.{method}",
                reply_to=listener.routing_key,
                correlation_id=correlation_id,
                headers={**_HEADERS.get_message_headers(self._worker_ctx), **request.headers},
                content_type=request.content_type,
                content_encoding=request.content_encoding,
                expiration=deadline,
            )
        except ChannelError as exc:
            listener.forget(correlation_id)
            if "NO_ROUTE" in str(exc):  # no queue bound: the service never started
                raise ServiceUnavailable(self.service, "is not running") from None
            raise BrokerUnavailable(f"the message broker refused the request ({exc})") from None
        except BROKER_ERRORS as exc:
            listener.forget(correlation_id)
            raise BrokerUnavailable(
                f"the message broker is unreachable ({type(exc).__name__})"
            ) from None
        return PendingCall(
            RpcReply(reply),
            self.service,
            deadline,
            lambda: listener.forget(correlation_id),
            patience=self.patience,
        )


class PendingCall:
    def __init__(
        self,
        reply: Any,
        service: str,
        timeout: float,
        abandon: Any = lambda: None,
        *,
        patience: float = 0.0,
    ) -> None:
        self._reply = reply
        self.service = service
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout + patience
        self._abandon = abandon

    def result(self) -> Any:
        with eventlet.Timeout(max(self._deadline - time.monotonic(), 0.001), False):
            return self._reply.result()
        self._abandon()  # a reply that comes later has nobody to go to
        raise ServiceTimeout(self.service, self.timeout)


class ReplyListener(SharedExtension):
    """The replies to this process's requests, read from its own queue without
    acknowledgements in a managed green thread (nameko's listener acknowledges every reply and
    goes through its shared consumer); the queue is declared at setup, so no reply can come
    before it exists."""

    def setup(self) -> None:
        config = self.container.config
        reply_id = uuid.uuid4()
        self.routing_key = str(reply_id)
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, reply_id),
            exchange=get_rpc_exchange(config),
            routing_key=self.routing_key,
            queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL},
        )
        self._replies: dict[str, Event] = {}
        self._stopped = False
        with Connection(config["AMQP_URI"], ssl=config.get("AMQP_SSL")) as connection:
            self.queue(connection.default_channel).declare()

    def start(self) -> None:
        config = self.container.config
        self.container.spawn_managed_thread(
            lambda: listen(
                config["AMQP_URI"],
                self.queue,
                self._received,
                lambda: None,
                stopped=lambda: self._stopped,
                ssl=config.get("AMQP_SSL"),
                name=f"{self.container.service_name} rpc replies",
            ),
            identifier=f"{self.container.service_name}.rpc_replies",
        )

    def stop(self) -> None:
        self._stopped = True

    kill = stop

    def get_reply_event(self, correlation_id: str) -> Event:
        reply = self._replies[correlation_id] = Event()
        return reply

    def forget(self, correlation_id: str) -> None:
        """The caller stopped waiting (it failed to send, or gave up): drop its slot."""
        self._replies.pop(correlation_id, None)

    def _received(self, body: Any, message: Any) -> None:
        reply = self._replies.pop(message.properties.get("correlation_id"), None)
        if reply is not None:
            reply.send(body)


class ServiceRpc(RpcProxy):
    """``registry = ServiceRpc("registry")``; workers call ``self.registry.call("method", ...)``.

    Requests are published transient (a request outlives neither its deadline nor a broker
    restart), ``mandatory`` and with a publisher confirm, so a service that never started (no
    queue bound) is refused at once. Unlike nameko's proxy, which builds a publisher and looks
    up a pooled connection per call (~170 µs of CPU, measured), the producers and their
    connections are made once per process; replies come back through the process's own
    ``ReplyListener`` (its own queue, read without acknowledgements), not nameko's.
    """

    rpc_reply_listener = ReplyListener()

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        self.timeout = float(config.get("RPC_TIMEOUT") or DEFAULT_TIMEOUT)
        self.exchange = get_rpc_exchange(config)
        self.serializer = config.get("serializer", "json")
        # signs every request; a missing or weak key outside dev/test stops the gateway here
        self.key = rpc_keys(config)[0]
        self.producers = producer_pool(config, confirms=True, size=PRODUCERS)

    def stop(self) -> None:
        close_pool(self.producers)

    kill = stop

    def send(self, body: bytes, **properties: Any) -> None:
        """Publish a serialised request (``properties`` name its content type and encoding)."""
        with self.producers.acquire(block=True) as producer:
            producer.publish(
                body,
                exchange=self.exchange,
                declare=[self.exchange],
                mandatory=True,
                delivery_mode=1,
                retry=True,
                retry_policy=PUBLISH_RETRY,
                **properties,
            )

    def get_dependency(self, worker_ctx: Any) -> ServiceClient:
        return ServiceClient(self, worker_ctx)
