"""The auditor in real Chromium (issue 17): she lands on 审计日志, her menu shows only it; she
searches the trail, opens a record and reads what changed, and sees each log's chain status
(链校验). Screenshots: var/screenshots/audit-*.png.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD


@pytest.fixture(scope="module")
def trail(platform, admin) -> dict[str, str]:
    """A federation with an auditor, and one of its staff whose role an admin changed."""
    tag = uuid.uuid4().hex[:6]
    city = admin.create(
        "/organizations",
        {"name": f"科尔沁右翼前旗妇女联合会{tag}", "kind": "federation", "level": "county"},
    )
    auditor, staff = f"shen.ji.{tag}", f"wang.gong.{tag}"
    for username, role in ((auditor, "auditor"), (staff, "federation_staff")):
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": city["id"],
            },
        )
    staff_id = next(
        u["id"]
        for u in admin.get("/users", params={"limit": 500}).json()["items"]
        if u["username"] == staff
    )
    assert admin.patch(f"/users/{staff_id}", json={"role": "finance_officer"}).status_code == 200
    return {"auditor": auditor, "staff": staff, "staff_id": staff_id}


def test_the_auditor_searches_opens_a_record_and_sees_the_chains(platform, trail, people):
    person = people(trail["auditor"])
    page = person.login()
    expect(page).to_have_url(f"http://127.0.0.1:{platform.gateway_port}/audit")
    menu = page.locator("nav .el-menu-item")
    expect(menu).to_have_count(1)
    expect(menu.first).to_contain_text("审计日志")
    chain = page.get_by_test_id("chain-gateway")
    expect(chain).to_contain_text("完整")
    expect(chain).to_contain_text("链完整")

    page.get_by_label("对象ID").fill(trail["staff_id"])
    page.get_by_test_id("audit-search").click()
    table = page.get_by_test_id("audit-table")
    expect(table).to_contain_text("变更用户角色/组织/状态")
    expect(table).to_contain_text("新增用户")
    person.shot("audit-search")

    table.locator("tr", has_text="变更用户角色/组织/状态").get_by_role(
        "button", name="详情"
    ).click()
    detail = page.get_by_test_id("audit-changes")
    expect(detail).to_contain_text("federation_staff")
    expect(detail).to_contain_text("finance_officer")
    expect(page.locator(".el-drawer")).to_contain_text("admin（系统管理员）")
    person.shot("audit-detail")
    assert person.errors == []
