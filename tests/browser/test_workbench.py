"""Each role logs in and lands on its workbench (工作台): the cards show the figures of a
federation with known numbers (``tests.support.workbench_world``), and a click on a figure
opens the list behind it, which shows the same number (共 N 条). Ops land on /ops. Screenshots
of each role's workbench and of the lists opened from it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.support.workbench_world import EXPECTED, WorkbenchWorld


@pytest.fixture(scope="module")
def world(platform, admin) -> WorkbenchWorld:
    built = WorkbenchWorld(platform, admin, PASSWORD, prefix="gongzuotai").build()
    admin.create("/users", {"username": "gongzuotai.ops", "password": PASSWORD, "role": "ops"})
    return built


def landed(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/workbench$"))
    expect(page.get_by_test_id("workbench")).to_be_visible()
    expect(page.locator(".el-loading-mask")).to_have_count(0)


def figure(page: Page, name: str):
    return page.get_by_test_id(f"figure-{name}")


def follow(page: Page, name: str, path: str, total: int) -> None:
    """Click a figure: the list behind it opens with its filters and says 共 N 条."""
    # the figure, or a status's count beside its name ("2已立项")
    expect(figure(page, name)).to_have_text(re.compile(rf"^{total}(\D.*)?$"))
    figure(page, name).click()
    expect(page).to_have_url(re.compile(rf"{re.escape(path)}\?"))
    expect(page.locator(".pager")).to_contain_text(f"共 {total} 条")


def test_federation_staff_land_on_their_workbench_and_follow_a_figure(world, people):
    staff = people(world.usernames["staff"])
    page = staff.login()
    landed(page)
    want = EXPECTED["staff"]
    expect(figure(page, "milestones_overdue")).to_have_text(str(want["milestones_overdue"]))
    expect(figure(page, "projects-awarded")).to_have_text("2已立项")
    expect(figure(page, "coverage")).to_have_text("50%")
    expect(figure(page, "hours_pending")).to_have_text("1")
    expect(page.get_by_test_id("card-money")).to_contain_text("¥120,000.00")
    expect(page.get_by_test_id("card-reports")).to_contain_text("单亲母亲家庭服务 · 第 1 期 开班")
    staff.shot("workbench-federation-staff")
    follow(page, "reports_awaiting_decision", "/milestones", want["reports_awaiting_decision"])
    expect(page.get_by_test_id("milestone-table")).to_contain_text("单亲母亲家庭服务")
    staff.shot("workbench-staff-milestones")
    page.go_back()
    landed(page)
    follow(page, "projects-awarded", "/projects", 2)
    expect(page.get_by_test_id("filter-within")).to_be_visible()
    staff.shot("workbench-staff-projects")
    assert staff.errors == []


def test_finance_lands_on_the_queue_payments_and_low_sources(world, people):
    officer = people(world.usernames["officer"])
    page = officer.login()
    landed(page)
    expect(page.get_by_test_id("card-queue")).to_contain_text("¥4,000.00")
    expect(page.get_by_test_id("card-payments")).to_contain_text("¥3,000.00")
    expect(page.get_by_test_id("card-low")).to_contain_text("城东区巾帼关爱资金")
    expect(page.get_by_test_id("card-low")).to_contain_text("¥50,000.00")
    officer.shot("workbench-finance-officer")
    follow(page, "approval_queue", "/approvals", 1)
    page.go_back()
    landed(page)
    follow(page, "payments_this_month", "/payments", 1)
    expect(page.get_by_test_id("filter-paid-dates")).to_be_visible()
    expect(page.get_by_test_id("payment-table")).to_contain_text("QZ-BANK-0001")
    officer.shot("workbench-finance-payments")
    page.go_back()
    landed(page)
    follow(page, "sources_low", "/funding-sources", 1)
    officer.shot("workbench-finance-low-sources")
    assert officer.errors == []


def test_a_contractor_lands_on_its_contracts_and_milestones(world, people):
    contractor = people(world.usernames["contractor"])
    page = contractor.login()
    landed(page)
    want = EXPECTED["contractor"]
    active = want["contracts_active"]
    expect(figure(page, "contracts-active")).to_have_text(f"{active}履行中")
    expect(page.get_by_test_id("card-paid")).to_contain_text("¥3,000.00")
    contractor.shot("workbench-contractor")
    follow(page, "reports_rejected", "/milestones", want["reports_rejected"])
    expect(page.get_by_test_id("milestone-table")).to_contain_text("家长课堂")
    contractor.shot("workbench-contractor-rejected")
    assert contractor.errors == []


def test_a_team_leader_lands_on_her_teams_activities_and_hours(world, people):
    leader = people(world.usernames["leader"])
    page = leader.login()
    landed(page)
    expect(figure(page, "hours_this_month")).to_have_text("1")
    expect(page.get_by_test_id("card-activities")).to_contain_text("已报名 1 / 5")
    leader.shot("workbench-team-leader")
    follow(page, "upcoming_activities", "/activities", EXPECTED["leader"]["upcoming_activities"])
    leader.shot("workbench-leader-activities")
    page.go_back()
    landed(page)
    follow(page, "hours_pending", "/service-hours", 1)
    assert leader.errors == []


def test_an_admin_lands_on_the_whole_platforms_workbench_and_ops_on_ops(world, people, platform):
    admin = people("admin")
    page = admin.login(platform.admin_password)
    landed(page)
    expect(page.get_by_test_id("card-coverage")).to_contain_text("全平台")
    admin.shot("workbench-admin")
    assert admin.errors == []
    # a federation with nothing yet: every card says what is missing and where to start
    newcomer = people(world.usernames["other_staff"])
    page = newcomer.login()
    landed(page)
    expect(page.get_by_test_id("card-reports")).to_contain_text("没有等待验收的阶段报告")
    expect(page.get_by_test_id("card-money")).to_contain_text("本年度还没有资金来源")
    expect(page.get_by_test_id("card-coverage")).to_contain_text("尚未登记建会单位")
    newcomer.shot("workbench-new-federation")
    ops = people("gongzuotai.ops")
    page = ops.login()
    expect(page).to_have_url(re.compile(r"/ops$"))
    ops.shot("workbench-ops-lands-on-ops")
