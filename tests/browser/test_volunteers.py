"""Volunteer work in the console, in real Chromium: an admin sets up a team with its leader; the
leader imports a mixed CSV and an .xlsx (good, bad and duplicate rows; each refused row shown
by line and reason, and downloadable to fix), registers a volunteer (the ID number's check on
its field), runs an activity of two places with three sign-ups (one waitlisted, moved up on a
cancellation) and logs hours she may not verify herself; federation staff verify them; the
hours report and the project's delivery figures show them; a statement prints. Full-page
screenshots of every volunteer page for each role land in var/screenshots/.

Set-up without a screen in this area (the organizations, logins, a funding source and a
published project) goes through the API.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_console import confirm, no_horizontal_overflow, toast, wait_for

CHINA = ZoneInfo("Asia/Shanghai")
TEAM = "阿尔山巾帼法律援助服务队"
PROJECT = "2027年阿尔山巾帼普法进社区"
#: a valid resident ID number, and the same with a wrong check character
ID_NUMBER = "11010519491231002X"
ID_MISTYPED = "110105194912310021"


@pytest.fixture(scope="module")
def town(platform, admin) -> dict[str, Any]:
    city = admin.create(
        "/organizations", {"name": "阿尔山市妇女联合会", "kind": "federation", "level": "city"}
    )
    host = admin.create(
        "/organizations",
        {
            "name": "阿尔山温泉社区",
            "kind": "host_unit",
            "sector": "community",
            "parent_id": city["id"],
        },
    )
    ids = {}
    for username, role in (
        ("han.ganshi", "federation_staff"),
        ("bao.duizhang", "team_leader"),
        ("su.caiwu", "finance_officer"),
    ):
        user = admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                **({"organization_id": city["id"]} if role != "team_leader" else {}),
            },
        )
        ids[username] = user["id"]
    staff = platform.client(platform.token("han.ganshi", PASSWORD))
    leader = platform.client(platform.token("bao.duizhang", PASSWORD))
    source = admin.create(
        "/funding-sources",
        {
            "name": "2027年阿尔山普法专项资金",
            "kind": "fiscal_special_fund",
            "owner_id": city["id"],
            "fiscal_year": 2027,
            "amount": 3_000_000,
        },
    )

    def drafted() -> dict:
        response = staff.post(
            "/projects",
            {
                "title": PROJECT,
                "category": "legal_aid",
                "model": "self_run",
                "funding_source_id": source["id"],
                "budget": 3_000_000,
                "starts_on": "2026-09-01",
                "ends_on": "2027-12-31",
                "target_beneficiaries": 100,
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    project = wait_for(drafted)
    published = staff.post(f"/projects/{project['id']}/publish")
    assert published.status_code == 200, published.text
    return {
        "city": city,
        "host": host,
        "ids": ids,
        "staff": staff,
        "leader": leader,
        "project": project,
    }


def china(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def pick(page: Page, scope: Locator, label: str, text: str, *, typed: bool = True) -> None:
    """An Element Plus select inside ``scope`` (a dialog or the search bar): open it, type part
    of the option when it is filterable, click the option."""
    field = scope.get_by_label(label, exact=True)
    option = page.get_by_role("option").filter(has_text=text).first
    for _ in range(3):  # a click during the last drop-down's closing transition may be lost
        field.click(force=True)
        if typed:
            field.fill(text)
        try:
            expect(option).to_be_visible(timeout=3_000)
            break
        except AssertionError:
            continue
    option.click()
    page.wait_for_timeout(300)  # the drop-down's closing transition


def fill_time(scope: Locator, label: str, value: str) -> None:
    field = scope.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    scope.page.wait_for_timeout(200)


def field_error(scope: Locator, message: str) -> None:
    """The message under its field (an earlier message may still be fading out beside it)."""
    expect(scope.locator(".el-form-item__error").filter(has_text=message)).to_be_visible()


def refused_row(page: Page, line: int, reason: str) -> None:
    table = page.get_by_test_id("refused-rows")
    row = table.locator(".el-table__row").filter(
        has=page.locator("td").first.get_by_text(str(line), exact=True)
    )
    expect(row.first).to_contain_text(reason)


def csv_roster(team: str) -> bytes:
    lines = [
        "序号,姓名,手机号,身份证号,技能,同意日期,服务队",  # 1
        f"1,韩梅,13700130001,,法律咨询,2026-11-01,{team}",  # 2
        f"2,包丽,1370013000,,,2026-11-01,{team}",  # 3 the phone lacks a digit
        f"3,乌兰,13700130004,{ID_MISTYPED},,2026-11-01,{team}",  # 4 wrong check character
        f"4,萨仁,13700130001,,,2026-11-01,{team}",  # 5 the phone of line 2
        f"5,其木格,13700130006,{ID_NUMBER},心理疏导,2026-11-01,{team}",  # 6
        f"6,白雪,13700130007,,家庭教育,2026-11-01,{team}",  # 7
        "7,高娃,13700130008,,,,",  # 8 no consent date
    ]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def xlsx_roster(team: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "志愿者名册"
    sheet.append(["姓名", "手机号", "身份证号", "技能", "同意日期", "服务队"])  # row 1
    sheet.append(["娜仁", "13700130011", None, "普法宣传", date(2026, 11, 2), team])  # 2
    sheet.append(["图雅", "13700130001", None, None, date(2026, 11, 2), team])  # 3 in already
    sheet.append(["阿拉坦", "137001300", None, None, date(2026, 11, 2), team])  # 4 bad phone
    sheet.append(["斯琴", "13700130014", None, None, date(2026, 11, 2), team])  # 5
    sheet.append(["娜仁", "13700130011", None, None, date(2026, 11, 2), team])  # 6 = row 2
    body = io.BytesIO()
    book.save(body)
    return body.getvalue()


def upload(page: Page, name: str, mime: str, body: bytes) -> None:
    page.get_by_test_id("import-file").set_input_files(
        {"name": name, "mimeType": mime, "buffer": body}
    )
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-report")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("import-progress")).to_contain_text("导入完成")


def test_a_leader_and_staff_do_volunteer_work_end_to_end(town, people, admin, platform):
    # --- the admin sets up the team, with its leader, in the console
    boss = people("admin")
    page = boss.login(platform.admin_password)
    page.goto("/volunteer-teams")
    page.get_by_role("button", name="新增服务队").click()
    dialog = page.get_by_role("dialog", name="新增服务队")
    dialog.get_by_label("队名").fill(TEAM)
    pick(page, dialog, "服务主题", "法律援助", typed=False)
    pick(page, dialog, "承办单位", "阿尔山温泉社区")
    pick(page, dialog, "队长", "bao.duizhang")
    boss.shot("admin-volunteer-team-form")
    dialog.get_by_role("button", name="保存").click()
    toast(page, "服务队已建立")
    expect(page.get_by_test_id("team-table")).to_contain_text(TEAM)
    expect(page.get_by_test_id("team-table")).to_contain_text("阿尔山温泉社区")

    # --- the leader imports a CSV: good, bad and duplicate rows, each refused one by line
    lead = people("bao.duizhang")
    page = lead.login()
    expect(page).to_have_url(re.compile(r"/workbench$"))  # every role lands on its workbench
    page.get_by_test_id("menu-volunteer-import").click()
    upload(page, "阿尔山名册.csv", "text/csv", csv_roster(TEAM))
    expect(page.get_by_test_id("imported-count")).to_have_text("3")
    expect(page.get_by_test_id("invalid-count")).to_have_text("3")
    expect(page.get_by_test_id("duplicate-count")).to_have_text("1")
    refused_row(page, 3, "手机号：手机号格式不正确")
    refused_row(page, 4, "身份证号：身份证号校验位不正确")
    refused_row(page, 5, "手机号与第 2 行重复")
    refused_row(page, 8, "同意日期：必填")
    lead.shot("leader-volunteer-import-csv")
    # the refused rows as a CSV to fix and upload again: the cells as they were, and why
    with page.expect_download() as downloading:
        page.get_by_test_id("download-refused").click()
    fixed = downloading.value
    assert fixed.suggested_filename == "阿尔山名册-未导入的行.csv"
    rows = list(csv.reader(io.StringIO(Path(fixed.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0] == [
        "序号",
        "姓名",
        "手机号",
        "身份证号",
        "技能",
        "同意日期",
        "服务队",
        "原行号",
        "未导入原因",
    ]
    assert [(row[1], row[7]) for row in rows[1:]] == [
        ("包丽", "3"),
        ("乌兰", "4"),
        ("萨仁", "5"),
        ("高娃", "8"),
    ]
    assert "校验位" in rows[2][8]

    # ... and an .xlsx: the sheet's row number is the line
    page.reload()
    upload(
        page,
        "阿尔山名册.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        xlsx_roster(TEAM),
    )
    expect(page.get_by_test_id("imported-count")).to_have_text("2")
    refused_row(page, 3, "该手机号的志愿者已登记")
    refused_row(page, 4, "手机号：手机号格式不正确")
    refused_row(page, 6, "手机号与第 2 行重复")
    expect(page.get_by_test_id("import-report")).to_contain_text("志愿者名册")
    lead.shot("leader-volunteer-import-xlsx")
    with page.expect_download() as downloading:
        page.get_by_test_id("download-refused").click()
    text = Path(downloading.value.path()).read_text(encoding="utf-8-sig")
    assert "阿拉坦,137001300,,,2026-11-02" in text  # the date cell as a date, to import again

    # an import that stopped part-way (its first rows in) resumes from its link: what went in
    # is not written twice, and is said apart from the refused rows
    import_id = str(uuid.uuid4())
    head = "姓名,手机号,同意日期"
    rows = [f"续传{n},1370013003{n},2026-11-05" for n in range(4)]
    first_part = "\n".join([head, *rows[:2]]).encode()
    answer = town["leader"].post(
        "/volunteers/import",
        data=first_part,
        headers={"Content-Type": "text/csv"},
        params={"import_id": import_id},
    )
    assert answer.status_code == 200 and answer.json()["imported"] == 2, answer.text
    page.goto(f"/volunteers/import?import_id={import_id}")
    expect(page.get_by_test_id("resume-note")).to_contain_text("继续上次中断的导入")
    upload(page, "续传.csv", "text/csv", "\n".join([head, *rows]).encode())
    expect(page.get_by_test_id("imported-count")).to_have_text("2")
    expect(page.get_by_test_id("duplicate-count")).to_have_text("0")
    expect(page.get_by_test_id("import-report")).to_contain_text("另有 2 行已在上次中断前导入")
    expect(page.get_by_test_id("import-report")).to_contain_text("全部行均已导入")
    lead.shot("leader-volunteer-import-resumed")

    # --- the roster: masked, searchable by name and skill; a registration checked on its fields
    page.get_by_test_id("menu-volunteers").click()
    table = page.get_by_test_id("volunteer-table")
    expect(table).to_contain_text("137****0006")
    expect(table).to_contain_text("1101**********002X")
    assert "13700130006" not in page.content()
    page.get_by_label("技能").fill("心理疏导")
    page.get_by_role("button", name="搜索").click()
    expect(page).to_have_url(re.compile(r"skill="))
    expect(table.locator(".el-table__row")).to_have_count(1)
    expect(table).to_contain_text("其木格")
    page.get_by_role("button", name="重置").click()
    page.get_by_role("button", name="登记志愿者").click()
    dialog = page.get_by_role("dialog", name="登记志愿者")
    dialog.get_by_label("姓名").fill("斯日古楞")
    dialog.get_by_label("手机号").fill("13700130021")
    dialog.get_by_label("身份证号").fill(ID_MISTYPED)
    fill_time(dialog, "同意日期", "2026-11-03")
    dialog.get_by_role("button", name="登记").click()
    field_error(dialog, "身份证号校验位不正确")
    lead.shot("leader-volunteer-register-error")
    dialog.get_by_label("身份证号").fill("")
    dialog.get_by_label("手机号").fill("13700130001")
    dialog.get_by_role("button", name="登记").click()
    field_error(dialog, "该手机号已有志愿者登记")
    dialog.get_by_label("手机号").fill("13700130021")
    dialog.get_by_role("button", name="登记").click()
    toast(page, "已登记")
    lead.shot("leader-volunteers")

    # --- an activity of two places; three sign up, the third waits, then moves up
    now = datetime.now(CHINA).replace(second=0, microsecond=0)
    starts, ends = now - timedelta(days=1), now + timedelta(days=1)
    page.get_by_test_id("menu-activities").click()
    page.get_by_role("button", name="新增活动").click()
    dialog = page.get_by_role("dialog", name="新增活动")
    dialog.get_by_label("活动名称").fill("社区普法宣传日")
    pick(page, dialog, "服务队", TEAM, typed=False)
    pick(page, dialog, "关联项目", PROJECT)
    fill_time(dialog, "开始时间", china(starts))
    fill_time(dialog, "结束时间", china(ends))
    dialog.get_by_label("地点").fill("温泉社区活动中心")
    dialog.get_by_label("名额").fill("2")
    dialog.get_by_role("button", name="保存").click()
    toast(page, "活动已建立")
    expect(page.get_by_test_id("activity-title")).to_have_text("社区普法宣传日")
    activity_url = page.url

    def enrol(name: str, said: str) -> None:
        page.get_by_test_id("enrol").click()
        dialog = page.get_by_role("dialog", name="报名")
        pick(page, dialog, "志愿者", name)
        dialog.get_by_role("button", name="确认报名").click()
        toast(page, said)

    enrol("韩梅", "报名成功")
    enrol("其木格", "报名成功")
    enrol("白雪", "已进入候补")
    places = page.get_by_test_id("places")
    expect(places).to_have_text("共 2 个，已报名 2，剩余 0，候补 1")
    enrolments = page.get_by_test_id("enrolment-table")
    expect(enrolments.locator(".el-table__row").filter(has_text="白雪")).to_contain_text("候补")
    lead.shot("leader-activity-full")
    enrolments.locator(".el-table__row").filter(has_text="韩梅").get_by_role(
        "button", name="取消报名"
    ).click()
    expect(page.locator(".el-message-box")).to_contain_text("白雪将自动递补")
    confirm(page, "取消报名")
    toast(page, "白雪已由候补转为报名")
    expect(places).to_have_text("共 2 个，已报名 2，剩余 0，候补 0")
    expect(enrolments.locator(".el-table__row").filter(has_text="白雪")).to_contain_text("已报名")

    # --- hours: logged by the leader, who may not verify them herself
    enrolments.locator(".el-table__row").filter(has_text="其木格").get_by_role(
        "button", name="登记时长"
    ).click()
    dialog = page.get_by_role("dialog", name="登记服务时长")
    fill_time(dialog, "开始时间", china(starts + timedelta(hours=1)))
    dialog.get_by_label("时长（小时）").fill("2.5")
    dialog.get_by_role("button", name="登记").click()
    toast(page, "已登记，等待核验")
    expect(page.get_by_test_id("activity-hours")).to_contain_text("待核验")
    lead.shot("leader-activity-detail")
    page.get_by_test_id("menu-service-hours").click()
    queue = page.get_by_test_id("hours-table")
    expect(queue).to_contain_text("其木格")
    expect(queue).to_contain_text("本人登记，须由他人核验")
    lead.shot("leader-service-hours")

    # an activity that has ended takes no more sign-ups, and says so
    leader_api = town["leader"]
    teams = leader_api.get("/teams").json()["items"]
    past = leader_api.post(
        "/activities",
        {
            "title": "上月普法讲座",
            "team_id": teams[0]["id"],
            "starts_at": (now - timedelta(days=30)).isoformat(),
            "ends_at": (now - timedelta(days=30) + timedelta(hours=2)).isoformat(),
            "capacity": 5,
        },
    )
    assert past.status_code == 201, past.text
    page.goto(f"/activities/{past.json()['id']}")
    expect(page.get_by_test_id("ended-note")).to_contain_text("结束，不再接受报名")
    expect(page.get_by_test_id("enrol")).to_be_disabled()
    lead.shot("leader-activity-ended")

    # --- staff verify the hours
    staff = people("han.ganshi")
    page = staff.login()
    page.goto("/service-hours")
    queue = page.get_by_test_id("hours-table")
    row = queue.locator(".el-table__row").filter(has_text="其木格")
    expect(row).to_contain_text("2.5")
    staff.shot("staff-service-hours")
    row.get_by_role("button", name="核验通过").click()
    expect(page.locator(".el-message-box")).to_contain_text("所关联项目的绩效")
    confirm(page, "核验通过")
    toast(page, "已核验")
    expect(queue.locator(".el-table__row").filter(has_text="其木格")).to_have_count(0)

    # --- the hours report, by team and by project, with its downloads
    page.get_by_test_id("menu-hours-report").click()
    report = page.get_by_test_id("report-table")
    expect(report).to_contain_text(TEAM)
    expect(report.locator(".el-table__row").filter(has_text=TEAM)).to_contain_text("2.5")
    page.get_by_test_id("group-by").get_by_text("按项目").click()
    page.get_by_role("button", name="统计").click()
    expect(page).to_have_url(re.compile(r"group_by=project"))
    expect(report.locator(".el-table__row").filter(has_text=PROJECT)).to_contain_text("2.5")
    staff.shot("staff-hours-report")
    with page.expect_download() as downloading:
        page.get_by_test_id("download-csv").click()
    assert downloading.value.suggested_filename == "jinguo-hours-by-project.csv"
    exported = Path(downloading.value.path()).read_text(encoding="utf-8-sig")
    assert town["project"]["id"] in exported and "150" in exported
    with page.expect_download() as downloading:
        page.get_by_test_id("download-xlsx").click()
    sheet = load_workbook(
        io.BytesIO(Path(downloading.value.path()).read_bytes()), read_only=True
    ).active
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][0] == "项目编号" and cells[-1][0] == "合计" and cells[-1][3] == 150

    # --- the project's delivery figures count them
    def delivered() -> None:
        page.goto(f"/projects/{town['project']['id']}")
        expect(page.get_by_test_id("project-volunteer-hours")).to_have_text(
            "2.5 小时", timeout=3_000
        )

    wait_for(delivered)
    staff.shot("staff-project-volunteer-hours")

    # --- the volunteer's statement of verified hours, printable
    page.goto("/volunteers?q=其木格")
    page.get_by_test_id("volunteer-table").get_by_role("link", name="服务证明").click()
    expect(page.get_by_test_id("statement-total")).to_have_text("2.5")
    expect(page.get_by_test_id("statement-table")).to_contain_text("社区普法宣传日")
    staff.shot("staff-volunteer-statement")
    page.emulate_media(media="print")
    assert page.locator(".aside").is_hidden() and page.get_by_test_id("print").is_hidden()
    page.screenshot(path=str(staff.shots / "staff-volunteer-statement-print.png"), full_page=True)
    page.emulate_media(media="screen")

    # --- an admin's unmasked view asks why, and says it is recorded
    page = boss.page
    page.goto("/volunteers?q=其木格")
    page.get_by_role("button", name="查看完整信息").click()
    dialog = page.get_by_role("dialog", name="查看完整个人信息")
    expect(dialog).to_contain_text("本次查看将被记录")
    dialog.get_by_role("button", name="确认查看").click()
    field_error(dialog, "请填写查看事由")
    dialog.get_by_label("查看事由").fill("核对志愿者保险投保信息")
    dialog.get_by_role("button", name="确认查看").click()
    expect(page.get_by_test_id("unmasked")).to_contain_text("13700130006")
    expect(page.get_by_test_id("unmasked")).to_contain_text(ID_NUMBER)
    boss.shot("admin-volunteer-unmasked")
    reads = admin.get("/personal-data-reads").json()["items"]
    assert reads[0]["reason"] == "核对志愿者保险投保信息"

    # --- every volunteer page, for each role: in Chinese, whole at 1366x768
    screens(boss, "admin", activity_url)
    screens(staff, "staff", activity_url)
    screens(lead, "leader", activity_url)
    # finance reads the hours report (totals, never names) and has no roster pages
    finance = people("su.caiwu")
    page = finance.login()
    menu = [
        t.strip() for t in page.locator("nav[aria-label=主菜单] .el-menu-item").all_inner_texts()
    ]
    assert "服务时长报表" in menu and "志愿者" not in menu
    page.goto("/hours-report?group_by=team")
    report = page.get_by_test_id("report-table")
    expect(report.locator(".el-table__row").filter(has_text=TEAM)).to_contain_text("2.5")
    expect(page.get_by_test_id("group-by")).not_to_contain_text("按志愿者")
    finance.shot("finance-hours-report")
    page.goto("/volunteers")
    expect(page.get_by_text("不存在或无权查看")).to_be_visible()
    for person in (boss, staff, lead, finance):
        assert not person.errors, person.errors


def screens(person, role: str, activity_url: str) -> None:
    page = person.page
    team_link = None
    page.goto("/volunteer-teams")
    expect(page.get_by_test_id("team-table")).to_contain_text(TEAM)
    person.shot(f"{role}-volunteer-teams")
    team_link = page.get_by_test_id("team-table").get_by_role("link", name=TEAM)
    team_link.click()
    expect(page.get_by_test_id("member-table")).to_contain_text("其木格")
    person.shot(f"{role}-volunteer-team-detail")
    for path, name in (
        ("/volunteers", "volunteers"),
        ("/volunteers/import", "volunteer-import"),
        ("/activities", "activities"),
        (activity_url, "activity-detail"),
        ("/service-hours?status=verified", "service-hours-verified"),
        ("/hours-report?group_by=month", "hours-report-month"),
        ("/hours-report?group_by=theme", "hours-report-theme"),
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        person.shot(f"{role}-{name}")
        body = page.locator(".main").inner_text()
        english = re.findall(r"\b[A-Za-z]{4,}\b", body)
        assert not [w for w in english if w not in ("Excel", "xlsx", "UTF")], (path, english)
        assert no_horizontal_overflow(page), path
