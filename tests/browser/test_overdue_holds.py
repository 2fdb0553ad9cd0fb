"""A disbursement held for an overdue milestone, in real Chromium: the finance officer's
payments page (暂停拨付 tab) names every hold in Chinese — the overdue milestone, and the
suspended contractor when both hold it. The daily check runs as of a day past the grace
period over signed RPC (as ops would run a catch-up); the rest goes through the API.
Screenshot: var/screenshots/finance-payments-held-overdue.png."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_console import wait_for
from tests.browser.test_finance import deliver_first_milestone, disbursement_of, ok
from tests.support.rpc import ServiceRpcProxy

SYSTEM = {"user_id": "00000000-0000-0000-0000-000000000000", "username": "system", "role": "admin"}
#: 32 days after the second milestone's due date (2027-06-30), noon in China
LATE = "2027-08-01T04:00:00+00:00"


@pytest.fixture(scope="module")
def overdue_books(platform, admin) -> dict[str, Any]:
    city = admin.create(
        "/organizations", {"name": "阿拉善左旗妇女联合会", "kind": "federation", "level": "county"}
    )
    for username, role in (("od.ganshi", "federation_staff"), ("od.caiwu", "finance_officer")):
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": city["id"],
            },
        )
    staff = platform.client(platform.token("od.ganshi", PASSWORD))
    provider = staff.create(
        "/organizations",
        {"name": "绿洲社会工作服务社", "kind": "service_provider", "parent_id": city["id"]},
    )
    ok(staff.post(f"/organizations/{provider['id']}/verify"))
    admin.create(
        "/users",
        {
            "username": "od.lvzhou",
            "password": PASSWORD,
            "role": "contractor",
            "organization_id": provider["id"],
        },
    )
    contractor = platform.client(platform.token("od.lvzhou", PASSWORD))
    officer = platform.client(platform.token("od.caiwu", PASSWORD))
    return {
        "city": city,
        "staff": staff,
        "providers": {"绿洲社会工作服务社": (provider, contractor)},
        "officer": officer,
    }


def test_a_held_disbursement_names_its_holds_in_chinese(overdue_books, people, platform):
    books = overdue_books
    officer, staff = books["officer"], books["staff"]
    provider = books["providers"]["绿洲社会工作服务社"][0]
    source = wait_for(
        lambda: ok(
            officer.post(
                "/funding-sources",
                {
                    "name": "2027年旗级妇女发展资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": books["city"]["id"],
                    "fiscal_year": 2027,
                    "amount": 3_000_000,
                },
            ),
            201,
        )
    )
    contract = deliver_first_milestone(
        books,
        source["id"],
        "牧区妇女手工技能培训",
        "绿洲社会工作服务社",
        [
            {"title": "第一期培训", "due_on": "2027-04-30", "amount": 1_000_000},
            {"title": "第二期培训", "due_on": "2027-06-30", "amount": 1_000_000},
        ],
    )
    pending = disbursement_of(books, contract["id"], "pending")
    config = {"AMQP_URI": platform.amqp_uri, "RPC_KEY": platform.rpc_key}
    with ServiceRpcProxy("projects", config) as projects:
        # the browser session's platform is shared: other modules' live contracts (the bell's
        # in test_notices, finance's) are overdue by then too; this one's hold is checked below
        assert projects.run_checks({"as_of": LATE}, SYSTEM).get("overdue", 0) >= 1
    disbursement_of(books, contract["id"], "held")
    ok(staff.post(f"/organizations/{provider['id']}/suspend", {"reason": "年检不合格"}))

    def both_holds() -> None:
        shown = ok(officer.get(f"/disbursements/{pending['id']}"))
        assert shown["hold_reasons"] == ["payee_suspended", "milestone_overdue"], shown

    wait_for(both_holds, timeout=60)

    caiwu = people("od.caiwu")
    page = caiwu.login()
    page.get_by_test_id("menu-payments").click()
    page.get_by_test_id("tab-held").click()
    expect(page.get_by_test_id(f"hold-{pending['id']}")).to_have_text(
        "暂停付款：承接机构被暂停（年检不合格）、里程碑逾期"
    )
    expect(page.get_by_test_id("payment-table")).to_contain_text("牧区妇女手工技能培训")
    caiwu.shot("finance-payments-held-overdue")
