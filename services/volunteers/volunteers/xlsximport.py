"""Reading a federation's volunteer spreadsheet as an Excel workbook (.xlsx), a row at a time.

The same columns, rules and report as the CSV (``csvimport``): the header is the first row of
the **first sheet** (the workbook's first tab, whichever is active; other sheets are not read,
and are named in the report), a row's line is its row number in the sheet, blank rows are
skipped. openpyxl (read-only mode) reads the workbook's parts: which sheet is first, the styles
that make a number a date, the date system. The shared strings table (the workbook's dictionary
of text, held in memory) and the first sheet's rows are parsed here (``sheet_rows``), the rows
as the sheet's XML is decompressed, so they are never all in memory. openpyxl's own readers
build a rich-text object per string and a dictionary per cell: 12-14 s of CPU for 100,000 rows
against under 1 s for the same CSV, which made the .xlsx import far slower than the CSV one;
these give each cell's text directly (4-6 s on the same machine), as openpyxl's
``values_only`` and ``cell_text`` would.

An .xlsx is a zip, read from its end: the body must be whole and seekable before the first row
(``spool``: in memory up to a few MB, then a temporary file). The zip's declared sizes are
checked before anything is unpacked (a small file that unpacks to gigabytes is refused).

Cells become the text the service checks, as the spreadsheet shows them: a phone typed as a
number (``13800138000``) is its digits, never ``1.38e10``; a date cell is ``2024-03-05`` (a
time of day is dropped); a leading apostrophe (Excel's "keep as text" mark, when it ends up in
the text) is dropped. An 18-digit ID number typed as a number has already lost its last digits
in Excel (15 significant digits): it comes through as Excel shows it (``1.10105194912E+17``)
and the service refuses it, saying so.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import IO, Any

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from volunteers.csvimport import Columns, CsvProblem

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the body is kept in memory up to this size, then in a temporary file
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
COPY_CHUNK_BYTES = 64 * 1024
#: what the whole archive may unpack to, and its shared strings table (held in memory)
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_SHARED_STRINGS_BYTES = 256 * 1024 * 1024


class XlsxProblem(CsvProblem):
    """The workbook as a whole cannot be read (not a workbook, no header, columns missing)."""

    @classmethod
    def of(cls, problem: CsvProblem, sheet: str) -> XlsxProblem:
        details = {key: value for key, value in problem.details.items() if key != "rule"}
        return cls(f"sheet {sheet!r}: {problem.message}", rule=problem.rule, sheet=sheet, **details)


@dataclass
class SheetColumns(Columns):
    """The columns of the sheet read, and the sheets that were not."""

    sheet: str = ""
    ignored_sheets: list[str] = field(default_factory=list)


def spool(stream: IO[bytes], memory_bytes: int = SPOOL_MEMORY_BYTES) -> IO[bytes]:
    """The body, read whole, in a seekable file (memory first, then disk); the caller closes
    it. The body's own size limit is the stream's (the gateway's ``BodyStream``)."""
    spooled: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the caller closes it
        max_size=memory_bytes, prefix="jinguo-import-", suffix=".xlsx"
    )
    try:
        while chunk := stream.read(COPY_CHUNK_BYTES):
            spooled.write(chunk)
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled


def read_rows(workbook_file: IO[bytes]) -> tuple[SheetColumns, Iterator[list[Any]]]:
    """The columns found in the first sheet's first row, and an iterator of
    ``[line, *cells]`` (cells text or None) for every non-blank row after it: the same shape
    as ``csvimport.read_rows``. ``workbook_file`` must be seekable (see ``spool``)."""
    _check_archive(workbook_file)
    try:
        book = load_workbook(workbook_file)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises whatever its parts raise
        raise _not_a_workbook(exc) from None
    try:
        return _first_sheet(book)
    except BaseException:
        book.close()
        raise


class _WorkbookParts(ExcelReader):  # type: ignore[misc]
    """openpyxl's reading of a workbook (read-only: sheets are not parsed), but for its shared
    strings table, which ``_shared_strings`` reads in a third of the time (openpyxl builds a
    rich-text object per string: a third of the time of a 100,000-row import as Excel saves
    it)."""

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        self.shared_strings = _shared_strings(self.archive, part.PartName[1:]) if part else []


def load_workbook(workbook_file: IO[bytes]) -> Any:
    """The workbook, read-only (its sheets are read when asked), cells' cached values."""
    reader = _WorkbookParts(workbook_file, read_only=True, data_only=True)
    reader.read()
    return reader.wb


def _shared_strings(archive: zipfile.ZipFile, path: str) -> list[str]:
    """The shared strings table's text, as openpyxl's ``read_string_table`` gives it."""
    strings: list[str] = []
    with archive.open(path) as source:
        table: Any = None
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if table is None:
                    table = element
            elif element.tag == _SHARED:
                strings.append(_inline_text(element).replace("x005F_", ""))
                element.clear()
                table.remove(element)
    return strings


def _first_sheet(book: Any) -> tuple[SheetColumns, Iterator[list[Any]]]:
    sheets = book.worksheets
    if not sheets:
        raise XlsxProblem("the workbook has no worksheet", rule="no_sheet")
    sheet = sheets[0]
    records = _records(sheet_rows(book, sheet))
    header = next(records, None)
    if header is None or header[0] != 1 or not any(header[1]):
        raise XlsxProblem(
            f"sheet {sheet.title!r}: the first row is empty; the header (姓名, 手机号, "
            "同意日期 ...) goes on row 1 of the first sheet",
            rule="empty",
            line=1,
            sheet=sheet.title,
        )
    cells = header[1]
    while cells and not cells[-1]:  # formatted but empty cells to the right
        cells.pop()
    try:
        base = Columns.from_header(cells)
    except CsvProblem as problem:
        raise XlsxProblem.of(problem, sheet.title) from None
    columns = SheetColumns(
        base.positions,
        base.headers,
        base.ignored,
        sheet=sheet.title,
        ignored_sheets=[other.title for other in sheets[1:]],
    )
    return columns, _data_rows(records, columns, book.close)


def _check_archive(workbook_file: IO[bytes]) -> None:
    try:
        with zipfile.ZipFile(workbook_file) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _not_a_workbook(exc) from None
    finally:
        workbook_file.seek(0)
    unpacked = sum(entry.file_size for entry in entries)
    shared = sum(e.file_size for e in entries if e.filename.lower().endswith("sharedstrings.xml"))
    if unpacked > MAX_UNPACKED_BYTES or shared > MAX_SHARED_STRINGS_BYTES:
        raise XlsxProblem(
            f"the workbook unpacks to {unpacked} bytes (at most {MAX_UNPACKED_BYTES}, its "
            f"shared strings at most {MAX_SHARED_STRINGS_BYTES}): split the roster",
            rule="too_large",
            unpacked_bytes=unpacked,
        )
    if not any(entry.filename == "xl/workbook.xml" for entry in entries):
        raise XlsxProblem(
            "the file is a zip but not an Excel workbook (.xlsx): save it as "
            "'Excel 工作簿 (*.xlsx)'",
            rule="xlsx",
        )


def _not_a_workbook(exc: BaseException) -> XlsxProblem:
    return XlsxProblem(
        "the file is not a readable Excel workbook (.xlsx): save it from Excel or WPS as "
        f"'Excel 工作簿 (*.xlsx)', or as 'CSV UTF-8' ({type(exc).__name__}: {exc})",
        rule="xlsx",
    )


def _records(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells as text)`` for every row the sheet has; a workbook that breaks part-way
    (a damaged zip, XML cut short) is a problem naming the line."""
    line = 0
    while True:
        try:
            line, cells = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - zipfile, XML or value errors alike
            raise XlsxProblem(
                f"the workbook breaks after row {line}: {type(exc).__name__}: {exc}",
                rule="xlsx",
                line=line + 1,
            ) from None
        yield line, cells


_NS = f"{{{SHEET_MAIN_NS}}}"
_SHEET_DATA, _ROW, _VALUE = f"{_NS}sheetData", f"{_NS}row", f"{_NS}v"
_INLINE, _TEXT, _RUN, _SHARED = f"{_NS}is", f"{_NS}t", f"{_NS}r", f"{_NS}si"
_ROW_DIGITS = "0123456789"


def sheet_rows(book: Any, sheet: Any) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cells as text)`` for each row element of ``sheet`` (a read-only
    openpyxl worksheet of ``book``), parsed as its XML is decompressed: a cell's text is
    ``cell_text`` of the value openpyxl's ``iter_rows(values_only=True)`` would give (shared
    and inline strings, numbers, dates by the cell's number format and the workbook's date
    system, booleans, errors, a formula's cached value), missing cells are empty text. Each
    row is dropped from the tree once read, so memory does not grow with the sheet."""
    strings = sheet._shared_strings  # the table openpyxl read (the book keeps an empty one)
    # openpyxl's reading of the styles: which cell formats show a number as a date (duration)
    dates: set[int] = book._date_formats
    durations: set[int] = book._timedelta_formats
    epoch = book.epoch
    columns: dict[str, int] = {}
    number = 0
    with book._archive.open(sheet._worksheet_path) as source:
        rows_parent: Any = None
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if element.tag == _SHEET_DATA:
                    rows_parent = element
                continue
            if element.tag != _ROW:
                continue
            ref = element.get("r")
            number = _row_number(ref) if ref else number + 1
            cells: list[str] = []
            for cell in element:
                ref = cell.get("r")
                if ref:
                    letters = ref.rstrip(_ROW_DIGITS)
                    column = columns.get(letters) or columns.setdefault(
                        letters, _column_index(letters)
                    )
                    if column > len(cells) + 1:
                        cells.extend([""] * (column - 1 - len(cells)))
                kind = cell.get("t")
                if kind == "inlineStr":
                    cells.append(cell_text(_inline_text(cell.find(_INLINE))))
                    continue
                value = cell.findtext(_VALUE)
                if not value:
                    cells.append("")
                elif kind is None or kind == "n":
                    style = cell.get("s")
                    style_id = int(style) if style else 0
                    cells.append(_number_text(value, style_id, dates, durations, epoch))
                elif kind == "s":
                    cells.append(cell_text(strings[int(value)]))
                elif kind == "b":
                    cells.append(cell_text(bool(int(value))))
                elif kind == "d":
                    cells.append(cell_text(from_ISO8601(value)))
                else:  # "str" (a formula's text), "e" (an error such as #N/A)
                    cells.append(cell_text(value))
            element.clear()
            if rows_parent is not None:
                rows_parent.remove(element)  # the only child left: the rows before went
            yield number, cells


def _row_number(ref: str) -> int:
    try:
        return int(ref)
    except ValueError:
        value = float(ref)  # some writers put 2.0
        if not value.is_integer():
            raise ValueError(f"{ref!r} is not a row number") from None
        return int(value)


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        if not "A" <= letter <= "Z":
            raise ValueError(f"{letters!r} is not a column")
        index = index * 26 + ord(letter) - 64
    if not 1 <= index <= 16384:  # XFD, Excel's last column
        raise ValueError(f"{letters!r} is not a column")
    return index


def _inline_text(inline: Any) -> str:
    """An inline or shared string's text: its plain text or its runs', without phonetic
    guides."""
    if inline is None:
        return ""
    parts = []
    for child in inline:
        if child.tag == _TEXT:
            parts.append(child.text or "")
        elif child.tag == _RUN:
            parts.append(child.findtext(_TEXT) or "")
    return "".join(parts)


def _number_text(
    value: str, style_id: int, dates: set[int], durations: set[int], epoch: Any
) -> str:
    number: int | float = (
        float(value) if "." in value or "E" in value or "e" in value else int(value)
    )
    if style_id in dates:
        try:
            return cell_text(from_excel(number, epoch, timedelta=style_id in durations))
        except (OverflowError, ValueError):
            return "#VALUE!"  # what openpyxl makes of a date out of range
    return cell_text(number)


def _data_rows(
    records: Iterator[tuple[int, list[str]]], columns: Columns, close: Callable[[], None]
) -> Iterator[list[Any]]:
    try:
        for line, cells in records:
            if not any(cells):
                continue
            yield [line, *columns.cells(cells)]
    finally:
        close()  # the workbook's zip


def cell_text(value: Any) -> str:
    """A cell's value as the text the service checks (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        return text[1:].lstrip() if text.startswith("'") else text
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # what Excel shows of a number it cannot hold exactly: 1.10105194912E+17
        return format(value, ".15G")
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value).strip()
