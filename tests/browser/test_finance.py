"""Finance staff in real Chromium, through the console: a source is created and its large
initial amount confirmed by a second officer, topped up; disbursements arrive once milestones
are accepted; one officer approves, a second approves the large contract's tranche (and the
first is told why she may not approve twice, nor pay what she approved), a third pays with a
bank reference (a reused one refused on its field); a suspended provider's money shows held
with the reason; the journal and the source's figures add up on screen; the journal's CSV
downloads; the monthly report and the per-contract money read as the books do.

What the console has no screen for here (the hierarchy, logins, projects up to accepted
milestones: staff and contractors' work, covered by test_console.py) goes through the API.
Screenshots of every finance page land in var/screenshots/ (finance-*.png).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_console import choose, confirm, toast, wait_for

CITY = "兴安盟科尔沁右翼前旗妇女联合会"
SOURCE = "2027年妇女儿童发展专项资金"
EVIDENCE = [
    {"name": "活动签到表.pdf", "type": "document", "url": "https://files.example.org/s.pdf"}
]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def books(platform, admin) -> dict[str, Any]:
    """A county federation with its staff, three finance officers and two verified providers
    (each with a contractor login)."""
    city = admin.create("/organizations", {"name": CITY, "kind": "federation", "level": "county"})
    users = {
        "chen.ganshi": ("federation_staff", city["id"]),
        "qian.kuaiji": ("finance_officer", city["id"]),
        "sun.chuna": ("finance_officer", city["id"]),
        "zhou.caiwu": ("finance_officer", city["id"]),
    }
    for username, (role, organization) in users.items():
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": organization,
            },
        )
    staff = platform.client(platform.token("chen.ganshi", PASSWORD))
    providers = {}
    for name, login in (
        ("阳光社工服务中心", "kqyq.yangguang"),
        ("春苗家政培训学校", "kqyq.chunmiao"),
    ):
        provider = staff.create(
            "/organizations",
            {"name": name, "kind": "service_provider", "parent_id": city["id"]},
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
        providers[name] = (provider, platform.client(platform.token(login, PASSWORD)))
    officer = platform.client(platform.token("zhou.caiwu", PASSWORD))
    return {"city": city, "staff": staff, "providers": providers, "officer": officer}


def deliver_first_milestone(
    books: dict[str, Any], source_id: str, title: str, provider: str, milestones: list[dict]
) -> dict[str, Any]:
    """Draft, publish, apply, award; the contractor reports milestone 1 and staff accept it."""
    staff = books["staff"]
    payee, contractor = books["providers"][provider]
    amount = sum(m["amount"] for m in milestones)

    def drafted() -> dict:
        return ok(
            staff.post(
                "/projects",
                {
                    "title": title,
                    "category": "family_education",
                    "model": "commissioned",
                    "funding_source_id": source_id,
                    "budget": amount,
                    "starts_on": "2027-03-01",
                    "ends_on": "2027-12-31",
                    "target_beneficiaries": 300,
                },
            ),
            201,
        )

    project = wait_for(drafted)
    ok(staff.post(f"/projects/{project['id']}/publish"))

    def applied() -> dict:
        return ok(
            contractor.post(
                f"/projects/{project['id']}/applications",
                {"provider_id": payee["id"], "amount": amount, "proposal": "服务方案"},
            ),
            201,
        )

    application = wait_for(applied)
    contract = ok(
        staff.post(
            f"/projects/{project['id']}/award",
            {"application_id": application["id"], "milestones": milestones},
        ),
        201,
    )
    first = contract["milestones"][0]
    path = f"/contracts/{contract['id']}/milestones/{first['id']}"
    ok(
        contractor.post(
            f"{path}/reports",
            {
                "summary": f"{title}：第一期服务已完成，共开展讲座 8 场",
                "beneficiaries_served": 160,
                "evidence": EVIDENCE,
            },
        ),
        201,
    )
    ok(staff.post(f"{path}/accept"))
    return contract


def disbursement_of(books: dict[str, Any], contract_id: str, status: str) -> dict[str, Any]:
    def found() -> dict:
        items = ok(books["officer"].get("/disbursements", params={"status": status}))["items"]
        mine = [d for d in items if d["contract_id"] == contract_id]
        assert mine, f"no {status} disbursement of {contract_id} yet"
        return mine[0]

    return wait_for(found, timeout=60)


def today_in_china() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def open_menu(page: Page, name: str) -> None:
    page.get_by_test_id(f"menu-{name}").click()


def approve(page: Page, disbursement_id: str) -> None:
    page.get_by_test_id(f"approve-{disbursement_id}").click()
    confirm(page, "审批通过")


def test_finance_officers_fund_approve_and_pay_and_the_books_add_up(books, people, platform):
    # --- 资金来源: a large initial amount waits for a second officer ------------------------
    qian = people("qian.kuaiji")
    page = qian.login()
    expect(page).to_have_url(re.compile(r"/workbench$"))  # every role lands on its workbench
    open_menu(page, "funding-sources")
    expect(page).to_have_url(re.compile(r"/funding-sources$"))
    page.get_by_test_id("new-source").click()
    dialog = page.get_by_role("dialog", name="新增资金来源")
    dialog.get_by_label("名称").fill(SOURCE)
    dialog.get_by_label("年度").fill("2027")
    dialog.get_by_label("初始金额（元）").fill("abc")
    dialog.get_by_role("button", name="保存").click()
    expect(dialog).to_contain_text("请输入金额（元），最多两位小数")
    dialog.get_by_label("初始金额（元）").fill("500,000.00")
    dialog.get_by_role("button", name="保存").click()
    toast(page, "待另一位财务人员确认后入账")
    table = page.get_by_test_id("source-table")
    expect(table).to_contain_text(SOURCE)
    expect(table).to_contain_text("¥0.00")  # nothing in the journal yet
    pending = page.get_by_test_id("pending-adjustments")
    expect(pending).to_contain_text("¥500,000.00")
    expect(pending.get_by_test_id("own-adjustment")).to_have_text("等待另一位财务人员确认")
    # the rule in force, as the funding service has it (its default: 100,000 yuan)
    expect(pending).to_contain_text("金额达到 ¥100,000.00 及以上")
    qian.shot("finance-sources-pending")

    sun = people("sun.chuna")
    spage = sun.login()
    open_menu(spage, "funding-sources")
    pending = spage.get_by_test_id("pending-adjustments")
    expect(pending).to_contain_text("qian.kuaiji")
    pending.get_by_role("button", name="确认入账").click()
    confirm(spage, "确认入账")
    toast(spage, "已确认入账")
    expect(spage.get_by_test_id("source-table")).to_contain_text("¥500,000.00")

    # a top-up below the threshold enters at once
    page.reload()
    page.get_by_test_id(f"adjust-{SOURCE}").click()
    adjust = page.get_by_role("dialog", name=f"追加或调减：{SOURCE}")
    adjust.get_by_label("金额（元）").fill("20000")
    adjust.get_by_label("原因").fill("追加下达第二批专项资金")
    adjust.get_by_role("button", name="提交").click()
    confirm(page, "确认追加")
    toast(page, "已追加 ¥20,000.00")
    expect(page.get_by_test_id("source-table")).to_contain_text("¥520,000.00")
    qian.shot("finance-sources")

    # --- milestones accepted (staff and contractors' work, through the API) -----------------
    source_id = ok(books["officer"].get("/funding-sources"))["items"][0]["id"]
    small = deliver_first_milestone(
        books,
        source_id,
        "社区家庭教育讲座",
        "阳光社工服务中心",
        [{"title": "讲座实施", "due_on": "2027-06-30", "amount": 5_000_000}],
    )
    large = deliver_first_milestone(
        books,
        source_id,
        "单亲母亲家庭关爱服务",
        "阳光社工服务中心",
        [
            {"title": "建档走访", "due_on": "2027-06-30", "amount": 10_000_000},
            {"title": "个案服务", "due_on": "2027-11-30", "amount": 10_000_000},
        ],
    )
    held = deliver_first_milestone(
        books,
        source_id,
        "家政育婴技能培训",
        "春苗家政培训学校",
        [{"title": "培训结业", "due_on": "2027-06-30", "amount": 3_000_000}],
    )
    doubtful = deliver_first_milestone(
        books,
        source_id,
        "妇女健康知识宣讲",
        "阳光社工服务中心",
        [{"title": "宣讲实施", "due_on": "2027-06-30", "amount": 1_000_000}],
    )
    d_small = disbursement_of(books, small["id"], "pending")
    d_large = disbursement_of(books, large["id"], "pending")
    d_doubtful = disbursement_of(books, doubtful["id"], "pending")
    disbursement_of(books, held["id"], "pending")
    spring = books["providers"]["春苗家政培训学校"][0]
    ok(books["staff"].post(f"/organizations/{spring['id']}/suspend", {"reason": "年检不合格"}))
    d_held = disbursement_of(books, held["id"], "held")

    # --- 待审批: oldest first, with what the report said --------------------------------------
    open_menu(page, "approvals")
    queue = page.get_by_test_id("queue-table")
    expect(queue).to_contain_text("社区家庭教育讲座")
    expect(queue).to_contain_text("单亲母亲家庭关爱服务")
    expect(queue).not_to_contain_text("家政育婴技能培训")  # held: not in the approval queue
    expect(queue).to_contain_text("阳光社工服务中心")
    expect(queue).to_contain_text("第 1 期 · 建档走访")
    expect(queue).to_contain_text("¥100,000.00")
    rows = queue.locator("tbody tr.el-table__row")
    expect(rows.first).to_contain_text("社区家庭教育讲座")  # requested first, shown first
    expect(page.get_by_test_id(f"age-{d_small['id']}")).to_have_text(
        re.compile(r"不到 1 分钟|\d+ 分钟")
    )
    expect(page.get_by_test_id(f"progress-{d_large['id']}")).to_contain_text("需两人审批 · 已 0/2")
    rows.nth(1).locator(".el-table__expand-icon").click()
    report = page.get_by_test_id(f"report-of-{d_large['id']}")
    expect(report).to_contain_text("单亲母亲家庭关爱服务：第一期服务已完成")
    expect(report).to_contain_text("服务人数 160 人")
    expect(report.get_by_role("link", name="活动签到表.pdf")).to_be_visible()
    expect(report.get_by_role("link", name="查看合同与全部里程碑")).to_be_visible()
    qian.shot("finance-approvals")

    # a rejection needs its reason, and the money is not disbursed
    page.get_by_test_id(f"reject-{d_doubtful['id']}").click()
    rejection = page.get_by_role("dialog", name="驳回拨付")
    expect(rejection).to_contain_text("本期 ¥10,000.00 不予拨付")
    rejection.get_by_role("button", name="确认驳回").click()
    expect(rejection.locator(".el-form-item__error")).to_have_text("请填写驳回原因")
    rejection.get_by_label("驳回原因").fill("签到表与活动照片不符，请核实后重新申报")
    rejection.get_by_role("button", name="确认驳回").click()
    toast(page, "已驳回")
    expect(queue).not_to_contain_text("妇女健康知识宣讲")
    assert ok(books["officer"].get(f"/disbursements/{d_doubtful['id']}"))["rejection_reason"] == (
        "签到表与活动照片不符，请核实后重新申报"
    )

    approve(page, d_small["id"])
    toast(page, "已审批通过，转为待支付")
    approve(page, d_large["id"])
    toast(page, "待第二位财务人员审批")
    progress = page.get_by_test_id(f"progress-{d_large['id']}")
    expect(progress).to_contain_text("已 1/2")
    expect(progress).to_contain_text("第一审批人：qian.kuaiji")
    # the same officer again: refused, and told why
    approve(page, d_large["id"])
    box = page.locator(".el-message-box").filter(has_text="您已审批过这笔拨付")
    expect(box).to_contain_text("两位不同的财务人员")
    qian.shot("finance-approvals-maker-checker")
    box.get_by_role("button", name="知道了").click()
    expect(page.get_by_test_id(f"refusal-{d_large['id']}")).to_contain_text("请等待第二位审批人")

    open_menu(spage, "approvals")
    approve(spage, d_large["id"])
    toast(spage, "已审批通过，转为待支付")
    expect(spage.get_by_test_id("queue-table")).to_contain_text("暂无待审批的拨付")

    # --- 支付: the approver may not pay; a third officer pays; a reference is used once --------
    open_menu(page, "payments")
    page.get_by_test_id(f"pay-{d_large['id']}").click()
    pay = page.get_by_role("dialog", name="确认支付")
    pay.get_by_label("支付凭证号（银行回单号）").fill("ICBC-2027-0001")
    pay.get_by_role("button", name="确认支付").click()
    expect(pay.get_by_test_id("pay-refusal")).to_contain_text("审批人与支付人不能为同一人")
    qian.shot("finance-payments-maker-checker")
    pay.get_by_role("button", name="取消").click()

    zhou = people("zhou.caiwu")
    zpage = zhou.login()
    open_menu(zpage, "payments")
    payments = zpage.get_by_test_id("payment-table")
    expect(payments).to_contain_text("¥50,000.00")
    expect(payments).to_contain_text("qian.kuaiji、sun.chuna")
    zhou.shot("finance-payments")
    zpage.get_by_test_id(f"pay-{d_small['id']}").click()
    pay = zpage.get_by_role("dialog", name="确认支付")
    pay.get_by_label("支付凭证号（银行回单号）").fill("ICBC-2027-0001")
    pay.get_by_role("button", name="确认支付").click()
    toast(zpage, "已登记支付")
    zpage.get_by_test_id(f"pay-{d_large['id']}").click()
    pay = zpage.get_by_role("dialog", name="确认支付")
    field = pay.get_by_label("支付凭证号（银行回单号）")
    field.fill("ICBC-2027-0001")
    pay.get_by_role("button", name="确认支付").click()
    # under the reference's own field (the dialog's only field)
    expect(pay.locator(".el-form-item__error")).to_have_text(
        "该支付凭证号已登记过，不能重复使用，请核对银行回单"
    )
    zhou.shot("finance-payments-duplicate-reference")
    field.fill("ICBC-2027-0002")
    pay.get_by_role("button", name="确认支付").click()
    toast(zpage, "已登记支付")
    expect(payments).to_contain_text("暂无记录")

    zpage.get_by_test_id("tab-held").click()
    expect(zpage.get_by_test_id(f"hold-{d_held['id']}")).to_have_text(
        "暂停付款：承接机构被暂停（年检不合格）"
    )
    expect(payments).to_contain_text("家政育婴技能培训")
    zhou.shot("finance-payments-held")
    zpage.get_by_test_id("tab-paid").click()
    expect(payments).to_contain_text("ICBC-2027-0002")
    expect(payments).to_contain_text("ICBC-2027-0001")
    zhou.shot("finance-payments-paid")

    # --- the source's figures and its journal add up on screen ------------------------------
    open_menu(zpage, "funding-sources")
    zpage.get_by_role("link", name=SOURCE).click()
    expect(zpage.get_by_test_id("source-name")).to_have_text(SOURCE)
    expected = {
        "amount": "¥520,000.00",
        "committed": "¥290,000.00",  # 50,000 + 200,000 + 30,000 + 10,000 awarded
        "disbursed": "¥150,000.00",
        "paid": "¥150,000.00",
        "available": "¥230,000.00",
    }
    for key, text in expected.items():
        expect(zpage.get_by_test_id(f"source-{key}")).to_have_text(text)
        expect(zpage.get_by_test_id(f"journal-{key}")).to_have_text(text)
        expect(zpage.get_by_test_id(f"check-{key}")).to_have_text("✓ 一致")
    # receipt 2 + confirmed initial amount 2 + commitments 4×2 + approvals 2×2 + payments 2×2
    expect(zpage.get_by_test_id("journal-count")).to_have_text("共 20 条记录")
    zhou.shot("finance-source-detail")

    # --- 资金台账: filters and the CSV ----------------------------------------------------------
    open_menu(zpage, "funding-journal")
    choose(zpage, "资金来源", SOURCE)
    zpage.get_by_role("button", name="搜索").click()
    expect(zpage).to_have_url(re.compile(r"source_id="))
    journal = zpage.get_by_test_id("journal-table")
    expect(journal).to_contain_text("支付凭证号 ICBC-2027-0002")
    expect(zpage.get_by_test_id("journal-totals")).to_contain_text("借贷平衡")
    zhou.shot("finance-journal")
    with zpage.expect_download() as download:
        zpage.get_by_test_id("journal-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == 20
    assert {line["source_id"] for line in lines} == {source_id}
    payments_paid = [line for line in lines if line["kind"] == "payment" and int(line["debit"])]
    assert sorted((line["memo"], int(line["debit"])) for line in payments_paid) == [
        ("ICBC-2027-0001", 5_000_000),
        ("ICBC-2027-0002", 10_000_000),
    ]
    assert sum(int(line["debit"]) for line in lines) == sum(int(line["credit"]) for line in lines)

    # one contract's lines
    choose(zpage, "合同", "单亲母亲家庭关爱服务（阳光社工服务中心）")
    zpage.get_by_role("button", name="搜索").click()
    expect(zpage).to_have_url(re.compile(r"contract_id="))
    expect(journal.locator("tbody tr")).to_have_count(6)  # commitment, approval, payment × 2
    zhou.shot("finance-journal-contract")

    # a period that ended before any of it: nothing; from today on: all of the contract's lines
    until = zpage.get_by_label("截止日期")
    until.fill("2020-01-01")
    until.press("Enter")
    zpage.get_by_role("button", name="搜索").click()
    expect(zpage).to_have_url(re.compile(r"until=2020-01-01T23(%3A|:)59(%3A|:)59"))
    expect(journal).to_contain_text("暂无台账记录")
    zpage.get_by_role("button", name="重置").click()
    since = zpage.get_by_label("起始日期")
    since.fill(today_in_china())
    since.press("Enter")
    zpage.get_by_role("button", name="搜索").click()
    expect(zpage).to_have_url(re.compile(r"since=\d{4}-\d{2}-\d{2}T00(%3A|:)00(%3A|:)00%2B08"))
    expect(journal.locator("tbody tr")).to_have_count(20)

    # --- 资金报表: the month's movements, as a table and a chart; money per contract --------
    open_menu(zpage, "funding-reports")
    monthly = zpage.get_by_test_id("monthly-table")
    expect(monthly).to_contain_text("¥520,000.00")  # receipts this month
    expect(monthly).to_contain_text("¥150,000.00")  # approvals and payments
    expect(zpage.get_by_test_id("monthly-chart")).to_be_visible()
    per_contract = zpage.get_by_test_id("contract-money-table")
    expect(zpage.get_by_test_id(f"remaining-{large['id']}")).to_have_text("¥100,000.00")
    expect(zpage.get_by_test_id(f"remaining-{small['id']}")).to_have_text("¥0.00")
    expect(zpage.get_by_test_id(f"remaining-{held['id']}")).to_have_text("¥30,000.00")
    # a rejected tranche is not disbursed: it stays committed to its contract
    expect(zpage.get_by_test_id(f"remaining-{doubtful['id']}")).to_have_text("¥10,000.00")
    expect(per_contract).to_contain_text("春苗家政培训学校")
    zhou.shot("finance-reports")

    # the contract page a finance officer opens from the queue: the report and its evidence
    per_contract.get_by_role("link", name="单亲母亲家庭关爱服务").click()
    expect(zpage.get_by_test_id("contract-title")).to_have_text("单亲母亲家庭关爱服务")
    zhou.shot("finance-contract")

    # --- federation staff read the same money, without the officers' buttons ----------------
    chen = people("chen.ganshi")
    cpage = chen.login()
    open_menu(cpage, "funding-sources")
    expect(cpage.get_by_test_id("source-table")).to_contain_text("¥520,000.00")
    expect(cpage.get_by_test_id("new-source")).to_have_count(0)
    expect(cpage.get_by_test_id("menu-approvals")).to_have_count(0)
    chen.shot("finance-staff-sources")
    open_menu(cpage, "funding-journal")
    expect(cpage.get_by_text("请先选择一个资金来源")).to_be_visible()
    chen.shot("finance-staff-journal")

    # --- an admin reads the queues of every federation, approving nothing -----------------
    root = people("admin")
    rpage = root.login(platform.admin_password)
    open_menu(rpage, "payments")
    rpage.get_by_test_id("tab-paid").click()
    expect(rpage.get_by_test_id("payment-table")).to_contain_text("ICBC-2027-0002")
    open_menu(rpage, "approvals")
    expect(rpage.get_by_test_id("queue-table")).to_be_visible()
    expect(rpage.get_by_role("button", name="审批通过")).to_have_count(0)
    root.shot("finance-admin-approvals")
    open_menu(rpage, "funding-reports")
    expect(rpage.get_by_test_id("contract-money-table")).to_contain_text("单亲母亲家庭关爱服务")
    root.shot("finance-admin-reports")

    for person in (qian, sun, zhou, chen, root):
        assert person.errors == [], person.errors
