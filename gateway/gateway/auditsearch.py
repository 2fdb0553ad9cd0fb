"""The auditor's search over the five audit logs (the gateway's and the four services'), merged
newest first and paged with one cursor. Plain Python: the logs are callables.

Each log pages itself newest first by its own ``seq`` (``kit.audit.search``: the cursor is
the seq to read below). The merged cursor keeps, per log, where its next page starts: the seq
below the last record of it already shown, or ``0`` once it has nothing more. A page asks
each log still open for ``limit`` records below its position, merges them by time (newest
first; a tie by log name and seq) and keeps the first ``limit``: since no log gave fewer
than it had, nothing a log holds beyond what it gave can come before what is kept, so the
pages are exact and never repeat or skip a record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kit.errors import InvalidInput

#: the logs in the order their status is shown
LOGS = ("gateway", "registry", "projects", "funding", "volunteers")
#: filters the auditor's search takes (``log`` picks one log; the rest go to every log)
LOG_FILTERS = (
    "user_id",
    "username",
    "object_type",
    "object_id",
    "action",
    "outcome",
    "since",
    "until",
)
#: a log that has nothing more below its position
DONE = 0

Search = Callable[[str, dict[str, Any]], dict[str, Any]]


class LogUnavailable(Exception):
    """A log did not answer (its service down or not yet serving the audit): the page goes on
    without it and says so; its position stays for the next page."""

    def __init__(self, log: str) -> None:
        super().__init__(f"the {log} audit log did not answer")
        self.log = log


def decode_cursor(cursor: str | None, logs: tuple[str, ...]) -> dict[str, int | None]:
    """Each log's position: None (from the newest), a seq to read below, or ``DONE``."""
    if not cursor:
        return dict.fromkeys(logs)
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        positions = {log: raw.get(log) for log in logs}
        if not all(
            value is None or (isinstance(value, int) and value >= 0) for value in positions.values()
        ):
            raise ValueError
    except (ValueError, binascii.Error, AttributeError, UnicodeDecodeError):
        raise InvalidInput("not a cursor of this search", field="cursor", rule="invalid") from None
    return positions


def encode_cursor(positions: Mapping[str, int | None]) -> str:
    text = json.dumps(dict(positions), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    #: logs that did not answer (their records are missing from this page)
    unavailable: tuple[str, ...] = ()


def _newest_first(record: Mapping[str, Any]) -> tuple[str, str, int]:
    return (str(record["at"]), str(record["log"]), int(record["seq"]))


def merged_page(
    search: Search,
    filters: Mapping[str, Any],
    *,
    limit: int,
    cursor: str | None = None,
    logs: tuple[str, ...] = LOGS,
) -> Page:
    """One page of the merged search; ``search(log, filters)`` asks one log."""
    positions = decode_cursor(cursor, logs)
    fetched: dict[str, dict[str, Any]] = {}
    candidates: list[dict[str, Any]] = []
    unavailable = []
    for log in logs:
        position = positions[log]
        if position == DONE:
            continue
        query = {**{k: v for k, v in filters.items() if k in LOG_FILTERS}, "limit": limit}
        if position is not None:
            query["cursor"] = position
        try:
            fetched[log] = search(log, query)
        except LogUnavailable:
            # left out of this search (the answer names it), not asked again on its pages
            unavailable.append(log)
            positions[log] = DONE
            continue
        candidates += [{**item, "log": log} for item in fetched[log]["items"]]
    candidates.sort(key=_newest_first, reverse=True)
    kept = candidates[:limit]
    for log, answer in fetched.items():
        mine = [item for item in kept if item["log"] == log]
        if len(mine) == len(answer["items"]) and not answer.get("next_cursor"):
            positions[log] = DONE
        elif mine:
            positions[log] = int(mine[-1]["seq"])
    more = any(position != DONE for position in positions.values())
    return Page(kept, encode_cursor(positions) if more else None, tuple(unavailable))


def every_record(
    search: Search,
    filters: Mapping[str, Any],
    *,
    page_rows: int,
    logs: tuple[str, ...] = LOGS,
    cursor: str | None = None,
) -> Any:
    """Every record of the search from ``cursor``, newest first, a page at a time (for the
    CSV export)."""
    while True:
        page = merged_page(search, filters, limit=page_rows, cursor=cursor, logs=logs)
        yield from page.items
        if page.next_cursor is None or not page.items:
            return
        cursor = page.next_cursor


def record_key(log: str, seq: str) -> tuple[str, int]:
    """A record's address in the API (``/audit/records/{log}/{seq}``), checked."""
    if log not in LOGS:
        raise InvalidInput(f"log must be one of {', '.join(LOGS)}", field="log", rule="one_of")
    if not seq.isdigit() or int(seq) < 1:
        raise InvalidInput("seq is a whole number from 1", field="seq", rule="integer")
    return log, int(seq)
