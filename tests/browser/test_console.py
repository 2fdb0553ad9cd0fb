"""The web console in real Chromium, through the UI only: federation staff and a contractor
do their whole job — build part of the hierarchy and read coverage; draft and publish a
project; apply; award with a milestone schedule; report (with an uploaded PDF), reject,
report again, accept; read the delivery report — plus errors shown where they belong, role
menus, an expired session, keyboard-only login, accessibility and Chinese fonts.

Set-up the console has no screen for (logins, funding sources: the admin's and finance's work,
finance screens come later) goes through the API. Screenshots of every main page for each role
land in var/screenshots/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gateway.auth import Tokens
from language.actor import Actor
from tests.browser.conftest import PASSWORD, ROOT, fc_match_chinese

AXE = ROOT / "gateway" / "console" / "node_modules" / "axe-core" / "axe.min.js"
#: a valid USCC (GB 32100-2015) and the same with a wrong check character
SUNSHINE_USCC = "91152201MA0N6XKQ3A"
MISTYPED_USCC = "91152201MA0N6XKQ30"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def wait_for(attempt: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def world(platform, admin) -> dict[str, Any]:
    city = admin.create(
        "/organizations",
        {
            "name": "乌兰浩特市妇女联合会",
            "kind": "federation",
            "level": "city",
            "region_code": "152201",
            "uscc": "91350100M000100Y43",
        },
    )
    admin.create(
        "/users",
        {
            "username": "wang.fang",
            "password": PASSWORD,
            "role": "federation_staff",
            "organization_id": city["id"],
        },
    )
    # a finance officer belongs to her federation (issue #11)
    admin.create(
        "/users",
        {
            "username": "li.caiwu",
            "password": PASSWORD,
            "role": "finance_officer",
            "organization_id": city["id"],
        },
    )
    staff = platform.client(platform.token("wang.fang", PASSWORD))
    finance = platform.client(platform.token("li.caiwu", PASSWORD))
    answer = finance.post(
        "/funding-sources",
        {
            "name": "2027年妇女儿童发展专项资金",
            "kind": "fiscal_special_fund",
            "owner_id": city["id"],
            "fiscal_year": 2027,
            "amount": 200_000_000,
        },
    )
    assert answer.status_code == 202, answer.text
    source = answer.json()
    # an amount at or above the two-officer threshold enters once a second officer confirms it
    admin.create(
        "/users",
        {
            "username": "zhao.caiwu",
            "password": PASSWORD,
            "role": "finance_officer",
            "organization_id": city["id"],
        },
    )
    second = platform.client(platform.token("zhao.caiwu", PASSWORD))
    pending = source["pending_adjustment"]["id"]
    confirmed = second.post(f"/source-adjustments/{pending}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    # another agency, with a login, for "another contractor's contract is a 404"
    spring = staff.create(
        "/organizations",
        {
            "name": "春晖社工服务中心",
            "kind": "service_provider",
            "parent_id": city["id"],
            "uscc": "91440300708461136T",
        },
    )
    admin.create(
        "/users",
        {
            "username": "chunhui.zhang",
            "password": PASSWORD,
            "role": "contractor",
            "organization_id": spring["id"],
        },
    )

    # the projects service hears of the city from the registry's events: wait for it
    def drafted() -> dict:
        response = staff.session.post(
            f"{staff.base_url}/projects",
            json={
                "title": "2026年家庭教育讲座",
                "category": "family_education",
                "model": "self_run",
                "funding_source_id": source["id"],
                "budget": 1_000_000,
                "starts_on": "2027-01-01",
                "ends_on": "2027-06-30",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    old = wait_for(drafted)
    staff.post(f"/projects/{old['id']}/cancel", json={"reason": "活动合并到春季项目"})
    return {"city": city, "source": source, "staff": staff, "admin": admin, "spring": spring}


def choose(page: Page, label: str, option: str) -> None:
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):  # a click during the last drop-down's closing transition may be lost
        page.get_by_label(label, exact=True).click(force=True)
        try:
            expect(choice).to_be_visible(timeout=3_000)
            break
        except AssertionError:
            continue
    choice.click()
    page.wait_for_timeout(300)  # the drop-down's closing transition


def confirm(page: Page, button: str) -> None:
    box = page.locator(".el-message-box")
    expect(box).to_be_visible()
    box.get_by_role("button", name=button).click()


def toast(page: Page, text: str) -> None:
    expect(page.locator(".el-message").filter(has_text=text).first).to_be_visible()


def run_axe(page: Page) -> list[dict]:
    page.evaluate(AXE.read_text())  # evaluate, not a <script> tag: the CSP refuses inline code
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in result if v["impact"] == "critical"]


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_staff_and_contractor_do_their_whole_job(world, people, admin):
    staff = people("wang.fang")
    page = staff.login()
    expect(page).to_have_url(re.compile(r"/workbench$"))  # every role lands on its workbench

    # --- 组织架构: part of the hierarchy, a provider with a USCC checked on the field
    page.get_by_test_id("menu-organizations").click()
    page.get_by_test_id("org-tree").get_by_text("乌兰浩特市妇女联合会").click()
    expect(page.get_by_test_id("org-name")).to_have_text("乌兰浩特市妇女联合会")
    staff.shot("staff-organizations")

    def register(name: str, kind: str, **fields: str) -> None:
        page.get_by_role("button", name="新增下级组织").click()
        dialog = page.get_by_role("dialog", name="新增下级组织")
        dialog.get_by_label("名称").fill(name)
        choose(page, "类型", kind)
        for label, value in fields.items():
            if label in ("层级", "领域"):
                choose(page, label, value)
            else:
                dialog.get_by_label(label).fill(value)
        dialog.get_by_role("button", name="登记").click()

    register("兴安经济技术开发区妇联", "妇联", 层级="县级")
    toast(page, "已登记")
    expect(page.get_by_test_id("org-name")).to_have_text("兴安经济技术开发区妇联")
    register("兴安盟鸿达建材有限公司", "建会单位", 领域="非公有制企业")
    expect(page.get_by_test_id("org-name")).to_have_text("兴安盟鸿达建材有限公司")
    register("鸿达建材妇委会", "妇女组织")
    expect(page.get_by_test_id("org-name")).to_have_text("鸿达建材妇委会")

    page.get_by_test_id("org-tree").get_by_text("乌兰浩特市妇女联合会").click()
    expect(page.get_by_test_id("org-name")).to_have_text("乌兰浩特市妇女联合会")
    # a mistyped USCC: the rule's Chinese message under the field, nothing registered
    register("阳光社会工作服务中心", "社会服务机构", 统一社会信用代码=MISTYPED_USCC)
    dialog = page.get_by_role("dialog", name="新增下级组织")
    expect(dialog.locator(".el-form-item__error")).to_have_text("统一社会信用代码校验位不正确")
    staff.shot("staff-422-uscc")
    dialog.get_by_label("统一社会信用代码").fill(SUNSHINE_USCC)
    dialog.get_by_role("button", name="登记").click()
    expect(page.get_by_test_id("org-name")).to_have_text("阳光社会工作服务中心")
    page.get_by_role("button", name="核验").click()
    page.get_by_role("dialog", name="核验组织").get_by_role("button", name="确认核验").click()
    expect(page.get_by_test_id("org-status")).to_have_text("已核验")
    expect(page.get_by_test_id("org-history")).to_contain_text("已登记 → 已核验")
    staff.shot("staff-organization-history")

    # --- 组建率: the new enterprise has its women's organization
    page.get_by_test_id("menu-coverage").click()
    expect(page.get_by_test_id("coverage-table")).to_contain_text("非公有制企业")
    expect(
        page.get_by_test_id("coverage-table").get_by_role("row", name=re.compile("非公有制企业"))
    ).to_contain_text("100%")
    expect(page.get_by_test_id("coverage-total")).to_contain_text("100%（1 / 1）")
    staff.shot("staff-coverage")

    # the agency's login (user administration is the admin's, through the API)
    sunshine = admin.get("/organizations", params={"q": "阳光社会工作"}).json()["items"][0]
    admin.create(
        "/users",
        {
            "username": "yangguang.li",
            "password": PASSWORD,
            "role": "contractor",
            "organization_id": sunshine["id"],
        },
    )

    # --- 项目管理: draft, publish
    page.get_by_test_id("menu-projects").click()
    page.get_by_role("button", name="新增项目").click()
    expect(page).to_have_url(re.compile(r"/projects/new$"))
    page.get_by_label("项目名称").fill("2027年单亲母亲家庭关爱服务项目")
    page.get_by_label("项目简介").fill("为城区单亲母亲家庭提供心理疏导、就业指导和子女课业辅导。")
    choose(page, "服务类别", "单亲母亲家庭服务")
    choose(page, "资金来源", "2027年妇女儿童发展专项资金（财政专项，2027 年度）")
    page.get_by_label("预算（元）").fill("100000.30")
    expect(page.get_by_text("即 ¥100,000.30")).to_be_visible()
    page.get_by_label("开始日期").fill("2027-01-01")
    page.get_by_label("开始日期").press("Enter")
    page.get_by_label("结束日期").fill("2027-12-31")
    page.get_by_label("结束日期").press("Enter")
    page.get_by_label("目标受益人数").fill("100")
    page.get_by_role("button", name="添加指标").click()
    page.get_by_label("指标 1 名称").fill("心理疏导")
    page.get_by_label("目标值").fill("200")
    page.get_by_label("单位").fill("人次")
    staff.shot("staff-project-form")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_test_id("project-status")).to_have_text("草稿")
    expect(page.get_by_text("¥100,000.30")).to_be_visible()
    page.get_by_role("button", name="发布").click()
    confirm(page, "发布")
    expect(page.get_by_test_id("project-status")).to_have_text("已发布")
    project_url = page.url

    page.get_by_test_id("menu-projects").click()
    page.get_by_role("textbox", name="项目名称").fill("單親")  # traditional characters find it too
    page.get_by_role("button", name="搜索").click()
    expect(page).to_have_url(re.compile(r"q=%E5%96%AE"))
    expect(page.get_by_test_id("project-table")).to_contain_text("2027年单亲母亲家庭关爱服务项目")
    expect(page.get_by_test_id("total")).to_have_text("共 1 条")
    page.get_by_role("button", name="重置").click()
    # her line's projects and every published one (other tests of the session publish too)
    listed = world["staff"].get("/projects").json()["total"]
    expect(page.get_by_test_id("total")).to_have_text(f"共 {listed} 条")
    staff.shot("staff-projects")

    # --- a contractor applies
    agency = people("yangguang.li")
    cpage = agency.login()
    expect(cpage).to_have_url(re.compile(r"/workbench$"))
    cpage.get_by_role("menuitem", name="可申报项目").click()
    expect(cpage).to_have_url(re.compile(r"/market$"))
    agency.shot("contractor-market")
    cpage.get_by_text("2027年单亲母亲家庭关爱服务项目").click()
    cpage.get_by_role("button", name="申报").click()
    cpage.get_by_label("申报金额（元）").fill("90000.20")
    cpage.get_by_label("服务方案").fill("组建6人社工团队，每月入户走访，开设亲子课堂。")
    cpage.get_by_role("button", name="提交申报").dblclick()  # a double click applies once
    toast(cpage, "申报已提交")
    cpage.get_by_test_id("menu-applications").click()
    expect(cpage.get_by_test_id("application-table")).to_contain_text("¥90,000.20")
    expect(cpage.get_by_test_id("application-table")).to_contain_text("已申报")
    expect(cpage.get_by_test_id("total")).to_have_text("共 1 条")
    agency.shot("contractor-applications")

    # --- staff award with a schedule whose tranches must add up
    page.goto(project_url)
    card = page.locator("[data-test^=application-]")
    expect(card).to_have_count(1)
    staff.shot("staff-project-applications")
    card.get_by_role("button", name="选定并立项签约").click()
    award = page.get_by_role("dialog", name="立项签约")
    expect(award.get_by_label("合同金额（元）")).to_have_value("90000.20")
    award.get_by_label("第 1 期名称").fill("前期走访建档")
    award.get_by_label("第 1 期名称").press("Tab")
    award.get_by_label("到期日").first.fill("2027-04-30")
    award.get_by_label("到期日").first.press("Enter")
    award.get_by_label("拨付金额（元）").first.fill("0.1")
    award.get_by_role("button", name="添加一期").click()
    award.get_by_label("第 2 期名称").fill("服务实施与总结")
    award.get_by_label("到期日").nth(1).fill("2027-12-15")
    award.get_by_label("到期日").nth(1).press("Enter")
    award.get_by_label("拨付金额（元）").nth(1).fill("0.2")
    expect(page.get_by_test_id("tranche-sum")).to_contain_text("各期合计 ¥0.30")
    expect(award.get_by_role("button", name="确认立项")).to_be_disabled()
    award.get_by_label("拨付金额（元）").first.fill("45000.10")
    award.get_by_label("拨付金额（元）").nth(1).fill("45000.10")
    expect(page.get_by_test_id("tranche-sum")).to_contain_text("已相符")
    staff.shot("staff-award-schedule")
    award.get_by_role("button", name="确认立项").click()
    confirm(page, "确认立项")
    expect(page).to_have_url(re.compile(r"/contracts/[0-9a-f-]+$"))
    contract_url = page.url
    expect(page.get_by_test_id("ms-status-1")).to_have_text("待提交")

    # --- the contractor reports, with evidence uploaded from the browser
    cpage.get_by_test_id("menu-contracts").click()
    expect(cpage.get_by_test_id("menu-contracts")).to_have_text("我的合同")
    cpage.get_by_test_id("contract-table").get_by_role("link").first.click()
    expect(cpage.get_by_test_id("ms-status-1")).to_have_text("待提交")

    def report(summary: str, served: str) -> None:
        cpage.get_by_role("button", name=re.compile("提交阶段报告$")).first.click()
        dialog = cpage.get_by_role("dialog", name="提交阶段报告")
        dialog.get_by_label("工作小结").fill(summary)
        dialog.get_by_label("本期服务人数").fill(served)
        dialog.get_by_label("本期完成：心理疏导（人次）").fill("60")
        dialog.locator("#evidence-input").set_input_files(
            {"name": "走访记录.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        expect(dialog.get_by_text("已上传")).to_be_visible()
        agency.shot("contractor-report-form")
        dialog.get_by_role("button", name="提交阶段报告").click()
        toast(cpage, "阶段报告已提交")

    report("完成42户单亲母亲家庭入户走访并建档。", "42")
    expect(cpage.get_by_test_id("ms-status-1")).to_have_text("待验收")

    # --- staff open the file, reject with a reason
    page.goto(contract_url)
    expect(page.get_by_test_id("ms-status-1")).to_have_text("待验收")
    with page.expect_download() as download:
        page.get_by_role("button", name="打开佐证材料 走访记录.pdf").click()
    assert download.value.suggested_filename == "走访记录.pdf"
    assert Path(download.value.path()).read_bytes() == PDF
    page.get_by_role("button", name="退回").click()
    page.get_by_role("dialog", name="退回阶段报告").get_by_label("退回原因").fill(
        "缺少入户走访照片，请补充。"
    )
    page.get_by_role("button", name="确认退回").click()
    expect(page.get_by_test_id("ms-status-1")).to_have_text("已退回")

    # --- the contractor sees why and reports again; staff accept
    cpage.reload()
    expect(cpage.get_by_test_id("reject-reason")).to_contain_text("缺少入户走访照片")
    agency.shot("contractor-contract-rejected")
    report("补充了入户走访照片，共42户。", "42")
    page.reload()
    page.get_by_role("button", name="验收通过").click()
    expect(page.locator(".el-message-box")).to_contain_text(
        "验收后将自动发起 ¥45,000.10 的拨付申请"
    )
    confirm(page, "验收通过")
    expect(page.get_by_test_id("ms-status-1")).to_have_text("验收通过")
    # the tranche's disbursement is opened by funding (an event away): the page follows it
    # without a reload, from "拨付单生成中" to the approval queue
    expect(page.get_by_test_id("pay-status-1")).to_have_text("待审批", timeout=20_000)

    # --- the delivery report shows the figures
    delivery = page.get_by_test_id("delivery-table")
    expect(delivery.get_by_role("row", name=re.compile("受益人数"))).to_contain_text("42")
    expect(delivery.get_by_role("row", name=re.compile("心理疏导"))).to_contain_text("60")
    expect(delivery.get_by_role("row", name=re.compile("心理疏导"))).to_contain_text("30%")
    staff.shot("staff-contract")
    with page.expect_download() as ocds:
        page.get_by_role("button", name="下载 OCDS 数据包").click()
    assert b'"ocid"' in Path(ocds.value.path()).read_bytes()

    cpage.reload()
    expect(cpage.get_by_test_id("ms-status-1")).to_have_text("验收通过")
    agency.shot("contractor-contract")
    page.get_by_test_id("menu-contracts").click()
    expect(page.get_by_test_id("contract-table")).to_contain_text("已验收 1 / 2")
    staff.shot("staff-contracts")

    # --- another contractor's contract is a 404 page with the way back
    other = people("chunhui.zhang")
    opage = other.login()
    opage.goto(contract_url)
    expect(opage.get_by_text("不存在或无权查看")).to_be_visible()
    expect(opage.get_by_role("button", name="返回上一页")).to_be_visible()
    other.shot("contractor-other-contract-404")

    # --- the contractor at a phone's width
    phone = people("yangguang.li", viewport={"width": 390, "height": 844}, is_mobile=True)
    ppage = phone.login()
    ppage.goto(contract_url)
    expect(ppage.get_by_test_id("ms-status-1")).to_have_text("验收通过")
    assert no_horizontal_overflow(ppage)
    phone.shot("contractor-phone-contract")
    ppage.get_by_role("button", name="打开菜单").click()
    expect(ppage.get_by_test_id("menu-market")).to_be_visible()

    assert not staff.errors and not agency.errors, (staff.errors, agency.errors)


def test_a_409_names_the_current_state(world, people):
    staff_api = world["staff"]
    project = staff_api.create(
        "/projects",
        {
            "title": "春蕾女童助学（冲突演示）",
            "category": "spring_bud_girls_schooling",
            "model": "commissioned",
            "funding_source_id": world["source"]["id"],
            "budget": 5_000_000,
            "starts_on": "2027-03-01",
            "ends_on": "2027-09-30",
        },
    )
    staff = people("wang.fang")
    page = staff.login()
    page.goto(f"/projects/{project['id']}")
    expect(page.get_by_test_id("project-status")).to_have_text("草稿")
    # a colleague publishes it meanwhile
    staff_api.post(f"/projects/{project['id']}/publish")
    page.get_by_role("button", name="发布").click()
    confirm(page, "发布")
    toast(page, "该项目当前状态为「已发布」，不能进行此操作")
    # and the page shows the state the message names
    expect(page.get_by_test_id("project-status")).to_have_text("已发布")
    staff.shot("staff-409")


def test_each_role_sees_its_own_menu(world, people):
    staff = people("wang.fang").login()
    agency = people("chunhui.zhang").login()
    menu = lambda page: page.locator("nav[aria-label=主菜单] .el-menu-item").all_inner_texts()  # noqa: E731
    assert [t.strip() for t in menu(staff)] == [
        "工作台",
        "里程碑",
        "组织架构",
        "组建率",
        "项目管理",
        "合同与里程碑",
        # read-only: their line's money (issue #13)
        "资金来源",
        "资金台账",
        "资金报表",
        "志愿服务队",
        "志愿者",
        "批量导入",
        "志愿活动",
        "服务时长核验",
        "服务时长报表",
        "目标考核",
    ]
    assert [t.strip() for t in menu(agency)] == [
        "工作台",
        "我的里程碑",
        "可申报项目",
        "我的申报",
        "我的合同",
    ]
    agency.goto("/organizations")
    expect(agency.get_by_text("不存在或无权查看")).to_be_visible()


def test_an_expired_session_returns_to_login_saying_so(world, people, platform):
    person = people("wang.fang")
    page = person.login()
    me = world["staff"].get("/users/me").json()
    expired = Tokens(platform.jwt_secret, -120).issue(
        Actor(
            user_id=me["id"],
            username=me["username"],
            role=me["role"],
            organization_id=me["organization_id"],
        )
    )
    page.evaluate(
        """token => {
            const s = JSON.parse(sessionStorage.getItem('jinguo.session'));
            s.token = token;
            sessionStorage.setItem('jinguo.session', JSON.stringify(s));
        }""",
        expired,
    )
    page.goto("/projects")
    expect(page).to_have_url(re.compile(r"/login\?expired=1"))
    expect(page.get_by_role("alert")).to_contain_text("登录已过期，请重新登录")
    person.shot("login-expired")
    # logging in again returns to where she was
    page.get_by_label("用户名").fill("wang.fang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/projects$"))


def test_keyboard_alone_logs_in_and_out(world, people):
    person = people("wang.fang")
    page = person.page
    page.goto("/login")
    person.shot("login")
    page.keyboard.press("Tab")
    expect(page.get_by_label("用户名")).to_be_focused()
    page.keyboard.type("wang.fang")
    page.keyboard.press("Tab")
    expect(page.get_by_label("密码")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("who")).to_contain_text("wang.fang")
    page.get_by_role("button", name="退出登录").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_a_wrong_password_is_said_in_chinese(world, people):
    page = people("wang.fang").page
    page.goto("/login")
    page.get_by_label("用户名").fill("wang.fang")
    page.get_by_label("密码").fill("not-the-password-1")
    page.get_by_role("button", name="登录").click()
    toast(page, "用户名或密码不正确")


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        ("wang.fang", ["/organizations", "/coverage", "/projects", "/projects/new", "/contracts"]),
        ("chunhui.zhang", ["/market", "/applications", "/contracts"]),
    ],
)
def test_main_pages_have_no_critical_accessibility_violation(world, people, username, paths):
    person = people(username)
    page = person.login()
    for path in paths:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert run_axe(page) == [], path
    page.goto("/login")  # still logged in: the login page itself
    assert run_axe(page) == []


def test_chinese_renders_in_a_cjk_font_not_as_boxes(people):
    assert "CJK" in fc_match_chinese() or "WenQuanYi" in fc_match_chinese()
    page = people("nobody").page
    page.goto("/login")
    heading = page.get_by_role("heading", name=re.compile("巾帼"))
    expect(heading).to_be_visible()
    # the font Chromium actually drew the heading's glyphs with
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    families = {f["familyName"]: f["glyphCount"] for f in fonts}
    cjk = {
        name: count for name, count in families.items() if re.search("CJK|WenQuanYi|Hei|Song", name)
    }
    chinese_glyphs = len(re.findall(r"[\u4e00-\u9fff]", heading.inner_text()))
    assert cjk and sum(cjk.values()) >= chinese_glyphs, families


def test_a_long_list_counts_every_page_and_sorts_on_the_server(people, platform, admin):
    """25 projects, 20 to a page: the first page already says 共 25 条, and a click on a
    sortable header orders the whole list, not just the page in view."""
    city = admin.create(
        "/organizations", {"name": "兴安盟妇女联合会", "kind": "federation", "level": "city"}
    )
    for username, role in (("sort.staff", "federation_staff"), ("sort.caiwu", "finance_officer")):
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": city["id"],
            },
        )
    finance = platform.client(platform.token("sort.caiwu", PASSWORD))
    source = wait_for(
        lambda: finance.create(
            "/funding-sources",
            {
                "name": "2027年兴安盟专项资金",
                "kind": "fiscal_special_fund",
                "owner_id": city["id"],
                "fiscal_year": 2027,
                "amount": 9_000_000,  # below the two-officer threshold: it enters at once
            },
        )
    )
    staff = platform.client(platform.token("sort.staff", PASSWORD))
    for name in ("乌兰哈达社区", "爱国社区", "兴安社区"):
        staff.create(
            "/organizations",
            {"name": name, "kind": "host_unit", "sector": "community", "parent_id": city["id"]},
        )
    # budgets out of step with creation order: ¥1,000 (the first drafted, so on page 2 of the
    # newest-first default) up to ¥25,000 (the eighth drafted)
    budgets = {n: ((n * 7) % 25 + 1) * 100_000 for n in range(25)}
    for n, budget in budgets.items():
        wait_for(
            lambda n=n, budget=budget: staff.create(
                "/projects",
                {
                    "title": f"排序测试项目{n:02d}",
                    "category": "family_education",
                    "model": "self_run",
                    "funding_source_id": source["id"],
                    "budget": budget,
                    "starts_on": "2027-01-01",
                    "ends_on": "2027-06-30",
                },
            )
        )
    person = people("sort.staff")
    page = person.login()
    page.goto("/projects?q=排序测试")
    table = page.get_by_test_id("project-table")
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(page.get_by_test_id("total")).to_have_text("共 25 条")
    expect(page.get_by_test_id("page-of")).to_have_text("第 1 / 2 页")
    expect(table.locator("tbody tr").first).to_contain_text("排序测试项目24")
    person.shot("staff-projects-paged")

    page.locator(".el-table__header th", has_text="预算").click()
    expect(page).to_have_url(re.compile(r"sort=budget"))
    expect(table.locator("tbody tr").first).to_contain_text("排序测试项目00")
    expect(table.locator("tbody tr").first).to_contain_text("¥1,000.00")
    expect(page.get_by_test_id("total")).to_have_text("共 25 条")
    page.get_by_role("button", name="下一页").click()
    expect(page.get_by_test_id("page-of")).to_have_text("第 2 / 2 页")
    expect(table.locator("tbody tr")).to_have_count(5)
    expect(table.locator("tbody tr").last).to_contain_text("排序测试项目07")
    expect(table.locator("tbody tr").last).to_contain_text("¥25,000.00")
    expect(page.get_by_test_id("total")).to_have_text("共 25 条")
    person.shot("staff-projects-sorted-page-2")

    page.locator(".el-table__header th", has_text="预算").click()  # now the dearest first
    expect(page).to_have_url(re.compile(r"sort=-budget"))
    expect(page.get_by_test_id("page-of")).to_have_text("第 1 / 2 页")
    expect(table.locator("tbody tr").first).to_contain_text("¥25,000.00")
    page.go_back()  # the URL keeps the order and the page
    expect(page.get_by_test_id("page-of")).to_have_text("第 2 / 2 页")
    expect(table.locator("tbody tr").last).to_contain_text("排序测试项目07")

    # the organization search is a list of its own: counted, and ordered by the server
    page.get_by_test_id("menu-organizations").click()
    page.get_by_label("组织名称").fill("社区")
    page.get_by_role("button", name="搜索").click()
    results = page.get_by_test_id("org-results")
    expect(results.get_by_test_id("total")).to_have_text("共 3 条")
    expect(results.locator("tbody tr").first).to_contain_text("乌兰哈达社区")  # by name
    results.locator(".el-table__header th", has_text="登记时间").click()
    expect(page).to_have_url(re.compile(r"sort=created_at"))
    expect(results.locator("tbody tr").first).to_contain_text("乌兰哈达社区")
    results.locator(".el-table__header th", has_text="登记时间").click()
    expect(page).to_have_url(re.compile(r"sort=-created_at"))
    expect(results.locator("tbody tr").first).to_contain_text("兴安社区")
    person.shot("staff-organization-search")
