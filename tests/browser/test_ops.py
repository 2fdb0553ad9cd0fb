"""Ops in real Chromium: an ops user logs in and lands on 系统状态, sees every component's status
and a message parked behind one of funding's event queues, looks at it (it stays parked),
replays it with a reason after confirming how many go back, and finds the replay on record;
the page refreshes itself (a message parked meanwhile appears without a reload). Admins see
the page too; a finance officer is turned away. Screenshots: var/screenshots/ops-*.png.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_console import run_axe, toast
from tests.support.deadletters import FUNDING_DIRECTORY_QUEUE as QUEUE
from tests.support.deadletters import organization_registered, park

REASON = "资金服务数据库连接池已扩容，重新处理积压的组织登记事件"


@pytest.fixture(scope="module")
def duty(platform, admin) -> dict[str, Any]:
    """An ops user and a finance officer; one registry event parked behind funding's copy."""
    city = admin.create(
        "/organizations", {"name": "阿尔山市妇女联合会", "kind": "federation", "level": "county"}
    )
    for username, role, organization in (
        ("zhao.yunwei", "ops", None),
        ("ops.caiwu", "finance_officer", city["id"]),
    ):
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": organization,
            },
        )
    event = organization_registered("阿尔山市暖心社会工作服务中心")
    park(platform.amqp_uri, QUEUE, [event])
    return {"event": event}


def test_ops_land_on_the_status_page_see_a_parked_message_and_replay_it(platform, duty, people):
    ops = people("zhao.yunwei")
    page = ops.login()
    expect(page).to_have_url(f"http://127.0.0.1:{platform.gateway_port}/ops")
    expect(page.get_by_role("heading", name="系统状态")).to_be_visible()
    expect(page.get_by_test_id("overall")).to_have_text("全部正常")
    for name in (
        "gateway_database",
        "rabbitmq",
        "gateway_consumers",
        "registry",
        "projects",
        "funding",
        "volunteers",
    ):
        expect(page.get_by_test_id(f"status-{name}")).to_have_text("正常")
    expect(page.get_by_test_id("outbox-funding")).to_be_visible()
    parked = page.get_by_test_id(f"parked-{QUEUE}")
    expect(parked).to_have_text("1 条滞留")
    expect(page.get_by_test_id("dead-letters")).to_contain_text(
        "来自组织登记服务的「组织登记」事件"
    )
    # not configured on this platform: no links to follow
    expect(page.get_by_test_id("grafana")).to_have_count(0)
    assert run_axe(page) == []
    ops.shot("ops-status")

    # a look leaves the message parked
    page.get_by_test_id(f"peek-{QUEUE}").click()
    dialog = page.get_by_test_id("peek-dialog")
    expect(dialog).to_contain_text("共 1 条滞留")
    expect(dialog).to_contain_text("多次处理失败（达到投递次数上限）")
    dialog.locator(".el-table__expand-icon").first.click()
    expect(dialog.get_by_test_id("message-body")).to_contain_text(duty["event"]["organization_id"])
    ops.shot("ops-peek")

    # the replay says how many go back and wants a reason
    dialog.get_by_test_id("peek-replay").click()
    replay = page.get_by_test_id("replay-dialog")
    expect(replay.get_by_test_id("replay-sentence")).to_contain_text("1 条滞留消息")
    expect(replay.get_by_test_id("replay-sentence")).to_contain_text("由资金服务重新处理")
    replay.get_by_test_id("replay-confirm").click()
    expect(replay).to_contain_text("请填写重放原因")
    replay.get_by_label("重放原因").fill(REASON)
    ops.shot("ops-replay-confirm")
    replay.get_by_test_id("replay-confirm").click()
    toast(page, "已重放 1 条消息")

    expect(page.get_by_test_id("dead-letters")).to_contain_text("没有滞留的消息")
    record = page.get_by_test_id("replay-record")
    first = record.locator(".el-table__row").first
    expect(first.get_by_test_id("replay-actor")).to_have_text("zhao.yunwei")
    expect(first.get_by_test_id("replay-count")).to_have_text("已重放 1 条")
    expect(first.get_by_test_id("replay-reason-text")).to_have_text(REASON)
    expect(first.get_by_test_id("replay-outcome")).to_have_text("已重放")
    ops.shot("ops-replayed")

    # the page refreshes itself: a message parked now shows without a reload
    park(platform.amqp_uri, QUEUE, [organization_registered("阿尔山市巾帼家政服务站")])
    expect(page.get_by_test_id(f"parked-{QUEUE}")).to_have_text("1 条滞留", timeout=15_000)
    page.get_by_test_id("only-parked").click()
    expect(page.get_by_test_id("dead-letters").locator(".el-table__row")).not_to_have_count(1)
    # the gateway's own queues (the notifications') are there too, named in Chinese
    expect(page.get_by_test_id("dead-letters")).to_contain_text("网关（消息通知）")
    expect(page.get_by_test_id("dead-letters")).to_contain_text(
        "来自项目服务的「里程碑到期提醒」事件"
    )
    expect(page.get_by_test_id("status-gateway_consumers")).to_have_text("正常")
    ops.shot("ops-all-queues")
    assert not ops.errors, ops.errors


def test_admins_see_the_page_and_other_roles_are_turned_away(platform, duty, people):
    boss = people("admin")
    page = boss.login(platform.admin_password)
    menu = page.locator("nav[aria-label=主菜单] .el-menu-item").all_inner_texts()
    assert "系统状态" in [t.strip() for t in menu]
    page.get_by_test_id("menu-ops").click()
    expect(page.get_by_test_id("overall")).to_be_visible()

    finance = people("ops.caiwu")
    fpage = finance.login()
    menu = fpage.locator("nav[aria-label=主菜单] .el-menu-item").all_inner_texts()
    assert "系统状态" not in [t.strip() for t in menu]
    fpage.goto("/ops")
    expect(fpage.get_by_text("不存在或无权查看")).to_be_visible()
    finance.shot("ops-refused-finance")


def test_the_status_page_reads_on_a_phone(duty, people):
    ops = people("zhao.yunwei", viewport={"width": 390, "height": 844})
    page = ops.login()
    expect(page.get_by_test_id("overall")).to_be_visible()
    ops.shot("ops-status-phone")
    assert not ops.errors, ops.errors
