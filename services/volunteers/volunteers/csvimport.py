"""Reading a federation's volunteer spreadsheet, saved as CSV, a row at a time.

The gateway streams the uploaded file through ``read_rows`` and sends the rows to the service
in batches (``batches``); nothing here holds more than one batch. Columns are found by their
headers, Chinese as spreadsheets have them or the API's field names:

    姓名 | 手机号 / 手机号码 / 联系电话 | 身份证号 / 身份证号码
    技能 / 特长 | 同意日期 / 签署日期 | 服务队

Remarks in brackets (``手机号（必填）``) and surrounding spaces are ignored; other columns (序号,
性别, 备注 ...) are skipped and listed in the report. Line numbers are the file's: the header
is line 1, as a spreadsheet numbers its rows. Plain Python: no I/O but the stream given.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

#: the API's field for each header a spreadsheet may use (compared case-folded, unbracketed)
HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "志愿者姓名", "name", "full_name"),
    "phone": (
        "手机号",
        "手机号码",
        "联系电话",
        "手机",
        "电话",
        "联系方式",
        "phone",
        "mobile",
        "phone_number",
    ),
    "id_number": ("身份证号", "身份证号码", "身份证", "公民身份号码", "id_number", "id_card"),
    "skills": ("技能", "特长", "技能特长", "专业特长", "skills"),
    "consented_on": (
        "同意日期",
        "签署日期",
        "知情同意日期",
        "同意书签署日期",
        "consented_on",
        "consent_date",
    ),
    "team": ("服务队", "所属服务队", "队伍", "team", "team_id", "team_name"),
}
#: the order the service takes a row's cells in (after the line number)
FIELDS = ("name", "phone", "id_number", "skills", "consented_on", "team")
REQUIRED = ("name", "phone", "consented_on")
DEFAULT_BATCH_ROWS = 2000
MAX_COLUMNS = 200
MAX_FIELD_BYTES = 64 * 1024
READ_BUFFER_BYTES = 64 * 1024
MAX_LINE_BYTES = 1024 * 1024

_LINE_END = re.compile(rb"\r\n|\r|\n")
_BRACKETED = re.compile(r"[（(【\[].*?[）)】\]]")
_BY_HEADER = {
    alias.casefold().replace(" ", "_"): field_name
    for field_name, aliases in HEADERS.items()
    for alias in aliases
}


class CsvProblem(ValueError):
    """The file as a whole cannot be read: which rule it breaks, and where."""

    def __init__(self, message: str, *, rule: str, line: int | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.details = {"rule": rule, **({"line": line} if line else {}), **details}


def header_key(cell: str) -> str:
    text = _BRACKETED.sub("", cell.replace("\ufeff", "")).strip()
    return re.sub(r"[\s\-]+", "_", text).casefold()


@dataclass
class Columns:
    """Where each field is in the file's rows, and the headers that were not used."""

    positions: dict[str, int]
    headers: dict[str, str]
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_header(cls, header: list[str]) -> Columns:
        if len(header) > MAX_COLUMNS:
            raise CsvProblem(f"more than {MAX_COLUMNS} columns", rule="columns", line=1)
        positions: dict[str, int] = {}
        headers: dict[str, str] = {}
        ignored: list[str] = []
        for index, cell in enumerate(header):
            name = _BY_HEADER.get(header_key(cell))
            if name is None:
                if cell.strip():
                    ignored.append(cell.strip())
                continue
            if name in positions:
                raise CsvProblem(
                    f"two columns give {name}: {headers[name]!r} and {cell.strip()!r}",
                    rule="duplicate_column",
                    line=1,
                    field=name,
                )
            positions[name] = index
            headers[name] = cell.replace("\ufeff", "").strip()
        missing = [name for name in REQUIRED if name not in positions]
        if missing:
            expected = {name: list(HEADERS[name][:3]) for name in missing}
            raise CsvProblem(
                "the header lacks required columns: " + ", ".join(missing),
                rule="missing_columns",
                line=1,
                missing=missing,
                expected=expected,
            )
        return cls(positions, headers, ignored)

    def cells(self, record: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for name in FIELDS:
            index = self.positions.get(name)
            value = record[index].strip() if index is not None and index < len(record) else ""
            out.append(value or None)
        return out


def _delimiter(first_line: str) -> str:
    """Comma, unless the header is plainly separated by tabs or semicolons."""
    counts = {mark: first_line.count(mark) for mark in (",", "\t", ";")}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def read_rows(stream: IO[bytes]) -> tuple[Columns, Iterator[list[Any]]]:
    """The columns found in the header, and an iterator of ``[line, *cells]`` for every
    non-blank row after it. Reads the stream a chunk at a time and decodes UTF-8 (with or
    without a BOM) a line at a time: a line that is not UTF-8 is reported with its own number
    (a decoder fed whole chunks would blame the chunk's first line)."""
    lines = _decoded_lines(stream)
    first = next(lines, "")
    if not first.strip():
        raise CsvProblem("the file is empty: no header row", rule="empty")
    csv.field_size_limit(MAX_FIELD_BYTES)
    reader = csv.reader(_chain(first, lines), delimiter=_delimiter(first), strict=False)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise CsvProblem(f"the header is not CSV: {exc}", rule="csv", line=1) from None
    columns = Columns.from_header(header)
    return columns, _records(reader, columns)


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """The stream's lines as text, each with its ending (CRLF, LF or a lone CR, as spreadsheet
    programs variously write). Neither byte occurs inside a UTF-8 sequence, so splitting the
    bytes first is safe, and each line is decoded on its own."""
    for number, raw in enumerate(_raw_lines(stream), start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _not_utf8(number) from None


def _raw_lines(stream: IO[bytes]) -> Iterator[bytes]:
    pending = b""
    number = 0
    while True:
        chunk = stream.read(READ_BUFFER_BYTES)
        pending += chunk
        start = 0
        while (match := _LINE_END.search(pending, start)) is not None:
            if match.group() == b"\r" and match.end() == len(pending) and chunk:
                break  # a CR at the end of a chunk: its LF may come with the next one
            number += 1
            yield pending[start : match.end()]
            start = match.end()
        pending = pending[start:]
        if len(pending) > MAX_LINE_BYTES:
            raise CsvProblem(
                f"line {number + 1} is longer than {MAX_LINE_BYTES} bytes",
                rule="line_length",
                line=number + 1,
            )
        if not chunk:
            if pending:
                yield pending
            return


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def _records(reader: Any, columns: Columns) -> Iterator[list[Any]]:
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvProblem(f"line {line} is not CSV: {exc}", rule="csv", line=line) from None
        if not any(cell.strip() for cell in record):
            continue
        yield [line, *columns.cells(record)]


def _not_utf8(line: int) -> CsvProblem:
    return CsvProblem(
        "the file is not UTF-8 (save it as 'CSV UTF-8' — a GBK file reads as garbage)",
        rule="utf8",
        line=line,
    )


def batches(rows: Iterator[list[Any]], size: int = DEFAULT_BATCH_ROWS) -> Iterator[list[list]]:
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
