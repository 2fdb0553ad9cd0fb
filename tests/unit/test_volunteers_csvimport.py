"""Reading a federation's volunteer spreadsheet saved as CSV: UTF-8 with or without a BOM,
Chinese headers, the file's own line numbers, columns it does not use, whole-file problems,
and batches that stream (nothing reads the whole file)."""

import io

import pytest

from volunteers import csvimport
from volunteers.csvimport import CsvProblem, batches, read_rows

HEADER = "序号,姓名,手机号码（必填）,身份证号,特长,同意日期,所属服务队,备注"


def csv_bytes(*lines, bom=False, newline="\r\n"):
    text = newline.join(lines) + newline
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def read(data):
    columns, rows = read_rows(io.BytesIO(data))
    return columns, list(rows)


@pytest.mark.parametrize("bom", [False, True])
def test_chinese_headers_are_found_with_or_without_a_bom(bom):
    columns, rows = read(
        csv_bytes(
            HEADER,
            "1,王小红,138 1234 1234,11010519491231002X,法律咨询、心理疏导,2027-02-28,低碳队,",
            bom=bom,
        )
    )
    assert columns.positions == {
        "name": 1,
        "phone": 2,
        "id_number": 3,
        "skills": 4,
        "consented_on": 5,
        "team": 6,
    }
    assert columns.headers["name"] == "姓名"  # the BOM is not part of any header
    assert columns.headers["phone"] == "手机号码（必填）"
    assert columns.ignored == ["序号", "备注"]
    assert rows == [
        [
            2,
            "王小红",
            "138 1234 1234",
            "11010519491231002X",
            "法律咨询、心理疏导",
            "2027-02-28",
            "低碳队",
        ]
    ]


def test_a_bom_before_the_first_header_does_not_hide_it():
    columns, _ = read(csv_bytes("姓名,手机,同意日期", bom=True))
    assert columns.positions == {"name": 0, "phone": 1, "consented_on": 2}
    assert columns.ignored == []


def test_the_apis_field_names_work_as_headers_in_any_case_and_order():
    columns, rows = read(csv_bytes("Consented_On,Phone,Name", "2027-01-01,13812341234,Li Na"))
    assert rows == [[2, "Li Na", "13812341234", None, None, "2027-01-01", None]]
    assert columns.positions == {"consented_on": 0, "phone": 1, "name": 2}


def test_line_numbers_are_the_files_blank_lines_and_quoted_newlines_included():
    _, rows = read(
        csv_bytes(
            "姓名,手机号,同意日期,技能",
            "甲,13800000001,2027-01-01,",
            "",
            ",,,",
            '乙,13800000002,2027-01-01,"法律',
            '咨询"',
            "丙,13800000003,2027-01-01,",
        )
    )
    assert [(row[0], row[1]) for row in rows] == [(2, "甲"), (5, "乙"), (7, "丙")]
    assert rows[1][4] == "法律\r\n咨询"


def test_short_rows_and_empty_cells_read_as_missing():
    _, rows = read(csv_bytes("姓名,手机号,同意日期,身份证号", "甲,  13800000001 ", "乙,,,"))
    assert rows == [
        [2, "甲", "13800000001", None, None, None, None],
        [3, "乙", None, None, None, None, None],
    ]


@pytest.mark.parametrize(
    ("newline", "delimiter"), [("\n", ","), ("\r\n", "\t"), ("\n", ";"), ("\r", ",")]
)
def test_line_endings_and_separators_of_various_spreadsheets(newline, delimiter):
    lines = [delimiter.join(cells) for cells in (("姓名", "手机号", "同意日期"), ("甲", "1", "2"))]
    _, rows = read(csv_bytes(*lines, newline=newline))
    assert rows == [[2, "甲", "1", None, None, "2", None]]


def test_a_header_without_the_required_columns_is_refused_naming_them():
    with pytest.raises(CsvProblem) as excinfo:
        read(csv_bytes("姓名,性别,身份证号", "甲,女,"))
    problem = excinfo.value
    assert problem.rule == "missing_columns" and problem.details["line"] == 1
    assert problem.details["missing"] == ["phone", "consented_on"]
    assert problem.details["expected"]["phone"][0] == "手机号"


def test_two_columns_for_one_field_are_refused():
    with pytest.raises(CsvProblem) as excinfo:
        read(csv_bytes("姓名,手机号,联系电话,同意日期"))
    assert excinfo.value.rule == "duplicate_column"
    assert excinfo.value.details["field"] == "phone"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n", b"   \n"])
def test_an_empty_file_is_refused(data):
    with pytest.raises(CsvProblem) as excinfo:
        read(data)
    assert excinfo.value.rule == "empty"


def test_a_gbk_file_is_refused_at_the_line_that_is_not_utf8():
    good = [f"甲{n},138000{n:05d},2027-01-01" for n in range(500)]  # > one 8 KiB chunk
    data = csv_bytes("姓名,手机号,同意日期", *good) + "乙,13900000000,2027-01-01\r\n".encode("gbk")
    _, rows = read_rows(io.BytesIO(data))
    with pytest.raises(CsvProblem) as excinfo:
        list(rows)
    assert excinfo.value.rule == "utf8" and excinfo.value.details["line"] == 502
    assert "UTF-8" in excinfo.value.message


def test_a_gbk_header_is_refused_at_line_one():
    with pytest.raises(CsvProblem) as excinfo:
        read("姓名,手机号,同意日期\r\n".encode("gbk"))
    assert (excinfo.value.rule, excinfo.value.details["line"]) == ("utf8", 1)


def test_a_line_too_long_is_refused_not_read_into_memory():
    with pytest.raises(CsvProblem) as excinfo:
        read(csv_bytes("姓名,手机号,同意日期", "甲" * csvimport.MAX_LINE_BYTES))
    assert (excinfo.value.rule, excinfo.value.details["line"]) == ("line_length", 2)


class CountingStream(io.RawIOBase):
    """A request body as the gateway hands it over: raw, and it counts what was read."""

    def __init__(self, data):
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)


def test_rows_stream_in_batches_without_reading_the_whole_file():
    rows_total = 20_000
    lines = [f"志愿者{n},1380{n:07d},2027-01-01" for n in range(rows_total)]
    stream = CountingStream(csv_bytes("姓名,手机号,同意日期", *lines))
    size = len(stream._data.getvalue())
    _, rows = read_rows(stream)
    chunks = batches(rows, size=1000)
    first = next(chunks)
    assert [row[0] for row in first] == list(range(2, 1002))
    # one batch read, and not much more of the file than it
    assert stream.bytes_read < size / 4
    rest = list(chunks)
    assert [len(batch) for batch in rest] == [1000] * 19
    assert rest[-1][-1][:2] == [rows_total + 1, f"志愿者{rows_total - 1}"]
    assert stream.bytes_read == size


def test_the_last_batch_holds_what_is_left():
    assert [len(b) for b in batches(iter(range(7)), size=3)] == [3, 3, 1]
    assert list(batches(iter([]), size=3)) == []
