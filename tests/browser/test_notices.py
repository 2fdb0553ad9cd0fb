"""The bell (消息通知): a contractor whose milestone falls due in 7 days is reminded by the
projects' daily check itself (``run_checks`` over signed RPC, as of that China day and then
as of the due day, as the scheduler would run it; run again, it tells her nothing twice). She
sees the badge with her unread count, opens the dropdown, follows a notice to her contract
(which marks it read), and on the page 消息通知 marks the rest read and sets her e-mail
address. Screenshots of the badge, the dropdown and the page."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.support.rpc import ServiceRpcProxy
from tests.support.workbench_world import eventually
from tests.support.workbench_world import expect as answered


@pytest.fixture(scope="module")
def contract_world(platform, admin):
    """A city, a verified provider, its contractor and a contract with two milestones."""
    suffix = uuid.uuid4().hex[:6]
    org = lambda **body: admin.create("/organizations", body)  # noqa: E731
    city = org(name=f"通知测试市妇女联合会{suffix}", kind="federation", level="city")
    provider = org(
        name=f"春晖社会工作服务中心{suffix}", kind="service_provider", parent_id=city["id"]
    )
    answered(admin.post(f"/organizations/{provider['id']}/verify"), 200)
    clients = {}
    for name, role, organization in (
        ("staff", "federation_staff", city),
        ("officer", "finance_officer", city),
        ("contractor", "contractor", provider),
    ):
        username = f"tongzhi{suffix}.{name}"
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": organization["id"],
            },
        )
        clients[name] = (username, platform.client(platform.token(username, PASSWORD)))
    staff, officer, contractor = (clients[n][1] for n in ("staff", "officer", "contractor"))
    today = china_today()
    source = eventually(
        lambda: answered(
            officer.post(
                "/funding-sources",
                {
                    "name": f"{today.year}年巾帼关爱专项资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": city["id"],
                    "fiscal_year": today.year,
                    "amount": 5_000_000,
                },
            ),
            201,
        )
    )
    project = eventually(
        lambda: answered(
            staff.post(
                "/projects",
                {
                    "title": "困境儿童家庭探访服务",
                    "category": "family_education",
                    "model": "commissioned",
                    "funding_source_id": source["id"],
                    "budget": 1_000_000,
                    "starts_on": (today - timedelta(days=30)).isoformat(),
                    "ends_on": (today + timedelta(days=200)).isoformat(),
                    "target_beneficiaries": 50,
                },
            ),
            201,
        )
    )
    answered(staff.post(f"/projects/{project['id']}/publish"), 200)
    application = eventually(
        lambda: answered(
            contractor.post(
                f"/projects/{project['id']}/applications",
                {"provider_id": provider["id"], "amount": 1_000_000, "proposal": "入户探访方案"},
            ),
            201,
        )
    )
    due_on = (today + timedelta(days=7)).isoformat()
    contract = answered(
        staff.post(
            f"/projects/{project['id']}/award",
            {
                "application_id": application["id"],
                "milestones": [
                    {"title": "首次入户探访", "due_on": due_on, "amount": 400_000},
                    {
                        "title": "需求评估",
                        "due_on": (today + timedelta(days=30)).isoformat(),
                        "amount": 600_000,
                    },
                ],
            },
        ),
        201,
    )
    return {
        "city": city,
        "provider": provider,
        "contract": contract,
        "project": project,
        "contractor": clients["contractor"],
        "due_on": due_on,
    }


CHINA = timezone(timedelta(hours=8))
SYSTEM = {"user_id": "00000000-0000-0000-0000-000000000000", "username": "system", "role": "admin"}


def china_today() -> date:
    return datetime.now(CHINA).date()


def run_checks(platform, day: date) -> dict[str, int]:
    """Projects' daily check as of noon (China) on ``day``, by the system actor."""
    config = {"AMQP_URI": platform.amqp_uri, "RPC_KEY": platform.rpc_key}
    as_of = datetime.combine(day, time(12), tzinfo=CHINA).isoformat()
    with ServiceRpcProxy("projects", config) as projects:
        return projects.run_checks({"as_of": as_of}, SYSTEM)


def test_a_contractor_sees_the_bell_for_a_due_date_reminder_and_marks_it_read(
    platform, contract_world, people
):
    username, api = contract_world["contractor"]
    due_on = date.fromisoformat(contract_world["due_on"])

    def unread(count: int) -> None:
        assert api.get("/notifications/unread-count").json()["unread"] == count

    # the check as of today: 首次入户探访 is due in 7 days; 需求评估 (in 30) is owed nothing
    assert run_checks(platform, china_today()).get("due_in_7_days", 0) >= 1
    eventually(lambda: unread(1))
    # as of the due day: one more; the check run again (a restart) tells her nothing twice
    assert run_checks(platform, due_on).get("due_today", 0) >= 1
    assert run_checks(platform, due_on).get("due_today", 0) == 0
    eventually(lambda: unread(2))
    kinds = sorted(n["title"] for n in api.get("/notifications").json()["items"])
    assert kinds == ["里程碑 7 天后到期", "里程碑今天到期"]

    person = people(username)
    page = person.login()
    badge = page.get_by_test_id("notice-badge")
    expect(badge.locator(".el-badge__content")).to_have_text("2")
    person.shot("notices-bell-badge")

    page.get_by_test_id("notice-bell").click()
    dropdown = page.get_by_test_id("notice-dropdown")
    expect(dropdown.get_by_test_id("notice-item")).to_have_count(2)
    expect(dropdown).to_contain_text("里程碑 7 天后到期")
    expect(dropdown).to_contain_text("里程碑今天到期")
    expect(dropdown).to_contain_text(f"里程碑「首次入户探访」将于{contract_world['due_on']}到期")
    expect(dropdown).to_contain_text(
        f"里程碑「首次入户探访」今天（{contract_world['due_on']}）到期"
    )
    person.shot("notices-bell-dropdown")

    # the notice about the first milestone opens her contract and is read from then on
    dropdown.get_by_test_id("notice-item").filter(has_text="将于").click()
    expect(page).to_have_url(re.compile(rf"/contracts/{contract_world['contract']['id']}$"))
    expect(page.get_by_text("困境儿童家庭探访服务").first).to_be_visible()
    expect(badge.locator(".el-badge__content")).to_have_text("1")

    # the page 消息通知: one unread left, marked read there; the badge goes
    page.get_by_test_id("notice-bell").click()
    page.get_by_test_id("notice-all").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    table = page.get_by_test_id("notice-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("未读")
    expect(table).to_contain_text("里程碑到期提醒")
    expect(page.locator(".pager")).to_contain_text("共 2 条")
    person.shot("notices-page")
    table.get_by_test_id("notice-mark-read").click()
    expect(table.get_by_test_id("notice-mark-read")).to_have_count(0)
    expect(badge.locator(".el-badge__content")).to_be_hidden()
    page.get_by_test_id("notice-filter").get_by_text("未读").click()
    expect(table).to_contain_text("暂无通知")
    person.shot("notices-page-all-read")
    assert api.get("/notifications/unread-count").json()["unread"] == 0

    # her address for the same notices by e-mail: a wrong one is named under the field
    page.get_by_label("邮件提醒邮箱").fill("不是邮箱")
    page.get_by_test_id("notice-email-save").click()
    expect(page.locator(".el-form-item__error")).to_have_text("邮箱格式不正确")
    page.get_by_label("邮件提醒邮箱").fill("chunhui@example.org")
    page.get_by_test_id("notice-email-save").click()
    expect(page.locator(".el-form-item__error")).to_have_count(0)
    expect(page.get_by_text("邮箱已保存")).to_be_visible()
    person.shot("notices-page-email")
    assert api.get("/users/me/email").json() == {"email": "chunhui@example.org"}
    assert person.errors == []
