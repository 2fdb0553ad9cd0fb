"""``Idempotency-Key``: a retried POST gets the first response, not a second resource.

The first request with a key reserves it (state ``in_progress``) together with a fingerprint
of the request; when it finishes with a status below 500 the response is kept. A retry with
the same key and the same request replays that response; the same key with a different
request is refused (422). A 5xx releases the key so the client can simply try again — except
a timeout, whose request may have run.

A timeout: the gateway answers 503 ``SERVICE_TIMEOUT`` at its deadline, but goes on waiting
for the service's answer (a request the service started before its deadline runs to its end)
and keeps it for the key when it comes: a retry then gets the first outcome, replayed, and the
request never runs twice. A retry while the first is still running waits for it (up to the
RPC timeout), then is told so (409 ``IDEMPOTENCY_KEY_IN_USE``, with ``Retry-After``). Should
no answer ever come (the gateway process died), the key is taken over by a retry only once it
is stale (``IN_PROGRESS_TIMEOUT`` after the first attempt, beyond the gateway's wait for a
late answer). Keys are per user, kept 24 hours.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

import eventlet
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.errors import HttpError, ValidationFailed
from gateway.models import idempotency_keys
from kit.clock import utcnow
from kit.db import DatabaseResource

MAX_KEY_LENGTH = 200
IN_PROGRESS_TIMEOUT = timedelta(seconds=60)
#: until how long after the first attempt began the gateway waits for a timed-out request's
#: answer: the key goes stale only after that
LATE_ANSWER_WAIT = IN_PROGRESS_TIMEOUT.total_seconds() - 5
#: how often a retry waiting for the first attempt looks again
POLL_INTERVAL = 0.1
RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


class IdempotencyKeys:
    def __init__(self, resource: DatabaseResource) -> None:
        self.resource = resource

    def reserve(
        self, user_id: str, key: str, request_fingerprint: str, *, wait: float = 0.0
    ) -> StoredResponse | None:
        """Reserve ``key`` for this request, or return the response to replay; while another
        request holds the key, wait up to ``wait`` seconds for its response, then 409."""
        give_up = time.monotonic() + wait
        while True:
            try:
                return self._reserve(user_id, key, request_fingerprint)
            except HttpError as exc:
                if exc.code != IN_USE or time.monotonic() >= give_up:
                    raise
            eventlet.sleep(POLL_INTERVAL)

    def _reserve(self, user_id: str, key: str, request_fingerprint: str) -> StoredResponse | None:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValidationFailed(
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                field="Idempotency-Key",
                rule="length",
            )
        table = idempotency_keys
        now = utcnow()
        try:
            with self.resource.begin() as connection:
                row = connection.execute(
                    sa.select(table).where(table.c.user_id == user_id).where(table.c.key == key)
                ).first()
                if row is None:
                    connection.execute(
                        sa.insert(table).values(
                            user_id=user_id,
                            key=key,
                            fingerprint=request_fingerprint,
                            state="in_progress",
                            created_at=now,
                        )
                    )
                    return None
                if row.fingerprint != request_fingerprint:
                    raise ValidationFailed(
                        "this Idempotency-Key was used for a different request",
                        code="IDEMPOTENCY_KEY_REUSED",
                        field="Idempotency-Key",
                        rule="one_request_per_key",
                    )
                if row.state == "done":
                    return StoredResponse(row.response_status, row.response_body)
                if now - row.created_at < IN_PROGRESS_TIMEOUT:
                    raise _in_progress()
                # the first attempt died without an answer: this one takes the key over
                connection.execute(
                    sa.update(table)
                    .where(table.c.user_id == user_id)
                    .where(table.c.key == key)
                    .values(created_at=now)
                )
                return None
        except IntegrityError:
            raise _in_progress() from None

    def complete(
        self, user_id: str, key: str, status: int, body: str, *, ambiguous: bool = False
    ) -> None:
        """Keep the response; after a 5xx release the key — unless the outcome is unknown (a
        timeout: the request may have run), then it stays reserved until it goes stale."""
        table = idempotency_keys
        if ambiguous:
            return
        with self.resource.begin() as connection:
            if status >= 500:
                connection.execute(
                    sa.delete(table).where(table.c.user_id == user_id).where(table.c.key == key)
                )
                return
            connection.execute(
                sa.update(table)
                .where(table.c.user_id == user_id)
                .where(table.c.key == key)
                .values(state="done", response_status=status, response_body=body)
            )

    def purge(self) -> int:
        with self.resource.begin() as connection:
            return connection.execute(
                sa.delete(idempotency_keys).where(
                    idempotency_keys.c.created_at < utcnow() - RETENTION
                )
            ).rowcount


IN_USE = "IDEMPOTENCY_KEY_IN_USE"


class KeyInUse(HttpError):
    status, code = 409, IN_USE
    #: seconds a client waits before it asks again
    retry_after = 1


def _in_progress() -> HttpError:
    return KeyInUse(
        "a request with this Idempotency-Key is still being processed (or its outcome is not "
        "known yet); retry shortly to get its response",
        field="Idempotency-Key",
    )
