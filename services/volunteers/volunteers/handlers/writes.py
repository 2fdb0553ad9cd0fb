"""Writes of volunteer rows (one registration, an import's batch): in turn within a process,
and tried again when they collided with another process's.

A batch's COPY blocks the whole process while it runs; were another greenlet of this process
holding an uncommitted row the COPY must wait for, neither could go on — so such writers take
turns (``VOLUNTEER_WRITES``). Across processes, two writes of the same phone collide on its
unique hash, or one waits out its lock timeout: the whole transaction is run again, and the
retry then sees what the other wrote, so a duplicate is reported as one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from eventlet.semaphore import Semaphore
from sqlalchemy.exc import IntegrityError, OperationalError

log = logging.getLogger(__name__)

#: writers of volunteers take turns within a process (see above)
VOLUNTEER_WRITES = Semaphore(1)
#: PostgreSQL lock_not_available (a COPY that waited out its lock_timeout), deadlock, and
#: serialization failure: the batch or registration is simply tried again
RETRYABLE = ("55P03", "40P01", "40001")
ATTEMPTS = 3

T = TypeVar("T")


def retryable(exc: IntegrityError | OperationalError) -> bool:
    """A unique hash taken meanwhile, or a lock or serialization failure worth another go."""
    return isinstance(exc, IntegrityError) or getattr(exc.orig, "pgcode", None) in RETRYABLE


def in_turn(transaction: Callable[[], T]) -> T:
    """Run ``transaction`` (a whole unit of work, commit included) in turn with this process's
    other volunteer writes, up to ``ATTEMPTS`` times while it collides with another's."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with VOLUNTEER_WRITES:
                return transaction()
        except (IntegrityError, OperationalError) as exc:
            if attempt == ATTEMPTS or not retryable(exc):
                raise
            log.info("volunteer write collided (%s); trying again", type(exc).__name__)
    raise AssertionError("unreachable")
