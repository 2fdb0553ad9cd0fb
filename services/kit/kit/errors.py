"""Errors a service reports to its callers.

Plain Python so that domain modules can raise them without importing a framework. Each error
has a ``kind`` (what went wrong, mapped to an HTTP status by the gateway's one table), a stable
machine ``code`` and ``details`` a client can act on (the field, the rule, the current state).
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error that crosses a service boundary on purpose."""

    kind = "invalid"
    code = "INVALID"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, details)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidInput(ServiceError):
    """The request is well-formed but breaks a rule; ``details`` names the field and the rule."""

    kind = "invalid"
    code = "VALIDATION_FAILED"


class NotFound(ServiceError):
    kind = "not_found"
    code = "NOT_FOUND"


class Conflict(ServiceError):
    kind = "conflict"
    code = "CONFLICT"


class Forbidden(ServiceError):
    kind = "forbidden"
    code = "FORBIDDEN"


class InvalidTransition(Conflict):
    """An action the state machine does not allow from the current state."""

    code = "INVALID_TRANSITION"

    def __init__(self, entity: str, action: str, current_status: str, **details: Any) -> None:
        super().__init__(
            f"cannot {action} this {entity}: its status is {current_status!r}",
            entity=entity,
            action=action,
            current_status=current_status,
            **details,
        )


class Unavailable(ServiceError):
    """A dependency (database, broker, another service) did not answer."""

    kind = "unavailable"
    code = "UNAVAILABLE"


class OutOfScope(Forbidden):
    """The actor's role allows the action, but not on this object (another federation's)."""

    code = "OUT_OF_SCOPE"


class RetryLater(Exception):
    """Raised by an event handler when the event refers to something not known here yet (it
    travels on another queue): the event is requeued and tried again shortly, quietly."""
