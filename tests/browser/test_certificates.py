"""Volunteer service certificates in the console, in real Chromium: federation staff issue one
from a volunteer's page (period chosen, figures previewed, confirmed) and open its printable
page, and give her an account; the volunteer lands on 我的志愿服务 and downloads her
certificate's PDF; a visitor without an account verifies it from the QR code's link and by
typing number and code. Screenshots land in var/screenshots/.

Set-up without a screen in this area (organizations, logins, the team, her verified hours)
goes through the API.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_console import confirm, toast, wait_for

#: an ID number and a phone no other browser test registers (the session shares one platform)
ID_NUMBER = "440524198001010013"
PHONE = f"1370{uuid.uuid4().int % 10**7:07d}"


def created(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture(scope="module")
def served(platform, admin) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    city = admin.create(
        "/organizations", {"name": f"乌海市妇女联合会{tag}", "kind": "federation", "level": "city"}
    )
    host = admin.create(
        "/organizations",
        {
            "name": "乌海滨河社区",
            "kind": "host_unit",
            "sector": "community",
            "parent_id": city["id"],
        },
    )
    names = {"staff": f"cert.staff.{tag}", "leader": f"cert.leader.{tag}"}
    staff_user = admin.create(
        "/users",
        {
            "username": names["staff"],
            "password": PASSWORD,
            "role": "federation_staff",
            "organization_id": city["id"],
        },
    )
    leader_user = admin.create(
        "/users", {"username": names["leader"], "password": PASSWORD, "role": "team_leader"}
    )
    staff = platform.client(platform.token(names["staff"], PASSWORD))
    leader = platform.client(platform.token(names["leader"], PASSWORD))
    team = wait_for(
        lambda: created(
            staff.post(
                "/teams",
                {
                    "name": "乌海巾帼家庭教育志愿服务队",
                    "theme": "family_education",
                    "host_id": host["id"],
                    "leader_user_id": leader_user["id"],
                },
            )
        )
    )
    volunteer = created(
        staff.post(
            "/volunteers",
            {
                "name": "赵丽华",
                "phone": PHONE,
                "id_number": ID_NUMBER,
                "consented_on": "2026-03-01",
                "team_id": team["id"],
            },
        )
    )
    activity = created(
        leader.post(
            "/activities",
            {
                "title": "亲子阅读公益课堂",
                "team_id": team["id"],
                "starts_at": "2026-10-10T09:00:00+08:00",
                "ends_at": (datetime.now(UTC) + timedelta(days=2))
                .replace(microsecond=0)
                .isoformat(),
                "place": "滨河社区图书室",
                "capacity": 5,
            },
        )
    )
    created(
        leader.post(f"/activities/{activity['id']}/enrolments", {"volunteer_id": volunteer["id"]})
    )
    entry = created(
        staff.post(
            "/service-hours",
            {
                "volunteer_id": volunteer["id"],
                "activity_id": activity["id"],
                "started_at": "2026-10-10T09:00:00+08:00",
                "hours": "3.5",
            },
        )
    )
    created(leader.post(f"/service-hours/{entry['id']}/verify"))
    assert staff_user
    return {"names": names, "volunteer": volunteer, "staff": staff, "tag": tag}


def test_staff_issue_a_volunteer_downloads_a_visitor_verifies(served, people, console_url):
    volunteer = served["volunteer"]
    staff = people(served["names"]["staff"])
    page = staff.login()
    page.goto(f"/volunteers/{volunteer['id']}/statement")
    panel = page.get_by_test_id("certificates")
    expect(panel).to_contain_text("暂无志愿服务证明")
    panel.get_by_test_id("issue-certificate").click()
    dialog = page.get_by_role("dialog", name="出具志愿服务证明")
    dialog.get_by_placeholder("开始日期").fill("2026-10-01")
    dialog.get_by_placeholder("结束日期").fill("2026-10-31")
    dialog.get_by_placeholder("结束日期").press("Enter")
    dialog.get_by_test_id("preview-certificate").click()
    expect(dialog.get_by_test_id("preview-hours")).to_have_text("3.5")
    staff.shot("certificate-issue-preview")
    dialog.get_by_test_id("confirm-issue").click()
    confirm(page, "出具")
    toast(page, "证明已出具")
    row = panel.get_by_test_id("certificate-table").locator("tbody tr").first
    expect(row).to_contain_text("3.5")
    expect(row).to_contain_text("有效")
    number = re.search(r"JG-\d{4}-\d{6}", row.inner_text()).group(0)
    staff.shot("certificate-staff-list")

    # the printable page
    panel.get_by_test_id(f"certificate-{number}").click()
    expect(page.get_by_test_id("certificate-number")).to_have_text(number)
    expect(page.get_by_test_id("certificate-hours")).to_have_text("3.5")
    code = page.get_by_test_id("certificate-code").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}", code)
    staff.shot("certificate-print-page")
    page.emulate_media(media="print")
    expect(page.locator(".aside")).to_be_hidden()
    staff.shot("certificate-print-media")
    page.emulate_media(media="screen")

    # her account, made from her page
    page.goto(f"/volunteers/{volunteer['id']}/statement")
    page.get_by_test_id("open-account").click()
    account = page.get_by_role("dialog", name="开通志愿者账号")
    username = f"cert.zhaolihua.{served['tag']}"
    account.get_by_label("用户名").fill(username)
    account.get_by_label("初始密码").fill(PASSWORD)
    account.get_by_test_id("create-account").click()
    toast(page, "志愿者账号已开通")

    # she lands on 我的志愿服务 and downloads her certificate
    her = people(username)
    mine = her.login()
    expect(mine).to_have_url(re.compile(r"/my-service$"))
    expect(mine.get_by_test_id("my-name")).to_have_text("赵丽华")
    expect(mine.get_by_test_id("my-total")).to_have_text("3.5")
    expect(mine.get_by_test_id("certificate-table")).to_contain_text(number)
    expect(mine.get_by_test_id("issue-certificate")).to_have_count(0)
    expect(mine.get_by_test_id(f"revoke-{number}")).to_have_count(0)
    her.shot("certificate-volunteer-home")
    with mine.expect_download() as caught:
        mine.get_by_test_id(f"download-{number}").click()
    download = caught.value
    assert download.suggested_filename == f"志愿服务证明-{number}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert not her.errors, her.errors

    # a visitor: the QR code's link, then the form with a wrong code
    visitor = people("visitor")
    public = visitor.page
    public.goto(f"/public/certificates/verify?number={number}&code={code}")
    result = public.get_by_test_id("verify-result")
    expect(result).to_contain_text("证明真实有效")
    expect(public.get_by_test_id("verify-name")).to_have_text("赵*华")
    expect(public.get_by_test_id("verify-hours")).to_have_text("3.5")
    assert PHONE not in public.content() and ID_NUMBER not in public.content()
    visitor.shot("certificate-public-verify")
    public.get_by_test_id("verify-code").fill("AAAA-BBBB")
    public.get_by_test_id("verify-submit").click()
    expect(result).to_contain_text("未找到该证明")
    visitor.shot("certificate-public-not-found")
    assert not staff.errors and not visitor.errors, (staff.errors, visitor.errors)
