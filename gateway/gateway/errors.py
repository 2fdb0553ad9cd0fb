"""Every failure becomes ``{"error": {"code", "message", "details"}}`` — mapped in one table.

Services report errors as ``RemoteFailure(kind, code, message, details)``; ``STATUS_BY_KIND``
turns the kind into an HTTP status. Errors the gateway raises itself (authentication, request
shape, an unreachable service) carry their status directly.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError as BrokerOperationalError
from nameko.exceptions import UnknownService

from kit.errors import ServiceError
from kit.rpc import RemoteFailure, as_service_error

log = logging.getLogger(__name__)

#: the one table: what a service's error kind means over HTTP
STATUS_BY_KIND = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
    "unauthorized": 401,
    "unavailable": 503,
    # the service refused the call's proof of origin (kit.trust): JINGUO_RPC_KEY differs
    # between the gateway and that service, or their clocks disagree by more than a deadline
    "untrusted": 503,
}


class HttpError(Exception):
    """An error the gateway answers itself."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        #: headers the error's response carries (Retry-After, ...)
        self.headers: dict[str, str] = {}
        if code:
            self.code = code
        if status:
            self.status = status


class BadRequest(HttpError):
    status, code = 400, "BAD_REQUEST"


class Unauthorized(HttpError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(HttpError):
    status, code = 403, "FORBIDDEN"


class NotFound(HttpError):
    status, code = 404, "NOT_FOUND"


class TooManyAttempts(HttpError):
    """Login refused without checking the password: the username is locked after repeated
    failures, or its client address sent too many; the same answer whether or not the
    username exists."""

    status, code = 429, "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed attempts; try again in {retry_after} seconds",
            retry_after=retry_after,
        )
        self.headers["Retry-After"] = str(retry_after)


class PayloadTooLarge(HttpError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(HttpError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class ValidationFailed(HttpError):
    status, code = 422, "VALIDATION_FAILED"


class ServiceUnavailable(HttpError):
    status, code = 503, "SERVICE_UNAVAILABLE"

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"the {service} service {reason}", service=service)


class ServiceTimeout(HttpError):
    """No answer in time. The request may or may not have run before its deadline."""

    status, code = 503, "SERVICE_TIMEOUT"

    def __init__(self, service: str, seconds: float) -> None:
        super().__init__(
            f"the {service} service did not answer within {seconds:g} s",
            service=service,
            timeout=seconds,
        )


class BrokerUnavailable(HttpError):
    status, code = 503, "BROKER_UNAVAILABLE"


BROKER_ERRORS = (BrokerOperationalError, AMQPError, ConnectionError, socket.timeout, OSError)


def describe(exc: BaseException) -> tuple[int, str, str, dict[str, Any]]:
    """(status, code, message, details) for any exception raised while serving a request."""
    if isinstance(exc, HttpError):
        return exc.status, exc.code, exc.message, exc.details
    if isinstance(exc, RemoteFailure):
        if exc.kind == "untrusted":
            log.error(
                "a service refused this gateway's signed call (%s, %s): the gateway and every "
                "service must share JINGUO_RPC_KEY and a clock",
                exc.details.get("service"),
                exc.details.get("reason"),
            )
        return STATUS_BY_KIND.get(exc.kind, 500), exc.code, exc.message, exc.details
    service_error = as_service_error(exc)
    if isinstance(service_error, ServiceError):
        return (
            STATUS_BY_KIND.get(service_error.kind, 500),
            service_error.code,
            service_error.message,
            service_error.details,
        )
    if isinstance(exc, UnknownService):
        service = str(exc.args[0]) if exc.args else "requested"
        return (
            503,
            "SERVICE_UNAVAILABLE",
            f"the {service} service is not running",
            {"service": service},
        )
    if isinstance(exc, BROKER_ERRORS):
        return 503, "BROKER_UNAVAILABLE", "the message broker is unreachable; try again shortly", {}
    log.exception("unexpected error while serving a request", exc_info=exc)
    return 500, "INTERNAL_ERROR", "something went wrong on our side; it has been logged", {}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}
