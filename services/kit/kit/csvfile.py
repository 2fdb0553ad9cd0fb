"""The platform's one CSV writer: every export (the funding journal, hours reports) goes
through it. Domain-free.

- UTF-8 with a byte order mark, which spreadsheet programs need to read Chinese;
- a text cell that a spreadsheet would run as a formula — it starts with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return (OWASP's CSV injection rule) — is written with a leading
  ``'``, so ``=HYPERLINK(...)`` in a team's name stays text; numbers are written as they are;
- written as a stream of chunks (``stream``), so an export of any length is sent as its pages
  arrive, never held whole in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

BOM = "\ufeff"
#: what starts a formula in Excel, LibreOffice or Google Sheets
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: bytes gathered before a chunk is handed on
CHUNK_BYTES = 64 * 1024


def safe_cell(value: Any) -> Any:
    """A cell as written: None is empty; text that would start a formula gets a leading
    quote; numbers and other text pass unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Each row as one CSV line (``\\r\\n`` ended, quoted where needed), cells made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def stream(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[bytes]:
    """The whole file, BOM and header first, as UTF-8 chunks of about ``CHUNK_BYTES``; rows
    are read only as the chunks are taken."""
    chunk = [BOM]
    size = 0
    for line in lines(_with_header(header, rows)):
        chunk.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(chunk).encode("utf-8")
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk).encode("utf-8")


def text(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> str:
    """The whole file as one string (for small files and tests)."""
    return b"".join(stream(header, rows)).decode("utf-8")


def _with_header(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[Iterable[Any]]:
    yield header
    yield from rows
