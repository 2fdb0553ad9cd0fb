"""A federation leader (staff of a league federation) opens 目标考核 in real Chromium: the table of
her child federations for this year, sorts it by a column, changes a weight (confirmed, kept in
the history, the scores recomputed) and downloads the .xlsx, whose cells are checked.

The tree and the year's work (host units and women's organizations, published projects) go
through the API. Screenshots land in var/screenshots/ (assessment-*.png).
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_console import confirm, toast, wait_for

LEAGUE = "兴安盟妇女联合会"
CITIES = ("乌兰浩特市妇联", "阿尔山市妇联", "突泉县妇联")
YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def league(platform, admin) -> dict[str, Any]:
    """A league (city level) with three county-level federations: the first has four host
    units, three covered, and publishes two projects; the second two host units, one covered,
    one project; the third one host unit, uncovered."""
    top = admin.create("/organizations", {"name": LEAGUE, "kind": "federation", "level": "city"})
    admin.create(
        "/users",
        {
            "username": "bao.zhuxi",
            "password": PASSWORD,
            "role": "federation_staff",
            "organization_id": top["id"],
        },
    )
    admin.create(
        "/users",
        {
            "username": "meng.caiwu",
            "password": PASSWORD,
            "role": "finance_officer",
            "organization_id": top["id"],
        },
    )
    staff = platform.client(platform.token("bao.zhuxi", PASSWORD))
    finance = platform.client(platform.token("meng.caiwu", PASSWORD))
    source = ok(
        finance.post(
            "/funding-sources",
            {
                "name": f"{YEAR}年妇女发展资金",
                "kind": "fiscal_special_fund",
                "owner_id": top["id"],
                "fiscal_year": YEAR,
                "amount": 5_000_000,
            },
        ),
        201,
    )
    cities = {}
    for name, (units, covered, projects) in zip(
        CITIES, ((4, 3, 2), (2, 1, 1), (1, 0, 0)), strict=True
    ):
        city = staff.create(
            "/organizations",
            {"name": name, "kind": "federation", "level": "county", "parent_id": top["id"]},
        )
        cities[name] = city
        for number in range(units):
            host = staff.create(
                "/organizations",
                {
                    "name": f"{name}建会单位{number + 1}",
                    "kind": "host_unit",
                    "sector": "non_public_enterprise" if number % 2 else "community",
                    "parent_id": city["id"],
                },
            )
            if number < covered:
                staff.create(
                    "/organizations",
                    {
                        "name": f"{name}妇委会{number + 1}",
                        "kind": "womens_organization",
                        "parent_id": host["id"],
                    },
                )
        for number in range(projects):

            def drafted(city=city, number=number, name=name) -> dict:
                response = staff.session.post(
                    f"{staff.base_url}/projects",
                    json={
                        "title": f"{name}项目{number + 1}",
                        "category": "family_education",
                        "model": "commissioned",
                        "purchaser_id": city["id"],
                        "funding_source_id": source["id"],
                        "budget": 100_000,
                        "starts_on": f"{YEAR}-01-01",
                        "ends_on": f"{YEAR}-12-31",
                    },
                )
                assert response.status_code == 201, response.text
                return response.json()

            project = wait_for(drafted)
            ok(staff.post(f"/projects/{project['id']}/publish"))

    # every service's copy of the registry has heard of the three cities
    def complete() -> None:
        table = ok(staff.get(f"/assessments/{top['id']}/{YEAR}"))
        published = {row["name"]: row["projects_published"] for row in table["rows"]}
        assert published == {CITIES[0]: 2, CITIES[1]: 1, CITIES[2]: 0}, published

    wait_for(complete, timeout=60)
    return {"top": top, "cities": cities}


def test_a_leader_assesses_her_cities_sorts_weighs_and_downloads(people, league):
    person = people("bao.zhuxi")
    page = person.login()
    page.get_by_test_id("menu-assessment").click()
    expect(page.get_by_test_id("assessment-title")).to_contain_text(f"{LEAGUE} · {YEAR} 年度")
    table = page.get_by_test_id("assessment-table")
    rows = table.locator(".el-table__body-wrapper tbody tr.el-table__row")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("assessment-rules")).to_contain_text("最高值为 100 分")
    # ranked by the default weights: the first city leads everything
    expect(rows.first).to_contain_text(CITIES[0])
    expect(rows.first).to_contain_text("75%")
    person.shot("assessment-table")

    # sort by coverage, lowest first: the third city (0 %) comes first
    header = table.locator("th").filter(has_text="组建率")
    header.locator(".sort-caret.ascending").click()
    expect(rows.first).to_contain_text(CITIES[2])
    assert "sort=coverage_rate" in page.url
    person.shot("assessment-sorted")

    # weigh projects only: the second city's share of projects is 50 of the best
    page.get_by_test_id("assessment-weights").click()
    dialog = page.get_by_test_id("weights-dialog")
    expect(dialog.get_by_test_id("weights-history")).to_contain_text("尚无调整记录")
    for code in (
        "coverage_rate",
        "womens_organizations_founded",
        "projects_completed",
        "on_time_share",
        "money_committed",
        "money_paid",
        "volunteers_registered",
        "verified_hours",
        "activities_held",
    ):
        field = dialog.get_by_test_id(f"weight-{code}").locator("input")
        field.fill("0")
        field.blur()
    dialog.get_by_test_id("weight-projects_published").locator("input").fill("50")
    dialog.get_by_test_id("weight-projects_published").locator("input").blur()
    dialog.get_by_test_id("weight-reason").fill("本年度重点考核项目发布")
    person.shot("assessment-weights")
    dialog.get_by_test_id("weights-save").click()
    box = page.locator(".el-message-box")
    expect(box).to_contain_text("发布项目 10→50")
    person.shot("assessment-weights-confirm")
    confirm(page, "确认调整")
    toast(page, "权重已调整")
    expect(page.get_by_test_id("assessment-rules")).to_contain_text("发布项目 50")
    second = rows.filter(has_text=CITIES[1])
    expect(second).to_contain_text("50.0")

    # the history keeps who, what and why
    page.get_by_test_id("assessment-weights").click()
    history = page.get_by_test_id("weights-history")
    expect(history).to_contain_text("bao.zhuxi")
    expect(history).to_contain_text("发布项目 10→50")
    expect(history).to_contain_text("本年度重点考核项目发布")
    person.shot("assessment-weights-history")
    page.get_by_test_id("weights-dialog").get_by_role("button", name="取消").click()

    # the workbook: Chinese headers, the scores as on screen, best first
    with page.expect_download() as downloading:
        page.get_by_test_id("assessment-xlsx").click()
    book = load_workbook(io.BytesIO(Path(downloading.value.path()).read_bytes()))
    sheet = book["目标考核"]
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["排名", "下级妇联", "总分", "组建率(%)"]
    body = {row[1]: row for row in sheet.iter_rows(min_row=2, max_row=4, values_only=True)}
    assert set(body) == set(CITIES)
    score, coverage = header.index("总分"), header.index("组建率(%)")
    published = header.index("发布项目")
    assert body[CITIES[0]][0] == 1 and body[CITIES[0]][score] == 100
    assert body[CITIES[1]][score] == 50 and body[CITIES[2]][score] == 0
    assert body[CITIES[0]][coverage] == 75 and body[CITIES[1]][coverage] == 50
    assert [body[c][published] for c in CITIES] == [2, 1, 0]
    labels = [row[0] for row in sheet.iter_rows(min_row=5, values_only=True)]
    assert "评分规则" in labels and "发布项目" in labels
    assert not person.errors, person.errors


def test_staff_of_a_city_cannot_assess_the_league(platform, admin, league):
    city = league["cities"][CITIES[1]]
    admin.create(
        "/users",
        {
            "username": "aershan.ganshi",
            "password": PASSWORD,
            "role": "federation_staff",
            "organization_id": city["id"],
        },
    )
    staff = platform.client(platform.token("aershan.ganshi", PASSWORD))
    for path in ("", "/registry", "/projects", "/funding", "/volunteers", "/weights"):
        response = staff.get(f"/assessments/{league['top']['id']}/{YEAR}{path}")
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "OUT_OF_SCOPE"
    # her own city has no child federations: an empty table, not an error
    assert ok(staff.get(f"/assessments/{city['id']}/{YEAR}"))["rows"] == []
