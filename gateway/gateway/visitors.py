"""Visitors of the public pages (信息公开, no login): their rate limit, and the answers they
may keep.

The rate limit is the login throttle's (``gateway.throttle``): a counter per client address
within a window of a minute, kept in the gateway's database (``ThrottleStore``) so every
gateway process counts the same requests; past the limit a request is refused with 429 and
``Retry-After`` until the window ends. Each request counts (a revalidation that ends in a 304
too: it still costs a call to the projects service).

A public answer is the same for everybody, so it may be kept by browsers and proxies
(``Cache-Control: public, max-age``); its ``ETag`` is a digest of its bytes, and a request that
sends it back in ``If-None-Match`` gets a 304 without a body.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Request, Response

from gateway import throttle
from gateway.errors import HttpError
from gateway.http import JSON_TYPE, dumps
from gateway.store import ThrottleStore
from kit.db import DatabaseResource

#: public requests one client address may make per minute, unless configured
DEFAULT_RATE_LIMIT = 120
#: seconds a browser or proxy may keep a public answer without asking again, unless configured
DEFAULT_MAX_AGE = 60


class TooManyRequests(HttpError):
    """A client address over the public pages' rate limit."""

    status, code = 429, "TOO_MANY_REQUESTS"

    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__(
            f"more than {limit} requests a minute from this address; try again in "
            f"{retry_after} seconds",
            retry_after=retry_after,
            limit=limit,
        )
        self.headers["Retry-After"] = str(retry_after)


def rule(limit: int) -> throttle.Rule:
    """``limit`` requests per client address per minute (a refusal locks nothing beyond the
    window's end)."""
    return throttle.Rule("public", limit=limit, window=timedelta(minutes=1), lock=timedelta(0))


def admit(resource: DatabaseResource, address: str, limit: int, now: datetime) -> None:
    """Count this request against ``address``, or refuse it (429 with ``Retry-After``)."""
    current = rule(limit)
    key = throttle.key_of(current, address)
    for attempt in (1, 2):
        try:
            with resource.begin() as connection:
                store = ThrottleStore(connection)
                counter = store.get([key]).get(key)
                decision = throttle.admit(current, key, counter, now)
                if not decision.admitted:
                    raise TooManyRequests(decision.retry_after or 1, limit)
                assert decision.counter is not None
                store.put(
                    decision.counter, decision.counter.expires_at(current), new=counter is None
                )
                if decision.counter.attempts == 1:  # once a window per address, not per request
                    store.purge(now)
            return
        except IntegrityError:
            # another gateway process counted this address's first request at the same moment
            if attempt == 2:
                raise


def etag_of(text: str) -> str:
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


def cacheable(request: Request, payload: Any, max_age: int) -> Response:
    """The public answer, with its ``ETag`` and ``Cache-Control``; a 304 without a body when
    ``If-None-Match`` names the same ``ETag``."""
    text = dumps(payload)
    etag = etag_of(text)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if request.if_none_match.contains(etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(text, content_type=JSON_TYPE, headers=headers)
