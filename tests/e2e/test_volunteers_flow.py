"""Volunteers over HTTP, on SQLite and on PostgreSQL: a team under a host unit, the roster with
masked personal data, a CSV import and an .xlsx import with bad and duplicate rows, an
activity of a project with a waitlist, service hours verified by someone other than who
logged them — and those hours in the project's delivery figures and the hours reports."""

import csv
import io
import zipfile
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook

from tests.support.infra import scratch_postgres_database
from tests.support.platform import SERVICES, Platform, new_vhost, vhost_uri
from tests.support.waiting import eventually

ID_A = "110105198003120024"  # valid (GB 11643 check character 4)
ID_BAD_CHECK = "110105198003120025"
ID_IMPORTED = "350203199211070043"
ID_IMPORTED_BAD = "440304197506300059"  # the right check character is 8
#: the day the activity began, in the past: hours are logged for time already served
DAY = "2026-10-10"
#: ...and it is still on (volunteers enrol before an activity ends): it ends two days from now
STILL_ON_UNTIL = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json()


def at(clock):
    return f"{DAY}T{clock}:00+08:00"


def from_now(**delta):
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def platform(request, rabbit_manager, tmp_path_factory, infra):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp(f"volunteers-{request.param}")
    with ExitStack() as stack:
        urls = {}
        if request.param == "postgresql":
            admin_url = infra.require_postgres()
            for name in (*SERVICES, "gateway"):
                urls[name] = stack.enter_context(
                    scratch_postgres_database(admin_url, f"jinguo_e2e_{name}")
                )
        platform = Platform(
            amqp_uri=vhost_uri(infra.amqp_uri, vhost),
            workdir=workdir,
            database_urls=urls,
            # small batches: an import of a few rows already spans several of them
            extra_env={"GATEWAY_IMPORT_BATCH_ROWS": "3"},
        )
        try:
            platform.start()
            yield platform
        finally:
            platform.stop()
            rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def cast(platform):
    admin = platform.admin()
    city = admin.create(
        "/organizations", {"name": "厦门市妇联", "kind": "federation", "level": "city"}
    )
    district = admin.create(
        "/organizations",
        {"name": "思明区妇联", "kind": "federation", "level": "county", "parent_id": city["id"]},
    )
    host = admin.create(
        "/organizations",
        {
            "name": "鹭岛科技有限公司",
            "kind": "host_unit",
            "sector": "non_public_enterprise",
            "parent_id": district["id"],
        },
    )
    users = {
        "staff": ("federation_staff", city["id"]),
        "leader": ("team_leader", None),
        "officer": ("finance_officer", city["id"]),  # finance officers belong to a federation
        "ops": ("ops", None),
    }
    clients, ids = {}, {}
    for name, (role, organization_id) in users.items():
        user = admin.create(
            "/users",
            {
                "username": f"xm.{name}",
                "password": f"{name}-password",
                "role": role,
                "organization_id": organization_id,
            },
        )
        ids[name] = user["id"]
        clients[name] = platform.client(platform.token(f"xm.{name}", f"{name}-password"))
    return {"admin": admin, "city": city, "host": host, "ids": ids, **clients}


@pytest.fixture(scope="module")
def team(cast):
    staff = cast["staff"]
    # the volunteers service learns the host from the registry's events, a moment later
    return eventually(
        lambda: expect(
            staff.post(
                "/teams",
                {
                    "name": "巾帼法律援助志愿服务队",
                    "theme": "legal_aid",
                    "host_id": cast["host"]["id"],
                    "leader_user_id": cast["ids"]["leader"],
                },
            ),
            201,
        )
    )


def test_teams_and_the_roster(cast, team):
    staff, leader, admin = cast["staff"], cast["leader"], cast["admin"]
    assert (team["theme"], team["host_id"], team["members"]) == (
        "legal_aid",
        cast["host"]["id"],
        0,
    )
    expect(leader.post("/teams", {**team, "name": "x"}), 403, "ROLE_NOT_ALLOWED")
    # a team is handed only to an enabled team_leader account: not to staff, not to nobody
    for wrong in (cast["ids"]["staff"], cast["ids"]["ops"], "00000000-0000-0000-0000-00000000abcd"):
        refused = expect(
            staff.post(
                "/teams",
                {
                    "name": "无队长",
                    "theme": "legal_aid",
                    "host_id": cast["host"]["id"],
                    "leader_user_id": wrong,
                },
            ),
            422,
            "VALIDATION_FAILED",
        )
        assert refused["error"]["details"]["field"] == "leader_user_id", refused
        assert refused["error"]["details"]["rule"] == "team_leader", refused
        expect(staff.patch(f"/teams/{team['id']}", {"leader_user_id": wrong}), 422)
    expect(
        staff.post(
            "/teams",
            {"name": "同名", "theme": "legal_aid", "host_id": cast["city"]["id"], "x": 1},
        ),
        422,
    )
    edited = expect(staff.patch(f"/teams/{team['id']}", {"description": "每周六普法"}), 200)
    assert edited["description"] == "每周六普法"
    mine = expect(leader.get("/teams", params={"mine": "true"}), 200)["items"]
    assert [t["id"] for t in mine] == [team["id"]]
    # teams and their activities are read by those who run them (issue 11), not by finance
    # or ops, who keep the hours reports' totals
    for outsider in (cast["officer"], cast["ops"]):
        expect(outsider.get("/teams"), 403, "ROLE_NOT_ALLOWED")
        expect(outsider.get(f"/teams/{team['id']}"), 403, "ROLE_NOT_ALLOWED")
        expect(outsider.get("/activities"), 403, "ROLE_NOT_ALLOWED")

    volunteer = expect(
        leader.post(
            "/volunteers",
            {
                "name": "林秀英",
                "phone": "+86 138-0013-8000",
                "id_number": ID_A,
                "skills": ["法律咨询", "调解"],
                "consented_on": "2026-03-01",
                "team_id": team["id"],
            },
        ),
        201,
    )
    assert volunteer["phone"] == "138****8000"
    assert volunteer["id_number"] == "1101**********0024"
    assert volunteer["team_ids"] == [team["id"]] and volunteer["unmasked"] == []

    # bad input: the field and the rule, nothing written
    bad = {"name": "错号", "phone": "13900139000", "consented_on": "2026-03-01"}
    error = expect(leader.post("/volunteers", {**bad, "id_number": ID_BAD_CHECK}), 422)["error"]
    assert (error["details"]["field"], error["details"]["rule"]) == (
        "id_number",
        "id_check_character",
    )
    assert ID_BAD_CHECK not in str(error)  # personal data never travels in an error
    error = expect(leader.post("/volunteers", {**bad, "phone": "1390013900"}), 422)["error"]
    assert (error["details"]["field"], error["details"]["rule"]) == ("phone", "phone_format")
    error = expect(
        leader.post("/volunteers", {**bad, "phone": "138 0013 8000"}), 409, "DUPLICATE_VOLUNTEER"
    )["error"]
    assert error["details"]["field"] == "phone"
    names = [v["name"] for v in expect(leader.get("/volunteers"), 200)["items"]]
    assert names == ["林秀英"]
    expect(cast["officer"].get("/volunteers"), 403, "ROLE_NOT_ALLOWED")

    # masked for everyone; in clear for an admin who asks, and that read is audited
    shown = expect(staff.get(f"/volunteers/{volunteer['id']}"), 200)
    assert shown["phone"] == "138****8000"
    expect(
        staff.get(f"/volunteers/{volunteer['id']}", params={"unmasked": "true"}),
        403,
        "UNMASKING_NOT_ALLOWED",
    )
    clear = expect(
        admin.get(
            f"/volunteers/{volunteer['id']}", params={"unmasked": "true", "reason": "核实身份"}
        ),
        200,
    )
    assert (clear["phone"], clear["id_number"]) == ("13800138000", ID_A)
    reads = expect(
        admin.get("/personal-data-reads", params={"volunteer_id": volunteer["id"]}), 200
    )["items"]
    assert [(r["actor_name"], r["reason"], sorted(r["fields"])) for r in reads] == [
        ("admin", "核实身份", ["id_number", "phone"])
    ]
    expect(staff.get("/personal-data-reads"), 403, "ROLE_NOT_ALLOWED")
    roster = expect(leader.get(f"/teams/{team['id']}/members"), 200)["items"]
    assert [(v["name"], v["phone"]) for v in roster] == [("林秀英", "138****8000")]


def test_a_csv_import_reports_every_bad_row_by_line(cast, team):
    leader = cast["leader"]
    lines = [
        "序号,姓名,手机号（必填）,身份证号,技能,同意日期,服务队,备注",  # 1
        f"1,王芳,13800138001,{ID_IMPORTED},法律咨询、心理疏导,2026-03-01,{team['name']},",  # 2
        "2,李娜,1380013800,,,2026-03-01,,",  # 3 bad phone
        f"3,张敏,13800138003,{ID_IMPORTED_BAD},,2026/3/1,,",  # 4 bad check character
        "4,赵丽,13800138001,,,2026-03-01,,",  # 5 the phone of line 2 (another batch)
        "5,陈静,13800138005,,,2026年3月1日,不存在的服务队,",  # 6 no such team
        "6,刘洋,138-0013-8000,,,2026-03-01,,",  # 7 registered already (林秀英)
        "7,孙悦,13800138007,,,,,",  # 8 no consent date
        "",  # 9 blank: skipped, still counted
        f'8,"周婷",13800138008,,"普法宣传,调解",2026-03-02,{team["id"]},"跨, 行"',  # 10
        "9,吴霞,13800138009,,,2026-03-03,,",  # 11
    ]
    body = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    response = leader.post("/volunteers/import", data=body, headers={"Content-Type": "text/csv"})
    report = expect(response, 200)
    assert (report["received"], report["imported"], report["invalid"], report["duplicate"]) == (
        9,
        3,
        4,
        2,
    )
    assert report["columns"]["phone"] == "手机号（必填）" and report["ignored_columns"] == [
        "序号",
        "备注",
    ]
    summary = [(e["line"], e["kind"], e["field"], e["rule"]) for e in report["errors"]]
    assert summary == [
        (3, "invalid", "phone", "phone_format"),
        (4, "invalid", "id_number", "id_check_character"),
        (5, "duplicate", "phone", "unique"),
        (6, "invalid", "team", "exists"),
        (7, "duplicate", "phone", "unique"),
        (8, "invalid", "consented_on", "required"),
    ]
    by_line = {e["line"]: e for e in report["errors"]}
    assert by_line[5]["duplicate_of_line"] == 2
    assert by_line[7]["duplicate_of_volunteer_id"]
    assert by_line[3]["column"] == "手机号（必填）" and by_line[3]["message"]
    assert not report["errors_truncated"] and report["errors_total"] == 6
    assert "13800138001" not in response.text and ID_IMPORTED_BAD not in response.text

    # how far it came, as the console polls it while the file goes in: its importer's only
    progress = expect(leader.get(f"/volunteer-imports/{report['import_id']}"), 200)
    assert (progress["imported"], progress["through_line"]) == (3, 11)
    assert (
        expect(cast["staff"].get(f"/volunteer-imports/{report['import_id']}"), 200)["imported"] == 0
    )
    expect(cast["officer"].get(f"/volunteer-imports/{report['import_id']}"), 403)

    members = expect(leader.get(f"/teams/{team['id']}/members"), 200)["items"]
    assert {v["name"] for v in members} == {"林秀英", "王芳", "周婷"}
    zhou = next(v for v in members if v["name"] == "周婷")
    assert zhou["skills"] == ["普法宣传", "调解"] and zhou["phone"] == "138****8008"

    # the same file again under the same import: what went in comes back as duplicates
    again = expect(
        leader.post(
            "/volunteers/import",
            data=body,
            headers={"Content-Type": "text/csv"},
            params={"import_id": report["import_id"]},
        ),
        200,
    )
    assert (again["imported"], again["duplicate"], again["invalid"]) == (0, 5, 4)
    assert {e["duplicate_of_line"] for e in again["errors"] if e["line"] in (2, 10, 11)} == {
        2,
        10,
        11,
    }

    # a file that cannot be read at all: one error for the file, nothing written
    error = expect(
        leader.post(
            "/volunteers/import",
            data="姓名,技能\n某人,唱歌\n".encode(),
            headers={"Content-Type": "text/csv"},
        ),
        422,
        "CSV_INVALID",
    )["error"]
    assert error["details"]["rule"] == "missing_columns"
    assert set(error["details"]["missing"]) == {"phone", "consented_on"}
    error = expect(
        leader.post(
            "/volunteers/import",
            data="姓名,手机号,同意日期\n郑红,13800138010,2026-03-01\n".encode("gbk"),
            headers={"Content-Type": "text/csv"},
        ),
        422,
        "CSV_INVALID",
    )["error"]
    assert error["details"]["rule"] == "utf8"
    expect(leader.post("/volunteers/import", {"rows": []}), 415, "UNSUPPORTED_MEDIA_TYPE")
    expect(
        cast["officer"].post("/volunteers/import", data=b"x", headers={"Content-Type": "text/csv"}),
        403,
        "ROLE_NOT_ALLOWED",
    )
    names = {
        v["name"] for v in expect(leader.get("/volunteers", params={"limit": 100}), 200)["items"]
    }
    assert "郑红" not in names and "赵丽" not in names


def test_an_import_that_breaks_part_way_says_what_went_in_and_resumes(cast, team):
    staff = cast["staff"]
    header = "姓名,手机号,同意日期,服务队,备注"
    rows = [f"志愿者{n},1360013600{n},2026-05-01,{team['id']}," for n in range(6)]  # lines 2-7
    broken = "断行,13600136099,2026-05-01,," + "长" * 70_000  # line 8: a cell past the limit
    tail = "补录,13600136100,2026-05-01,,"  # line 9
    first = "\n".join([header, *rows, broken, tail]).encode()
    error = expect(
        staff.post("/volunteers/import", data=first, headers={"Content-Type": "text/csv"}),
        422,
        "CSV_INVALID",
    )["error"]
    details = error["details"]
    # batches of three: lines 2-4 and 5-7 were written whole before line 8 was read
    assert (details["rule"], details["line"], details["imported_through_line"]) == ("csv", 8, 7)
    assert details["report"]["imported"] == 6 and details["uncertain_lines"] is None

    # fixed, sent again (chunked, as a stream) under the same import: nothing goes in twice
    fixed = "\n".join([header, *rows, "断行,13600136099,2026-05-01,,", tail]).encode()
    chunks = (fixed[i : i + 50] for i in range(0, len(fixed), 50))
    resumed = expect(
        staff.post(
            "/volunteers/import",
            data=chunks,
            headers={"Content-Type": "text/csv"},
            params={"import_id": details["import_id"]},
        ),
        200,
    )
    assert (resumed["received"], resumed["imported"], resumed["duplicate"]) == (8, 2, 6)
    assert [e["duplicate_of_line"] for e in resumed["errors"]] == [2, 3, 4, 5, 6, 7]
    expect(
        staff.post(
            "/volunteers/import",
            data=fixed,
            headers={"Content-Type": "text/csv"},
            params={"import_id": "not-a-uuid"},
        ),
        422,
        "VALIDATION_FAILED",
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ID_XLSX = "350203199211070051"  # valid (check character 1)


def _workbook(rows, *, extra_sheets=()):
    book = Workbook()
    sheet = book.active
    sheet.title = "志愿者名册"
    for row in rows:
        sheet.append(row)
    for title in extra_sheets:
        book.create_sheet(title).append(["填表说明：手机号必填"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_import_reports_every_bad_row_by_its_row_number(cast, team):
    """The same route takes an Excel workbook: the first sheet's row numbers are the lines,
    numbers and dates as Excel stores them come through right, the same rules and report."""
    leader = cast["leader"]
    rows = [
        ["序号", "姓名", "手机号（必填）", "身份证号", "技能", "同意日期", "服务队"],  # 1
        [1, "黄蓉", 13500135001, ID_XLSX, "急救", date(2026, 3, 1), team["name"]],  # 2 numbers
        [2, "郭芙", "1350013500", None, None, "2026-03-01", None],  # 3 bad phone
        [3, "杨过", "'13500135003", None, None, datetime(2026, 3, 2, 9, 30), None],  # 4
        [None, None, None, None, None, None, None],  # 5 blank: skipped
        [5, "小龙女", 13500135001.0, None, None, date(2026, 3, 1), None],  # 6 phone of line 2
        [6, "穆念慈", "13500135006", 3.50203199211070e17, None, "2026-03-01", None],  # 7
        [7, "程英", "13500135007", None, None, None, None],  # 8 no consent date
        [8, "陆无双", "13500135008", None, "摄影、书法", "2026/3/3", team["id"]],  # 9
    ]
    body = _workbook(rows, extra_sheets=["说明"])
    response = leader.post("/volunteers/import", data=body, headers={"Content-Type": XLSX})
    report = expect(response, 200)
    assert (report["received"], report["imported"], report["invalid"], report["duplicate"]) == (
        7,
        3,
        3,
        1,
    )
    assert report["sheet"] == "志愿者名册" and report["ignored_sheets"] == ["说明"]
    assert report["columns"]["phone"] == "手机号（必填）" and report["ignored_columns"] == ["序号"]
    summary = [(e["line"], e["kind"], e["field"], e["rule"]) for e in report["errors"]]
    assert summary == [
        (3, "invalid", "phone", "phone_format"),
        (6, "duplicate", "phone", "unique"),
        (7, "invalid", "id_number", "id_format"),
        (8, "invalid", "consented_on", "required"),
    ]
    by_line = {e["line"]: e for e in report["errors"]}
    assert by_line[6]["duplicate_of_line"] == 2
    assert "文本" in by_line[7]["message"]  # typed as a number: Excel lost its last digits
    members = {
        v["name"]: v for v in expect(leader.get(f"/teams/{team['id']}/members"), 200)["items"]
    }
    assert members["黄蓉"]["phone"] == "135****5001"  # the number 13500135001, not 1.35e10
    assert members["陆无双"]["skills"] == ["摄影", "书法"]
    huang = expect(leader.get(f"/volunteers/{members['黄蓉']['id']}"), 200)
    assert huang["consented_on"] == "2026-03-01" and huang["id_number"] == "3502**********0051"
    yang = next(
        v
        for v in expect(cast["admin"].get("/volunteers", params={"q": "杨过"}), 200)["items"]
        if v["name"] == "杨过"
    )
    assert yang["phone"] == "135****5003" and yang["consented_on"] == "2026-03-02"

    # the same workbook again under the same import: what went in comes back as duplicates
    again = expect(
        leader.post(
            "/volunteers/import",
            data=body,
            headers={"Content-Type": XLSX},
            params={"import_id": report["import_id"]},
        ),
        200,
    )
    assert (again["imported"], again["duplicate"], again["invalid"]) == (0, 4, 3)
    assert {e["line"]: e.get("duplicate_of_line") for e in again["errors"] if e["line"] != 6} == {
        2: 2,
        3: None,
        4: 4,
        7: None,
        8: None,
        9: 9,
    }

    # not a workbook, or a first sheet without the columns: one error for the file
    error = expect(
        leader.post(
            "/volunteers/import", data=b"PK\x03\x04 no zip", headers={"Content-Type": XLSX}
        ),
        422,
        "XLSX_INVALID",
    )["error"]
    assert error["details"]["rule"] == "xlsx"
    error = expect(
        leader.post(
            "/volunteers/import",
            data=_workbook([["填表说明"]]),
            headers={"Content-Type": XLSX},
        ),
        422,
        "XLSX_INVALID",
    )["error"]
    assert error["details"]["rule"] == "missing_columns"
    assert error["details"]["sheet"] == "志愿者名册" and error["details"]["line"] == 1


def test_an_xlsx_that_breaks_part_way_says_what_went_in(cast, team):
    staff = cast["staff"]
    rows = [["姓名", "手机号", "同意日期"]] + [
        [f"断表{n}", 13600137000 + n, "2026-05-01"] for n in range(400)
    ]
    whole = _workbook(rows)
    source = zipfile.ZipFile(io.BytesIO(whole))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in source.infolist():
            content = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]  # the sheet's XML cut short
            archive.writestr(entry.filename, content)
    error = expect(
        staff.post("/volunteers/import", data=out.getvalue(), headers={"Content-Type": XLSX}),
        422,
        "XLSX_INVALID",
    )["error"]
    details = error["details"]
    assert details["rule"] == "xlsx" and details["line"] > 2
    through = details["imported_through_line"]
    assert 2 <= through < details["line"] and details["report"]["imported"] == through - 1
    # the whole workbook again under the same import: the rest goes in, nothing twice
    resumed = expect(
        staff.post(
            "/volunteers/import",
            data=whole,
            headers={"Content-Type": XLSX},
            params={"import_id": details["import_id"]},
        ),
        200,
    )
    assert (resumed["received"], resumed["imported"], resumed["duplicate"]) == (
        400,
        400 - (through - 1),
        through - 1,
    )


def _volunteer(client, name, phone, team_id, **more):
    return expect(
        client.post(
            "/volunteers",
            {
                "name": name,
                "phone": phone,
                "consented_on": "2026-04-01",
                "team_id": team_id,
                **more,
            },
        ),
        201,
    )


def test_activity_waitlist_hours_and_the_project(cast, team):
    staff, leader, admin = cast["staff"], cast["leader"], cast["admin"]
    source = eventually(  # a project draws on its purchaser's money
        lambda: expect(
            admin.post(
                "/funding-sources",
                {
                    "name": "2027年普法专项资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": cast["city"]["id"],
                    "fiscal_year": 2027,
                    "amount": 3_000_000,
                },
            ),
            201,
        )
    )
    project = eventually(
        lambda: expect(
            staff.post(
                "/projects",
                {
                    "title": "巾帼普法进企业",
                    "category": "family_education",
                    "model": "commissioned",
                    "funding_source_id": source["id"],
                    "budget": 3_000_000,
                    "starts_on": "2026-09-01",
                    "ends_on": "2027-12-31",
                    "target_beneficiaries": 200,
                },
            ),
            201,
        )
    )
    pid = project["id"]
    # published, as a project activities deliver is (a draft is for its purchaser's staff)
    expect(staff.post(f"/projects/{pid}/publish"), 200)
    a = _volunteer(staff, "黄丽", "13700137001", team["id"])
    b = _volunteer(staff, "队长本人", "13700137002", team["id"], user_id=cast["ids"]["leader"])
    c = _volunteer(staff, "许敏", "13700137003", team["id"])
    d = _volunteer(staff, "何静", "13700137004", team["id"])

    activity = expect(
        leader.post(
            "/activities",
            {
                "title": "企业女职工普法讲座",
                "team_id": team["id"],
                "project_id": pid,
                "starts_at": at("09:00"),
                "ends_at": STILL_ON_UNTIL.isoformat(),
                "place": "鹭岛科技三楼会议室",
                "capacity": 3,
            },
        ),
        201,
    )
    aid = activity["id"]
    assert (activity["capacity"], activity["places_left"]) == (3, 3)
    enrolled = [
        expect(leader.post(f"/activities/{aid}/enrolments", {"volunteer_id": v["id"]}), 201)
        for v in (a, b, c, d)
    ]
    assert [e["status"] for e in enrolled] == ["enrolled", "enrolled", "enrolled", "waitlisted"]
    expect(
        leader.post(f"/activities/{aid}/enrolments", {"volunteer_id": a["id"]}),
        409,
        "DUPLICATE_ENROLMENT",
    )
    shown = expect(leader.get(f"/activities/{aid}"), 200)
    assert (shown["enrolled"], shown["waitlisted"], shown["places_left"]) == (3, 1, 0)
    cancelled = expect(leader.post(f"/enrolments/{enrolled[2]['id']}/cancel"), 200)
    assert cancelled["enrolment"]["status"] == "cancelled"
    assert cancelled["promoted"]["volunteer_id"] == d["id"]
    assert cancelled["promoted"]["status"] == "enrolled"
    listed = expect(leader.get(f"/activities/{aid}/enrolments"), 200)["items"]
    assert {e["volunteer_id"]: e["status"] for e in listed} == {
        a["id"]: "enrolled",
        b["id"]: "enrolled",
        c["id"]: "cancelled",
        d["id"]: "enrolled",
    }
    assert [
        x["id"] for x in expect(staff.get("/activities", params={"project_id": pid}), 200)["items"]
    ] == [aid]
    # an activity that is over takes nobody
    over = expect(
        leader.post(
            "/activities",
            {
                "title": "已结束的普法讲座",
                "team_id": team["id"],
                "starts_at": at("09:00"),
                "ends_at": at("12:00"),
                "capacity": 3,
            },
        ),
        201,
    )
    error = expect(
        leader.post(f"/activities/{over['id']}/enrolments", {"volunteer_id": c["id"]}),
        409,
        "ACTIVITY_ENDED",
    )["error"]
    assert datetime.fromisoformat(error["details"]["ends_at"]) == datetime.fromisoformat(
        at("12:00")
    )

    # hours: within the activity, not overlapping, for enrolled volunteers
    mine = expect(
        leader.post(
            "/service-hours",
            {
                "volunteer_id": a["id"],
                "activity_id": aid,
                "started_at": at("09:00"),
                "ended_at": at("12:00"),
            },
        ),
        201,
    )
    assert (mine["minutes"], mine["status"], mine["project_id"]) == (180, "pending", pid)
    error = expect(
        leader.post(
            "/service-hours",
            {"volunteer_id": a["id"], "activity_id": aid, "started_at": at("11:00"), "hours": 2},
        ),
        409,
        "HOURS_OVERLAP",
    )["error"]
    assert error["details"]["overlapping_entry_id"] == mine["id"]
    error = expect(
        leader.post(
            "/service-hours",
            {
                "volunteer_id": a["id"],
                "activity_id": aid,
                "started_at": (STILL_ON_UNTIL - timedelta(hours=1)).isoformat(),
                "hours": 2,
            },
        ),
        422,
    )["error"]
    assert (error["details"]["field"], error["details"]["rule"]) == ("ended_at", "within_activity")
    # only time already served: hours that end after now (beyond a 5-minute clock skew)
    error = expect(
        leader.post(
            "/service-hours",
            {
                "volunteer_id": a["id"],
                "activity_id": aid,
                "started_at": from_now(minutes=-30),
                "hours": 1,
            },
        ),
        422,
        "VALIDATION_FAILED",
    )["error"]
    assert (error["details"]["field"], error["details"]["rule"]) == ("hours", "not_in_future")
    expect(
        leader.post(
            "/service-hours",
            {"volunteer_id": c["id"], "activity_id": aid, "started_at": at("09:00"), "hours": 1},
        ),
        409,
        "NOT_ENROLLED",
    )
    expect(
        leader.post(
            "/service-hours",
            {
                "volunteer_id": a["id"],
                "activity_id": "00000000-0000-4000-8000-000000000000",
                "started_at": at("09:00"),
                "hours": 1,
            },
        ),
        422,
        "ACTIVITY_UNKNOWN",
    )

    # maker-checker: not by whoever logged them, nor by the volunteer herself
    error = expect(leader.post(f"/service-hours/{mine['id']}/verify"), 403, "SELF_VERIFICATION")[
        "error"
    ]
    assert error["details"]["reason"] == "you logged these hours"
    assert expect(staff.post(f"/service-hours/{mine['id']}/verify"), 200)["status"] == "verified"
    expect(staff.post(f"/service-hours/{mine['id']}/verify"), 409, "INVALID_TRANSITION")
    theirs = expect(
        staff.post(
            "/service-hours",
            {"volunteer_id": d["id"], "activity_id": aid, "started_at": at("13:00"), "hours": 2.5},
        ),
        201,
    )
    assert theirs["minutes"] == 150
    assert expect(leader.post(f"/service-hours/{theirs['id']}/verify"), 200)["status"] == (
        "verified"
    )
    own = expect(
        staff.post(
            "/service-hours",
            {"volunteer_id": b["id"], "activity_id": aid, "started_at": at("09:00"), "hours": 1},
        ),
        201,
    )
    error = expect(leader.post(f"/service-hours/{own['id']}/verify"), 403, "SELF_VERIFICATION")
    assert error["error"]["details"]["reason"] == "these are your own hours"
    expect(admin.post(f"/service-hours/{own['id']}/reject", {}), 422)
    rejected = expect(
        admin.post(f"/service-hours/{own['id']}/reject", {"reason": "当天未签到"}), 200
    )
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "当天未签到")
    pending = expect(staff.get("/service-hours", params={"status": "pending"}), 200)["items"]
    assert pending == []

    # verified hours reach the project: 3 h + 2.5 h
    def delivered():
        report = expect(staff.get(f"/projects/{pid}/delivery"), 200)
        assert report["volunteer_hours"] == 5.5, report
        return report

    eventually(delivered)
    assert expect(staff.get(f"/projects/{pid}"), 200)["volunteer_hours"] == 5.5

    statement = expect(leader.get(f"/volunteers/{a['id']}/hours"), 200)
    assert (statement["total_minutes"], statement["total_hours"]) == (180, 3.0)
    assert [e["activity_title"] for e in statement["entries"]] == ["企业女职工普法讲座"]
    assert expect(leader.get(f"/volunteers/{b['id']}/hours"), 200)["entries"] == []

    # reports: by team, project, volunteer, month; CSV too
    by_team = expect(staff.get("/reports/hours", params={"group_by": "team"}), 200)
    assert [(r["key"], r["minutes"]) for r in by_team["items"]] == [(team["id"], 330)]
    assert by_team["total"] == {"entries": 2, "minutes": 330, "hours": 5.5}
    by_project = expect(cast["officer"].get("/reports/hours", params={"group_by": "project"}), 200)
    assert [(r["key"], r["hours"]) for r in by_project["items"]] == [(pid, 5.5)]
    by_month = expect(cast["ops"].get("/reports/hours", params={"group_by": "month"}), 200)
    assert [(r["key"], r["minutes"]) for r in by_month["items"]] == [("2026-10", 330)]
    by_volunteer = expect(leader.get("/reports/hours", params={"group_by": "volunteer"}), 200)
    assert {r["key"]: r["minutes"] for r in by_volunteer["items"]} == {a["id"]: 180, d["id"]: 150}
    expect(cast["officer"].get("/reports/hours", params={"group_by": "volunteer"}), 403)
    expect(staff.get("/reports/hours", params={"group_by": "colour"}), 422)

    exported = staff.get("/reports/hours.csv", params={"group_by": "volunteer"})
    assert exported.status_code == 200, exported.text
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "jinguo-hours-by-volunteer.csv" in exported.headers["Content-Disposition"]
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == ["volunteer", "label", "entries", "minutes", "hours"]
    assert {row[1]: row[3] for row in rows[1:-1]} == {"黄丽": "180", "何静": "150"}
    assert rows[-1][0] == "total" and rows[-1][3] == "330"
    negotiated = staff.get(
        "/reports/hours", params={"group_by": "theme"}, headers={"Accept": "text/csv"}
    )
    assert negotiated.headers["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(negotiated.content.decode("utf-8-sig"))))[1][:1] == [
        "legal_aid"
    ]


def test_hours_exports_arrive_whole_in_order_and_never_carry_a_formula(cast):
    """The CSV is streamed a page at a time (5 rows in these tests): every group of the JSON
    report, in its order, the totals last, and names that would start a spreadsheet formula
    quoted (in the JSON report they are as they were written)."""
    staff, admin = cast["staff"], cast["admin"]
    formula = '=HYPERLINK("http://example.invalid","点我")'
    team = eventually(
        lambda: expect(
            staff.post(
                "/teams", {"name": formula, "theme": "other", "host_id": cast["host"]["id"]}
            ),
            201,
        )
    )
    activity = expect(
        staff.post(
            "/activities",
            {
                "title": "导出测试",
                "team_id": team["id"],
                "starts_at": at("14:00"),
                "ends_at": STILL_ON_UNTIL.isoformat(),
                "capacity": 20,
            },
        ),
        201,
    )
    names = ["-王小红", "+李娜", "@赵敏", "周婷", "吴芳", "郑洁", "王珊"]
    for number, name in enumerate(names):
        volunteer = _volunteer(staff, name, f"1370013{7100 + number}", team["id"])
        expect(
            staff.post(
                f"/activities/{activity['id']}/enrolments", {"volunteer_id": volunteer["id"]}
            ),
            201,
        )
        entry = expect(
            staff.post(
                "/service-hours",
                {
                    "volunteer_id": volunteer["id"],
                    "activity_id": activity["id"],
                    "started_at": at("14:00"),
                    "hours": 1,
                },
            ),
            201,
        )
        expect(admin.post(f"/service-hours/{entry['id']}/verify"), 200)

    def report(group_by):
        items, cursor = [], None
        while True:
            page = expect(
                staff.get(
                    "/reports/hours",
                    params={
                        "group_by": group_by,
                        "limit": 2,
                        **({"cursor": cursor} if cursor else {}),
                    },
                ),
                200,
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items, page["total"]

    for group_by in ("volunteer", "team"):
        items, total = report(group_by)
        exported = staff.get("/reports/hours.csv", params={"group_by": group_by})
        assert exported.status_code == 200, exported.text
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"), newline="")))
        assert rows[0] == [group_by, "label", "entries", "minutes", "hours"]
        assert [row[0] for row in rows[1:-1]] == [item["key"] for item in items]
        assert rows[-1] == [
            "total",
            "",
            str(total["entries"]),
            str(total["minutes"]),
            str(total["hours"]),
        ]
        labels = {row[0]: row[1] for row in rows[1:-1]}
        if group_by == "volunteer":
            assert len(items) > 5  # more than one page of the export
            assert {labels[item["key"]] for item in items if item["label"] in names} == {
                "'-王小红",
                "'+李娜",
                "'@赵敏",
                "周婷",
                "吴芳",
                "郑洁",
                "王珊",
            }
        else:
            assert labels[team["id"]] == "'" + formula
            assert [item["label"] for item in items if item["key"] == team["id"]] == [formula]
            # the Excel workbook: the same rows, Chinese headers, the name a text cell
            workbook = staff.get("/reports/hours.xlsx", params={"group_by": "team"})
            assert workbook.status_code == 200, workbook.text
            assert "jinguo-hours-by-team.xlsx" in workbook.headers["Content-Disposition"]
            sheet = load_workbook(io.BytesIO(workbook.content), read_only=True).active
            cells = list(sheet.iter_rows(values_only=True))
            assert cells[0] == ("服务队编号", "名称", "条数", "分钟", "小时")
            assert [row[0] for row in cells[1:-1]] == [item["key"] for item in items]
            assert cells[-1][0] == "合计" and cells[-1][3] == total["minutes"]
            by_key = {row[0]: row for row in cells[1:-1]}
            assert by_key[team["id"]][1] == formula  # as written, and never a formula:
            raw = zipfile.ZipFile(io.BytesIO(workbook.content)).read("xl/worksheets/sheet1.xml")
            assert b"<f>" not in raw
