"""Signed RPC calls from outside the gateway: a service asking another for itself, scripts, tests.

Every request to a kit ``@rpc`` entrypoint must carry proof that it comes from the platform
(``kit.trust``). The gateway signs its calls for the user it serves (``gateway.rpc``); a service
that needs another service's answer for its own work — not on behalf of a user — calls as its
system actor through ``SystemRpc``:

    class ProjectsService:
        registry = SystemRpc("registry", actor=SYSTEM.to_dict())

        def ...(self):
            organization = self.registry.call("get_organization", organization_id)

``SystemRpc`` passes the ``actor`` it was given (``language.actor.SYSTEM``: the kit knows no
roles) unless the call names one, signs the
request with ``JINGUO_RPC_KEY`` and waits for the answer with a deadline (``RpcTimeout`` past
it; a ``RemoteFailure`` is raised as the service reported it). Each call opens its own
connection and reply queue (a few milliseconds): meant for rare calls — such as an organization
a service's directory copy has not heard of yet — not for the path of every request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import eventlet
from amqp.exceptions import ChannelError
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection, Consumer, Exchange, Producer, Queue
from nameko.exceptions import RpcTimeout, UnknownService, deserialize
from nameko.extensions import DependencyProvider
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TTL

from kit.rpc import DEADLINE_KEY
from kit.trust import SignedRequest, rpc_keys, signed_request

#: seconds a call waits for its answer unless told otherwise
DEFAULT_TIMEOUT = 10.0


def _rpc_exchange(config: dict[str, Any]) -> Exchange:
    return Exchange(config.get("rpc_exchange", "nameko-rpc"), durable=True, type="topic")


class SignedRpcClient:
    """Signed calls over one connection and one reply queue of its own.

    ``config`` is a nameko config (``AMQP_URI``, and the key as ``RPC_KEY`` or the
    ``JINGUO_RPC_KEY`` environment variable); ``caller`` names the reply queue
    (``rpc.reply-<caller>-<uuid>``, which the broker permissions of ``deploy/`` allow each
    service for its own name). Use as a context manager, or ``close()``.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        caller: str = "standalone",
        timeout: float | None = None,
        serializer: str | None = None,
    ) -> None:
        self.key = rpc_keys(config)[0]
        self.timeout = float(timeout or DEFAULT_TIMEOUT)
        self.serializer = serializer or config.get("serializer", "json")
        self.exchange = _rpc_exchange(config)
        # publisher confirms: a request no queue is bound to (the service is not running) is
        # returned at once, as nameko's proxies report it (UnknownService)
        self.connection = Connection(
            config["AMQP_URI"],
            ssl=config.get("AMQP_SSL"),
            transport_options={"confirm_publish": True},
        )
        self.reply_to = str(uuid.uuid4())
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(caller, self.reply_to),
            exchange=self.exchange,
            routing_key=self.reply_to,
            queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL},
            exclusive=True,
            auto_delete=True,
        )
        # one green thread at a time reads or writes the connection (publishing waits for its
        # confirm, which reads too); the others wait for their answer
        self._io = Semaphore()
        self._waiting: dict[str, Event] = {}
        channel = self.connection.channel()
        self.producer = Producer(channel)
        self.consumer = Consumer(channel, [self.queue], callbacks=[self._received], no_ack=True)
        self.consumer.consume()

    def __enter__(self) -> SignedRpcClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.connection.release()

    def _received(self, body: Any, message: Any) -> None:
        waiting = self._waiting.pop(message.properties.get("correlation_id"), None)
        if waiting is not None:
            waiting.send(body)

    def _publish(
        self,
        service: str,
        method: str,
        request: SignedRequest,
        correlation_id: str,
        expires: float,
        seconds: float,
    ) -> None:
        self.producer.publish(
            request.body,
            exchange=self.exchange,
            routing_key=f"{service}.{method}",
            reply_to=self.reply_to,
            correlation_id=correlation_id,
            content_type=request.content_type,
            content_encoding=request.content_encoding,
            headers={**request.headers, f"nameko.{DEADLINE_KEY}": expires},
            expiration=seconds,
            delivery_mode=1,
            mandatory=True,
            declare=[self.exchange],
        )

    def call(
        self, service: str, method: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        """``service.method(*args, **kwargs)``, signed; its result, or the error it raised."""
        seconds = float(timeout or self.timeout)
        expires = time.time() + seconds
        request = signed_request(
            self.key, service, method, args, kwargs, expires, serializer=self.serializer
        )
        correlation_id = str(uuid.uuid4())
        answered = self._waiting[correlation_id] = Event()
        try:
            with self._io:
                self._publish(service, method, request, correlation_id, expires, seconds)
        except ChannelError as exc:
            self._waiting.pop(correlation_id, None)
            if "NO_ROUTE" in str(exc):
                raise UnknownService(service) from None
            raise
        finish = time.monotonic() + seconds
        while not answered.ready():
            remaining = finish - time.monotonic()
            if remaining <= 0:
                self._waiting.pop(correlation_id, None)
                raise RpcTimeout(seconds)
            if self._io.acquire(blocking=False):
                try:
                    self.connection.drain_events(timeout=min(remaining, 0.05))
                except TimeoutError:
                    pass
                finally:
                    self._io.release()
            else:
                eventlet.sleep(0.005)
        reply = answered.wait()
        if reply.get("error"):
            raise deserialize(reply["error"])
        return reply.get("result")


class SystemClient:
    def __init__(
        self,
        config: dict[str, Any],
        caller: str,
        service: str,
        timeout: float,
        actor: Mapping[str, Any],
    ) -> None:
        self._config = config
        self._caller = caller
        self.service = service
        self.timeout = timeout
        self.actor = actor

    def call(self, method: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("actor", dict(self.actor))
        with SignedRpcClient(
            self._config, caller=self._caller, timeout=timeout or self.timeout
        ) as client:
            return client.call(self.service, method, *args, **kwargs)


class SystemRpc(DependencyProvider):
    """``registry = SystemRpc("registry", actor=SYSTEM.to_dict())``: workers call
    ``self.registry.call("method", ...)`` as ``actor`` (the service acting for itself), signed
    with the service's ``JINGUO_RPC_KEY``."""

    def __init__(
        self,
        target_service: str,
        *,
        actor: Mapping[str, Any],
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.target_service = target_service
        self.actor = actor
        self.timeout = timeout

    def setup(self) -> None:
        rpc_keys(self.container.config)  # a missing or weak key stops the service at start

    def get_dependency(self, worker_ctx: Any) -> SystemClient:
        return SystemClient(
            self.container.config,
            self.container.service_name,
            self.target_service,
            self.timeout,
            self.actor,
        )
