"""Idempotent event consumers.

``@on_event("registry", "organization_suspended", db="db")`` turns a method into a nameko
``@event_handler`` that validates the body against the catalogue (tolerant reader), opens a
unit of work on the service's ``Database`` dependency, records ``(handler, event_id)`` in the
``inbox`` table, runs the handler inside that unit of work and commits both together. A
redelivered event finds its inbox row and changes nothing; two replicas racing on one event
collide on the inbox primary key and only one commit survives.

The handler receives ``(self, event, uow)`` and must not commit: its effect and the inbox row
commit together. Events it emits go out through the outbox like any other.
Failures requeue the message (``requeue_on_error``) instead of acking it away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from nameko.events import event_handler
from sqlalchemy.exc import IntegrityError

from kit import events as catalogue
from kit import metrics
from kit.clock import utcnow
from kit.db import UnitOfWork
from kit.tables import inbox

log = logging.getLogger(__name__)


def already_applied(uow: UnitOfWork, handler: str, event_id: str) -> bool:
    assert uow.session is not None
    return (
        uow.session.execute(
            sa.select(sa.literal(1))
            .where(inbox.c.handler == handler)
            .where(inbox.c.event_id == event_id)
        ).first()
        is not None
    )


def record_applied(uow: UnitOfWork, handler: str, event_id: str, event_type: str) -> None:
    assert uow.session is not None
    uow.session.execute(
        sa.insert(inbox).values(
            handler=handler, event_id=event_id, event_type=event_type, applied_at=utcnow()
        )
    )


def apply_once(
    uow_factory: Callable[[], UnitOfWork],
    handler_name: str,
    source: str,
    event_type: str,
    body: dict[str, Any],
    apply: Callable[[dict[str, Any], UnitOfWork], Any],
    *,
    service: str,
) -> bool:
    """Apply ``apply(event, uow)`` exactly once per ``event_id``; False if it was a duplicate."""
    event = catalogue.incoming(source, event_type, body)
    event_id = str(event["event_id"])
    try:
        with uow_factory() as uow:
            if already_applied(uow, handler_name, event_id):
                metrics.EVENTS_CONSUMED.labels(service, event_type, "duplicate").inc()
                return False
            record_applied(uow, handler_name, event_id, event_type)
            apply(event, uow)
            uow.commit()
    except IntegrityError:
        # a concurrent delivery of the same event committed first
        with uow_factory() as uow:
            if already_applied(uow, handler_name, event_id):
                metrics.EVENTS_CONSUMED.labels(service, event_type, "duplicate").inc()
                return False
        metrics.EVENTS_CONSUMED.labels(service, event_type, "failed").inc()
        raise
    except Exception:
        metrics.EVENTS_CONSUMED.labels(service, event_type, "failed").inc()
        raise
    metrics.EVENTS_CONSUMED.labels(service, event_type, "applied").inc()
    return True


#: seconds a failed handler waits before its message is requeued, so a failing dependency
#: (a database restarting) is retried at a bounded rate instead of in a hot loop
RETRY_DELAY = 1.0


def on_event(source: str, event_type: str, *, db: str = "db", **handler_kwargs: Any) -> Callable:
    """Decorate ``method(self, event, uow)`` as an idempotent ``@event_handler``."""
    handler_kwargs.setdefault("requeue_on_error", True)

    def decorator(method: Callable) -> Callable:
        def handle(self: Any, payload: dict[str, Any]) -> None:
            database = getattr(self, db)
            service = self.name
            try:
                apply_once(
                    database,
                    f"{service}.{method.__name__}",
                    source,
                    event_type,
                    payload,
                    lambda event, uow: method(self, event, uow),
                    service=service,
                )
            except Exception:
                log.exception("%s.%s failed on %s; requeueing", service, method.__name__, event_type)
                time.sleep(RETRY_DELAY)
                raise

        # nameko checks the call signature against ``handle``, not ``method``
        handle.__name__ = method.__name__
        handle.__qualname__ = method.__qualname__
        handle.__doc__ = method.__doc__
        return event_handler(source, event_type, **handler_kwargs)(handle)

    return decorator
