"""RPC entrypoint that turns service errors into one wire type the gateway can map.

nameko serialises an exception by its class path and rebuilds it on the caller's side only
when that path is registered there. Rather than make the gateway import every service's
exception classes, ``@rpc`` here converts any ``ServiceError`` (and marshmallow validation
errors, database outages and constraint violations) into ``RemoteFailure(kind, code, message,
details)``, registered for deserialisation. The gateway maps ``kind`` to an HTTP status in one
table; ``code`` and ``details`` reach the client unchanged.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import amqp.exceptions
import kombu.exceptions
import kombu.serialization
from kombu.pools import ProducerPool
from marshmallow import ValidationError
from nameko.constants import DEFAULT_MAX_WORKERS, MAX_WORKERS_CONFIG_KEY
from nameko.exceptions import UnserializableValueError, deserialize_to_instance, serialize
from nameko.rpc import Rpc as NamekoRpc
from nameko.rpc import RpcConsumer, get_rpc_exchange
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kit import retry, trust
from kit.amqp import close_pool, producer_pool
from kit.errors import Conflict, InvalidInput, ServiceError, Unavailable
from kit.metrics import RPC_REFUSED

log = logging.getLogger(__name__)


@deserialize_to_instance
class RemoteFailure(Exception):
    """A ServiceError after crossing RPC: kind, code, message and details, nothing else.

    ``details`` travels as a JSON string: nameko turns every non-string exception argument
    into its ``str()`` (1 would arrive as "1", None as "None").
    """

    def __init__(self, kind: str, code: str, message: str, details: dict[str, Any] | str) -> None:
        encoded = details if isinstance(details, str) else json.dumps(details, default=str)
        super().__init__(kind, code, message, encoded)
        self.kind = kind
        self.code = code
        self.message = message
        self.details: dict[str, Any] = json.loads(encoded)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


#: PostgreSQL's deadlock_detected and serialization_failure: the transaction can simply be retried
RETRYABLE = ("40P01", "40001")


def as_service_error(exc: BaseException) -> ServiceError | None:
    """The ServiceError a caller should see for ``exc``, or None for an unexpected error."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, ValidationError):
        return InvalidInput("the request does not match the schema", fields=exc.messages)
    if isinstance(exc, IntegrityError):
        error: ServiceError = Conflict("the change conflicts with data written meanwhile; retry")
        error.code = "CONSTRAINT_VIOLATION"
        return error
    if isinstance(exc, OperationalError) and getattr(exc.orig, "pgcode", None) in RETRYABLE:
        error = Conflict("the change collided with a concurrent one and was undone; retry it")
        error.code = "CONCURRENT_UPDATE"
        return error
    if (
        isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        or retry.classify(exc) == "database_unreachable"
    ):
        # answered at once (the connect and pool timeouts are shorter than a caller's
        # deadline), naming what is missing; the gateway adds which service said so
        error = Unavailable("the service's database did not answer", dependency="database")
        error.code = "DATABASE_UNAVAILABLE"
        return error
    return None


def to_remote_failure(exc: BaseException) -> RemoteFailure | None:
    error = as_service_error(exc)
    if error is None:
        return None
    return RemoteFailure(error.kind, error.code, error.message, error.details)


#: a reply is worth one quick retry while the broker connection is re-established, not
#: nameko's three slow ones: its caller is waiting, with a deadline
REPLY_RETRY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 0.5}


class LeanResponder:
    """Sends an RPC reply transient and unconfirmed, serialised once, through a producer the
    process holds.

    nameko's own responder publishes every reply persistent, with a publisher confirm (a
    broker round trip) and serialises it twice; its Publisher also builds a kombu connection
    and looks up kombu's process-wide producer pool for each reply, which cost more CPU than
    the read a reply answers (a third of the projects service's CPU on GET of a draft, py-spy).
    A reply only matters while its caller waits: the caller waits with a deadline, and a reply
    lost with a broker crash is the same as a late one (the gateway answers 503
    ``SERVICE_TIMEOUT``).
    """

    def __init__(self, producers: ProducerPool, exchange: Any, message: Any) -> None:
        self.producers = producers
        self.exchange = exchange
        self.message = message

    def send_response(self, result: Any, exc_info: Any) -> Any:
        error = serialize(exc_info[1]) if exc_info is not None else None
        content_type = self.message.properties["content_type"]
        serializer = kombu.serialization.registry.type_to_name[content_type]
        try:
            _, encoding, body = kombu.serialization.dumps(
                {"result": result, "error": error}, serializer
            )
        except Exception:  # noqa: BLE001 - as nameko: an unserialisable result becomes an error
            exc_info = sys.exc_info()
            error = serialize(UnserializableValueError(result))
            result = None
            _, encoding, body = kombu.serialization.dumps(
                {"result": None, "error": error}, serializer
            )
        with self.producers.acquire(block=True) as producer:
            producer.publish(
                body,
                content_type=content_type,
                content_encoding=encoding,
                exchange=self.exchange,
                routing_key=self.message.properties["reply_to"],
                correlation_id=self.message.properties.get("correlation_id"),
                delivery_mode=1,
                retry=True,
                retry_policy=REPLY_RETRY,
            )
        return result, exc_info


class LeanRpcConsumer(RpcConsumer):
    """nameko's RPC consumer, replying through producers of the process's own
    (``kit.amqp.producer_pool``, one per worker slot; not kombu's process-wide pools, which
    nameko's publishers share)."""

    replies: ProducerPool | None = None

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        self.exchange = get_rpc_exchange(config)
        self.replies = producer_pool(
            config,
            confirms=False,
            size=int(config.get(MAX_WORKERS_CONFIG_KEY, DEFAULT_MAX_WORKERS)),
        )

    def stop(self) -> None:
        super().stop()
        close_pool(self.replies)
        self.replies = None

    def kill(self) -> None:
        close_pool(self.replies)
        self.replies = None

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> Any:
        try:
            if self.replies is None:
                raise kombu.exceptions.OperationalError("the service is stopping")
            responder = LeanResponder(self.replies, self.exchange, message)
            result, exc_info = responder.send_response(result, exc_info)
        except (kombu.exceptions.OperationalError, amqp.exceptions.AMQPError, OSError) as exc:
            # The broker went away while the worker ran: the reply cannot be sent. Its caller
            # stops waiting and answers 503; what the request changed is committed or not, as
            # the worker decided, and a retry with the same Idempotency-Key finds it. nameko
            # would let this error kill the whole service, and with it every other worker.
            log.warning(
                "the reply to %s could not be sent (%s: %s); the caller will time out",
                self.container.service_name,
                type(exc).__name__,
                exc,
            )
        self.queue_consumer.ack_message(message)
        return result, exc_info


#: context key (header ``nameko.deadline``) a caller sets to the epoch second after which it
#: no longer waits for the answer
DEADLINE_KEY = "deadline"


class Rpc(NamekoRpc):
    """nameko's ``@rpc``, plus: errors become ``RemoteFailure``; expired requests are not run;
    requests without proof that they come from the platform are not run.

    A caller that gave up (the gateway answered 503) must not have its request executed later
    by a service that was hung and resumed with the message already prefetched. The message
    TTL covers requests still queued; the deadline covers those already delivered.

    Whoever can publish to the broker could otherwise name any actor: every request must carry
    an HMAC with ``JINGUO_RPC_KEY`` over this ``service.method``, its expiry and its exact body
    (``kit.trust``); one without is answered ``RPC_UNTRUSTED`` (kind ``untrusted``), logged and
    counted in ``jinguo_rpc_refused_total``, and the method never runs.
    """

    keys: tuple[bytes, ...] = ()

    rpc_consumer = LeanRpcConsumer()

    def __init__(
        self, expected_exceptions: Any = (ServiceError, ValidationError), **kwargs: Any
    ) -> None:
        super().__init__(expected_exceptions=expected_exceptions, **kwargs)

    def setup(self) -> None:
        super().setup()
        # a missing, short or development key outside dev/test stops the service here
        self.keys = trust.rpc_keys(self.container.config)

    def handle_message(self, body: Any, message: Any) -> None:
        headers = self.unpack_message_headers(message)
        deadline = headers.get(DEADLINE_KEY)
        if deadline is not None and time.time() > float(deadline):
            late = RemoteFailure(
                "unavailable", "DEADLINE_EXCEEDED", "the caller stopped waiting; not executed", {}
            )
            self.rpc_consumer.handle_result(message, None, (RemoteFailure, late, None))
            return
        target = f"{self.container.service_name}.{self.method_name}"
        try:
            trust.verify(
                self.keys,
                target,
                trust.raw_body(message),
                headers.get(trust.PROOF_KEY),
                content_type=message.content_type or "",
                encoding=message.content_encoding or "",
            )
        except trust.Untrusted as refused:
            self._refuse(message, target, refused.reason)
            return
        super().handle_message(body, message)

    def _refuse(self, message: Any, target: str, reason: str) -> None:
        RPC_REFUSED.labels(self.container.service_name, self.method_name, reason).inc()
        log.warning(
            "refused an RPC request to %s: %s proof of origin (correlation id %s); "
            "the gateway and every service must share JINGUO_RPC_KEY",
            target,
            reason,
            message.properties.get("correlation_id"),
        )
        failure = RemoteFailure(
            "untrusted",
            "RPC_UNTRUSTED",
            f"the {self.container.service_name} service refused a call without valid proof "
            "that it comes from the platform",
            {"service": self.container.service_name, "reason": reason},
        )
        self.rpc_consumer.handle_result(message, None, (RemoteFailure, failure, None))

    def handle_result(self, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        if exc_info is not None:
            failure = to_remote_failure(exc_info[1])
            if failure is not None and failure.kind == "unavailable":
                # "funding's database", not just "a database"
                details = {"service": self.container.service_name, **failure.details}
                failure = RemoteFailure(failure.kind, failure.code, failure.message, details)
            if failure is not None:
                exc_info = (RemoteFailure, failure, exc_info[2])
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = Rpc.decorator
