"""CSV exports streamed page by page: one paged RPC per chunk of the file.

The first page is asked for before the answer starts, so a refusal (403, 404, 422) is an
ordinary error answer; the following pages are asked for as the client reads, and the file
is written by the kit's one CSV writer (``kit.csvfile``: formula cells quoted). A page that
fails once the file has started cuts the connection, so the client sees an incomplete
transfer rather than a short file that looks whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.wrappers import Response

from kit import csvfile

#: rows per RPC of an export (the lists' largest page; config ``EXPORT_PAGE_ROWS``)
EXPORT_PAGE = 500
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Page = dict[str, Any]


def pages(fetch: Callable[[str | None], Page], first: Page) -> Iterator[Page]:
    """``first``, then each next page (``fetch(cursor)``) while there is a ``next_cursor``."""
    page = first
    while True:
        yield page
        cursor = page.get("next_cursor")
        if not cursor:
            return
        page = fetch(cursor)


def page_rows(config: dict[str, Any]) -> int:
    return int(config.get("EXPORT_PAGE_ROWS") or EXPORT_PAGE)


def without_paging(query: dict[str, Any]) -> dict[str, Any]:
    """An export's filters: everything but the client's ``limit`` and ``cursor``."""
    return {name: value for name, value in query.items() if name not in ("limit", "cursor")}


def csv_response(header: Iterable[Any], rows: Iterable[Iterable[Any]], filename: str) -> Response:
    return Response(
        csvfile.stream(header, rows),
        content_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        direct_passthrough=True,
    )


def xlsx_response(
    header: Iterable[Any], rows: Iterable[Iterable[Any]], filename: str, sheet: str = "Sheet1"
) -> Response:
    """The rows as an Excel workbook of one sheet, built whole (for reports of a few thousand
    rows at most). Text is written as text, never as a formula, whatever it starts with."""
    import io

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    table = book.create_sheet(sheet)

    def cells(values: Iterable[Any]) -> list[Any]:
        out = []
        for value in values:
            cell = WriteOnlyCell(table, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # "=1+1" stays text
            out.append(cell)
        return out

    table.append(cells(header))
    for row in rows:
        table.append(cells(row))
    body = io.BytesIO()
    book.save(body)
    return Response(
        body.getvalue(),
        content_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
