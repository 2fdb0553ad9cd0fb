"""Keyset paging: opaque cursors and the limit rule shared by every list endpoint.

A cursor is the sort key of the last item returned, base64-encoded JSON; a client treats it as
opaque. Keyset paging stays correct while rows are inserted and costs the same on page 1,000
as on page 1 (OFFSET does neither).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from kit.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: tuple[Any, ...] | None = None


def encode_cursor(key: tuple[Any, ...] | list[Any]) -> str:
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> tuple[Any, ...]:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cursor is not one this API issued", field="cursor", rule="opaque"
        ) from exc
    if not isinstance(key, list) or len(key) != arity:
        raise InvalidInput("cursor is not one this API issued", field="cursor", rule="opaque")
    return tuple(key)


def page_request(limit: int | None, cursor: str | None, arity: int) -> PageRequest:
    if limit is None:
        limit = DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be an integer from 1 to {MAX_LIMIT}", field="limit", rule="range"
        )
    after = decode_cursor(cursor, arity) if cursor else None
    return PageRequest(limit=limit, after=after)


def page(items: list[Any], request: PageRequest, key_of: Any) -> dict[str, Any]:
    """Cut a list fetched with ``limit + 1`` rows into a page and its next cursor."""
    has_more = len(items) > request.limit
    items = items[: request.limit]
    next_cursor = encode_cursor(key_of(items[-1])) if has_more and items else None
    return {"items": items, "next_cursor": next_cursor}
