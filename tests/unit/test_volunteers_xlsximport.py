"""Reading a federation's volunteer roster as an Excel workbook (.xlsx): the first sheet's rows
with their row numbers as lines, cells as Excel stores them (numbers, dates, apostrophes) made
the text the service checks, blank rows skipped, other sheets named, and files that are not
workbooks refused as a whole. The workbooks are made here with openpyxl."""

import io
import re
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from volunteers import xlsximport
from volunteers.domain import identity
from volunteers.exceptions import RuleBroken
from volunteers.xlsximport import XlsxProblem, cell_text, read_rows, spool

HEADER = ["序号", "姓名", "手机号码（必填）", "身份证号", "特长", "同意日期", "所属服务队", "备注"]
ID_NUMBER = "11010519491231002X"


def workbook_bytes(*rows, sheets=None, first_title="名册"):
    book = Workbook()
    sheet = book.active
    sheet.title = first_title
    for row in rows:
        sheet.append(list(row))
    for title, other_rows in (sheets or {}).items():
        other = book.create_sheet(title)
        for row in other_rows:
            other.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read(data):
    columns, rows = read_rows(spool(io.BytesIO(data)))
    return columns, list(rows)


def test_the_first_sheets_rows_come_with_their_row_numbers_as_lines():
    columns, rows = read(
        workbook_bytes(
            HEADER,
            [
                1,
                "王小红",
                "13812341234",
                ID_NUMBER,
                "法律咨询、心理疏导",
                "2024-03-05",
                "低碳队",
                "",
            ],
            [2, "李梅", "13900001111", None, None, "2024/3/6", None, "骨干"],
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
    assert columns.headers["phone"] == "手机号码（必填）"
    assert columns.ignored == ["序号", "备注"]
    assert columns.sheet == "名册" and columns.ignored_sheets == []
    assert rows == [
        [2, "王小红", "13812341234", ID_NUMBER, "法律咨询、心理疏导", "2024-03-05", "低碳队"],
        [3, "李梅", "13900001111", None, None, "2024/3/6", None],
    ]


def test_numbers_and_dates_as_excel_stores_them():
    """A phone typed as a number is its digits (int or float in the XML); a date or
    date-time cell is the date; an ID number kept as text stays text, leading zeros too."""
    _, rows = read(
        workbook_bytes(
            ["姓名", "手机号", "身份证号", "同意日期"],
            ["甲", 13800138000, ID_NUMBER, date(2024, 3, 5)],
            ["乙", 13800138001.0, "110105194912310021", datetime(2024, 3, 6, 14, 30)],
            ["丙", " 13800138002 ", "'110105194912310021", "'2024-03-07"],
        )
    )
    assert rows == [
        [2, "甲", "13800138000", ID_NUMBER, None, "2024-03-05", None],
        [3, "乙", "13800138001", "110105194912310021", None, "2024-03-06", None],
        [4, "丙", "13800138002", "110105194912310021", None, "2024-03-07", None],
    ]
    for row in rows:  # what the service makes of them
        assert identity.normalise_phone(row[2]).startswith("138")
        assert identity.parse_consent_date(row[5], date(2026, 1, 1)).year == 2024


def test_an_id_number_typed_as_a_number_is_refused_saying_why():
    """Excel keeps 15 digits: the reader passes what Excel shows, the service says what
    happened and how to fix it (format the column as text)."""
    _, rows = read(
        workbook_bytes(
            ["姓名", "手机号", "身份证号", "同意日期"],
            ["甲", 13800138000, 1.10105194912310e17, "2024-03-05"],
        )
    )
    assert rows[0][3] == "1.1010519491231E+17"
    with pytest.raises(RuleBroken) as caught:
        identity.check_id_number(rows[0][3], date(2026, 1, 1))
    assert caught.value.rule == "id_format" and "文本" in caught.value.message


def test_blank_rows_are_skipped_and_lines_stay_the_sheets():
    data = workbook_bytes(
        ["姓名", "手机号", "同意日期"],
        ["甲", "13800138000", "2024-03-05"],
        [None, None, None],
        ["", " ", None],
        ["乙", "13800138001", "2024-03-05"],
    )
    _, rows = read(data)
    assert [row[0] for row in rows] == [2, 5]


def test_rows_after_a_gap_of_missing_rows_keep_their_numbers():
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机号", "同意日期"])
    sheet.cell(row=7, column=1, value="甲")
    sheet.cell(row=7, column=2, value="13800138000")
    sheet.cell(row=7, column=3, value="2024-03-05")
    out = io.BytesIO()
    book.save(out)
    _, rows = read(out.getvalue())
    assert rows == [[7, "甲", "13800138000", None, None, "2024-03-05", None]]


def test_bad_and_duplicate_rows_pass_through_for_the_service_to_judge():
    """The reader does not judge rows: a bad phone and a repeated one reach the service with
    their lines, which is where the report's reasons come from."""
    _, rows = read(
        workbook_bytes(
            ["姓名", "手机号", "同意日期"],
            ["甲", "13800138000", "2024-03-05"],
            ["乙", "12345", "2024-03-05"],
            ["丙", "13800138000", "2024-03-05"],
        )
    )
    assert [(row[0], row[2]) for row in rows] == [
        (2, "13800138000"),
        (3, "12345"),
        (4, "13800138000"),
    ]


def test_only_the_first_sheet_is_read_and_the_others_are_named():
    columns, rows = read(
        workbook_bytes(
            ["姓名", "手机号", "同意日期"],
            ["甲", "13800138000", "2024-03-05"],
            sheets={"说明": [["请按模板填写"]], "名册2": [["姓名", "手机号", "同意日期"]]},
        )
    )
    assert columns.sheet == "名册"
    assert columns.ignored_sheets == ["说明", "名册2"]
    assert len(rows) == 1


def test_a_first_sheet_without_the_columns_is_refused_naming_the_sheet():
    with pytest.raises(XlsxProblem) as caught:
        read(
            workbook_bytes(
                ["请按模板填写"],
                first_title="说明",
                sheets={"名册": [["姓名", "手机号", "同意日期"]]},
            )
        )
    problem = caught.value
    assert problem.rule == "missing_columns"
    assert problem.details["sheet"] == "说明"
    assert problem.details["line"] == 1
    assert "说明" in problem.message


def test_an_empty_first_row_is_refused():
    book = Workbook()
    book.active.cell(row=3, column=1, value="姓名")
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(XlsxProblem) as caught:
        read(out.getvalue())
    assert caught.value.rule == "empty"


def test_formatted_empty_cells_right_of_the_header_do_not_count_as_columns():
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "手机号", "同意日期"])
    sheet.cell(row=1, column=300).number_format = "@"  # a styled, empty cell far right
    sheet.append(["甲", "13800138000", "2024-03-05"])
    out = io.BytesIO()
    book.save(out)
    columns, rows = read(out.getvalue())
    assert set(columns.positions) == {"name", "phone", "consented_on"}
    assert len(rows) == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"not a workbook at all", "姓名,手机号\n".encode(), b"PK\x03\x04 broken zip"],
)
def test_what_is_not_a_workbook_is_refused_as_a_whole(data):
    with pytest.raises(XlsxProblem) as caught:
        read(data)
    assert caught.value.rule == "xlsx"


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(XlsxProblem) as caught:
        read(out.getvalue())
    assert caught.value.rule == "xlsx"


def test_a_workbook_unpacking_to_too_much_is_refused(monkeypatch):
    monkeypatch.setattr(xlsximport, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(XlsxProblem) as caught:
        read(workbook_bytes(["姓名", "手机号", "同意日期"]))
    assert caught.value.rule == "too_large"


def test_rows_are_read_lazily_not_all_at_once():
    """The iterator yields the first row before the sheet's end is parsed: a workbook whose
    sheet breaks after its first rows still gives those rows, then a problem naming where."""
    rows = [["姓名", "手机号", "同意日期"]] + [
        [f"人{i}", f"138{i:08d}", "2024-03-05"] for i in range(2000)
    ]
    data = workbook_bytes(*rows)
    # cut the sheet's XML short: rewrite the zip with a truncated worksheet
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            archive.writestr(entry.filename, content)
    _, iterator = read_rows(spool(io.BytesIO(out.getvalue())))
    got = []
    with pytest.raises(XlsxProblem) as caught:
        for row in iterator:
            got.append(row[0])
    assert got and got[0] == 2 and got == list(range(2, 2 + len(got)))
    assert caught.value.rule == "xlsx"
    assert caught.value.details["line"] == got[-1] + 1


def test_spool_keeps_small_bodies_in_memory_and_large_ones_on_disk():
    small = spool(io.BytesIO(b"x" * 10), memory_bytes=100)
    large = spool(io.BytesIO(b"x" * 1000), memory_bytes=100)
    assert small.read() == b"x" * 10 and large.read() == b"x" * 1000
    assert not small._rolled and large._rolled  # type: ignore[attr-defined]
    small.close()
    large.close()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  王小红 ", "王小红"),
        ("'13800138000", "13800138000"),
        (13800138000, "13800138000"),
        (13800138000.0, "13800138000"),
        (110105194912310021, "110105194912310021"),
        (1.5, "1.5"),
        (True, "TRUE"),
        (date(2024, 3, 5), "2024-03-05"),
        (datetime(2024, 3, 5, 23, 59), "2024-03-05"),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


def excel_style(sheet_xml, shared_strings, date1904=False):
    """A workbook laid out as Excel and WPS save one: text in a shared strings table (rich
    text with phonetic guides among them), cells that may lack their reference, the 1904
    date system if asked. openpyxl writes inline strings, so its parts are rewritten here;
    its style 1 is the date format of the cell written below."""
    base = zipfile.ZipFile(io.BytesIO(workbook_bytes([date(2024, 1, 1)])))
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings = "".join(shared_strings)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in base.infolist():
            content = base.read(entry.filename).decode()
            if entry.filename == "xl/worksheets/sheet1.xml":
                content = f"<worksheet {ns}><sheetData>{sheet_xml}</sheetData></worksheet>"
            elif entry.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(
                    "</Relationships>",
                    '<Relationship Id="rId99" Target="sharedStrings.xml" Type="http://schemas.'
                    'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
                    "</Relationships>",
                )
            elif entry.filename == "[Content_Types].xml":
                content = content.replace(
                    "</Types>",
                    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                    'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            elif entry.filename == "xl/workbook.xml" and date1904:
                content, count = re.subn(r"<workbookPr\s*/>", '<workbookPr date1904="1"/>', content)
                assert count == 1, content
            archive.writestr(entry.filename, content)
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<sst {ns} count="{len(shared_strings)}" uniqueCount="{len(shared_strings)}">'
            f"{strings}</sst>",
        )
    return out.getvalue()


def test_a_sheet_as_excel_saves_it_shared_strings_and_cells_of_every_kind():
    """Shared strings (plain, rich text, a phonetic guide left out), cells without a
    reference (each the next column), inline rich text, booleans, errors, a formula's cached
    text, ISO date cells, a date cell in the 1904 date system, a gap of empty columns."""
    shared = [
        "<si><t>姓名</t></si>",
        "<si><t>手机号</t></si>",
        "<si><t>同意日期</t></si>",
        "<si><t>技能</t></si>",
        "<si><t>备注</t></si>",
        "<si><r><rPr><b/></rPr><t>王</t></r><r><t>小红</t></r>"
        "<rPh sb='0' eb='1'><t>おう</t></rPh></si>",
        "<si><t xml:space='preserve'> 13812341234 </t></si>",
    ]
    sheet = (
        '<row r="1"><c t="s"><v>0</v></c><c t="s"><v>1</v></c><c t="s"><v>2</v></c>'
        '<c t="s"><v>3</v></c><c t="s"><v>4</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>5</v></c><c r="B2" t="s"><v>6</v></c>'
        '<c r="C2" s="1"><v>43860</v></c><c r="D2" t="str"><f>A1</f><v>宣讲</v></c>'
        '<c r="E2" t="b"><v>1</v></c></row>'
        '<row r="4"><c r="A4" t="inlineStr"><is><r><t>李</t></r><r><t>梅</t></r></is></c>'
        '<c r="B4"><v>13900001111</v></c><c r="C4" t="d"><v>2024-03-06T00:00:00</v></c>'
        '<c r="E4" t="e"><v>#N/A</v></c></row>'
        '<row><c r="C5"><v>1.5</v></c></row>'
    )
    columns, rows = read(excel_style(sheet, shared, date1904=True))
    assert columns.positions == {"name": 0, "phone": 1, "consented_on": 2, "skills": 3}
    assert columns.ignored == ["备注"]
    assert rows == [
        [2, "王小红", "13812341234", None, "宣讲", "2024-01-31", None],
        [4, "李梅", "13900001111", None, None, "2024-03-06", None],
        [5, None, None, None, None, "1.5", None],
    ]


def test_the_first_row_must_be_row_one():
    sheet = '<row r="2"><c t="s"><v>0</v></c><c t="s"><v>1</v></c><c t="s"><v>2</v></c></row>'
    data = excel_style(
        sheet, ["<si><t>姓名</t></si>", "<si><t>手机号</t></si>", "<si><t>同意日期</t></si>"]
    )
    with pytest.raises(XlsxProblem) as caught:
        read(data)
    assert caught.value.rule == "empty"


def test_rows_read_are_let_go_so_memory_does_not_grow_with_the_sheet():
    rows = [["姓名", "手机号", "同意日期"]] + [
        [f"人{i}", f"138{i:08d}", "2024-03-05"] for i in range(3000)
    ]
    _, iterator = read_rows(spool(io.BytesIO(workbook_bytes(*rows))))
    seen = []
    for row in iterator:
        seen.append(row[0])
    assert seen == list(range(2, 3002))
    # the parser's tree keeps only the rows of the chunk being parsed, not those read
    book = xlsximport.load_workbook(spool(io.BytesIO(workbook_bytes(*rows))))
    reader = xlsximport.sheet_rows(book, book.worksheets[0])
    for _ in range(2000):
        next(reader)
    frame = reader.gi_frame
    assert frame is not None and len(frame.f_locals["rows_parent"]) < 200
    reader.close()
    book.close()
