"""信息公开 in real Chromium: a visitor without an account finds the link on the login page,
browses the purchase announcements (search and filters kept in the URL), opens a project
(announcement, award, money paid per tranche, the OCDS package downloads and parses), and
reads the awards. Nothing of a draft or of the losing bidder is on any page.

The record (a federation, its staff and finance officers, two providers, a draft, a project
open for applications, one awarded with a tranche paid) is made through the API.
Screenshots land in var/screenshots/ (disclosure-*.png).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_console import choose, wait_for

CITY = "阿尔山市妇女联合会"
WINNER = "暖阳社会工作服务中心"
LOSER = "春晖家庭服务社"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def record(platform, admin) -> dict[str, Any]:
    city = admin.create("/organizations", {"name": CITY, "kind": "federation", "level": "city"})
    for username, role in (
        ("aes.staff", "federation_staff"),
        ("aes.approver", "finance_officer"),
        ("aes.payer", "finance_officer"),
    ):
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": city["id"],
            },
        )
    staff = platform.client(platform.token("aes.staff", PASSWORD))
    logins = {}
    for name, login in ((WINNER, "aes.nuanyang"), (LOSER, "aes.chunhui")):
        provider = staff.create(
            "/organizations",
            {
                "name": name,
                "kind": "service_provider",
                "parent_id": city["id"],
                "contact": {"person": "赵敏", "phone": "13900003333"},
            },
        )
        ok(staff.post(f"/organizations/{provider['id']}/verify"))
        admin.create(
            "/users",
            {
                "username": login,
                "password": PASSWORD,
                "role": "contractor",
                "organization_id": provider["id"],
            },
        )
        logins[name] = (platform.client(platform.token(login, PASSWORD)), provider)
    source = wait_for(
        lambda: ok(
            admin.post(
                "/funding-sources",
                {
                    "name": "2027年妇女儿童关爱专项资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": city["id"],
                    "fiscal_year": 2027,
                    "amount": 8_000_000,
                },
            ),
            201,
        )
    )
    base = {
        "model": "commissioned",
        "funding_source_id": source["id"],
        "starts_on": "2027-03-01",
        "ends_on": "2027-12-20",
        "target_beneficiaries": 300,
    }

    def project(title: str, category: str, budget: int, publish: bool, **more: Any) -> dict:
        made = wait_for(
            lambda: ok(
                staff.post(
                    "/projects",
                    {**base, "title": title, "category": category, "budget": budget, **more},
                ),
                201,
            )
        )
        if publish:
            ok(staff.post(f"/projects/{made['id']}/publish"))
        return made

    draft = project("内部草稿·暂不公开", "legal_aid", 500_000, False)
    project("婚姻家庭纠纷调解服务", "family_dispute_mediation", 600_000, True)
    project("春蕾女童助学", "spring_bud_girls_schooling", 900_000, True)
    awarded = project(
        "单亲母亲家庭支持服务",
        "single_mother_family_services",
        1_200_000,
        True,
        description="为单亲母亲家庭提供心理疏导、就业指导与亲子活动。",
        indicators=[{"name": "服务家庭数", "target": 80, "unit": "户"}],
    )
    applications = {}
    for name, amount in ((WINNER, 1_000_000), (LOSER, 950_000)):
        client, provider = logins[name]
        applications[name] = wait_for(
            lambda client=client, provider=provider, amount=amount: ok(
                client.post(
                    f"/projects/{awarded['id']}/applications",
                    {"provider_id": provider["id"], "amount": amount, "proposal": "服务方案"},
                ),
                201,
            )
        )
    plan = [
        {
            "title": "需求评估",
            "deliverables": "评估报告",
            "due_on": "2027-04-30",
            "amount": 400_000,
        },
        {
            "title": "个案与小组服务",
            "deliverables": "服务记录",
            "due_on": "2027-12-10",
            "amount": 600_000,
        },
    ]
    contract = ok(
        staff.post(
            f"/projects/{awarded['id']}/award",
            {"application_id": applications[WINNER]["id"], "milestones": plan},
        ),
        201,
    )
    first = contract["milestones"][0]
    winner = logins[WINNER][0]
    ok(
        winner.post(
            f"/contracts/{contract['id']}/milestones/{first['id']}/reports",
            {"summary": "完成80户需求评估", "beneficiaries_served": 80},
        ),
        201,
    )
    ok(staff.post(f"/contracts/{contract['id']}/milestones/{first['id']}/accept"))
    approver = platform.client(platform.token("aes.approver", PASSWORD))
    payer = platform.client(platform.token("aes.payer", PASSWORD))

    def pending() -> dict:
        items = ok(approver.get("/disbursements", params={"status": "pending"}))["items"]
        assert items
        return items[0]

    disbursement = wait_for(pending)
    ok(approver.post(f"/disbursements/{disbursement['id']}/approve"))
    ok(
        payer.post(
            f"/disbursements/{disbursement['id']}/pay", {"payment_reference": "ICBC-2027-0420"}
        )
    )

    def paid() -> None:  # asked as staff: polling the public pages would spend the rate limit
        assert ok(staff.get(f"/projects/{awarded['id']}"))["amount_paid"] == 400_000

    wait_for(paid)
    return {"draft": draft, "awarded": awarded}


def test_a_visitor_browses_the_announcements_a_project_and_the_awards(
    people, record, platform, tmp_path: Path
):
    anonymous = platform.client()

    def public_total(**params: str) -> int:
        """The total the public API itself gives (other tests of the session publish too)."""
        return ok(anonymous.get("/public/projects", params=params))["total"]

    visitor = people("visitor")
    page = visitor.page
    page.goto("/login")
    page.get_by_test_id("public-link").click()
    expect(page).to_have_url(re.compile(r"/public/projects$"))
    table = page.get_by_test_id("announcement-table")
    expect(table).to_contain_text("单亲母亲家庭支持服务")
    expect(table).to_contain_text("¥12,000.00")
    expect(table).to_contain_text(CITY)
    expect(page.get_by_test_id("total")).to_contain_text(f"共 {public_total()} 条")
    expect(table).not_to_contain_text("内部草稿")
    visitor.shot("disclosure-announcements")

    # search and a filter, kept in the URL: a reload brings the same view
    page.get_by_role("textbox", name="项目名称").fill("助学")
    page.get_by_role("button", name="搜索").click()
    expect(page.get_by_test_id("total")).to_contain_text(f"共 {public_total(q='助学')} 条")
    assert "q=" in page.url
    choose(page, "状态", "征集中")
    page.get_by_role("textbox", name="项目名称").fill("")
    page.get_by_role("button", name="搜索").click()
    published = public_total(status="published")
    expect(page.get_by_test_id("total")).to_contain_text(f"共 {published} 条")
    assert "status=published" in page.url
    page.reload()
    expect(page.get_by_test_id("total")).to_contain_text(f"共 {published} 条")
    expect(page.get_by_test_id("announcement-table")).not_to_contain_text("单亲母亲家庭支持服务")
    visitor.shot("disclosure-announcements-filtered")
    page.get_by_role("button", name="重置").click()
    expect(page.get_by_test_id("total")).to_contain_text(f"共 {public_total()} 条")

    # a project: announcement, award, money paid, the OCDS package
    page.get_by_role("link", name="单亲母亲家庭支持服务").click()
    expect(page.get_by_test_id("public-project-title")).to_have_text("单亲母亲家庭支持服务")
    expect(page.get_by_text("为单亲母亲家庭提供心理疏导")).to_be_visible()
    award = page.get_by_test_id("public-award")
    expect(page.get_by_test_id("award-contractor")).to_have_text(WINNER)
    expect(award).to_contain_text("¥10,000.00")
    expect(page.get_by_test_id("amount-paid")).to_contain_text("¥4,000.00")
    expect(page.get_by_test_id("tranche-table")).to_contain_text("需求评估")
    expect(award).to_contain_text("40%")
    body = page.locator("body")
    expect(body).not_to_contain_text(LOSER)
    expect(body).not_to_contain_text("赵敏")
    with page.expect_download() as downloaded:
        page.get_by_test_id("download-ocds").click()
    path = tmp_path / "ocds.json"
    downloaded.value.save_as(path)
    package = json.loads(path.read_text(encoding="utf-8"))
    release = package["releases"][0]
    assert release["awards"][0]["suppliers"][0]["name"] == WINNER
    assert LOSER not in path.read_text(encoding="utf-8")
    visitor.shot("disclosure-project")

    # the awards
    page.get_by_test_id("nav-awards").click()
    awards = page.get_by_test_id("award-table")
    expect(awards).to_contain_text(WINNER)
    expect(awards).to_contain_text("¥10,000.00")
    expect(awards).to_contain_text("¥4,000.00")
    expect(awards).to_contain_text("履行中")
    expect(awards).not_to_contain_text(LOSER)
    visitor.shot("disclosure-awards")

    # a draft's page says it is not public
    page.goto(f"/public/projects/{record['draft']['id']}")
    expect(page.get_by_text("该项目未公开或不存在")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("内部草稿")
    assert not visitor.errors, visitor.errors


def test_the_public_pages_fit_a_phone(people, record):
    visitor = people("visitor-phone", viewport={"width": 390, "height": 844})
    page = visitor.page
    page.goto("/public/projects")
    expect(page.get_by_test_id("announcement-table")).to_contain_text("单亲母亲家庭支持服务")
    visitor.shot("disclosure-phone-announcements")
    page.goto(f"/public/projects/{record['awarded']['id']}")
    expect(page.get_by_test_id("award-contractor")).to_have_text(WINNER)
    visitor.shot("disclosure-phone-project")
