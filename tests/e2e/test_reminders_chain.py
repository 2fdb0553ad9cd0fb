"""Reminders end to end through the real producers, not events the test publishes itself:
projects' daily check (run as of a chosen China day by the system actor over signed RPC, as
ops would for a catch-up) → ``milestone_due`` / ``report_awaiting_decision`` /
``milestone_overdue`` → the gateway's notices for exactly the right people; funding's
``disbursement_requested`` → the owner federation's finance officers; volunteers' check →
the team's leader. Running a check again (as after a restart) tells nobody twice. The
platform has an SMTP relay configured (a test SMTP server): the contractor who gave her
address receives the due-date reminder by e-mail too."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_funding_saga import award_from, expect
from tests.support.platform import Platform, new_vhost, vhost_uri
from tests.support.rpc import ServiceRpcProxy
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually

SYSTEM = {
    "user_id": "00000000-0000-0000-0000-000000000000",
    "username": "system",
    "role": "admin",
}
#: noon in China on the days the checks run
SEVEN_DAYS_BEFORE = "2027-04-23T04:00:00+00:00"
DUE_DAY = "2027-04-30T04:00:00+00:00"
#: four days after the (real) report came in and before the second milestone's reminders
REPORT_LATE = "2027-05-04T04:00:00+00:00"
#: 32 days after the second milestone's due date (2027-06-30): overdue beyond the grace
OVERDUE = "2027-08-01T04:00:00+00:00"
ADDRESS = "chunfeng.a@example.org"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp") / "maildir").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra, smtp):
    """The platform with e-mail on: its gateway's relay sends to the test's SMTP server."""
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("platform")
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost),
        workdir=workdir,
        database_urls={},
        extra_env={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_FROM": "noreply@jinguo.test",
            "SMTP_POLL_SECONDS": "0.5",
            "CONSOLE_URL": "https://jinguo.test",
        },
    )
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


def _user(platform, admin, username, role, organization_id):
    password = f"{username}-pass-2027"
    created = admin.create(
        "/users",
        {
            "username": username,
            "password": password,
            "role": role,
            "organization_id": organization_id,
        },
    )
    return created["id"], platform.client(platform.token(username, password))


@pytest.fixture(scope="module")
def cast(platform):
    admin = platform.admin()
    city = admin.create(
        "/organizations", {"name": "三明市妇联", "kind": "federation", "level": "city"}
    )
    other_city = admin.create(
        "/organizations", {"name": "南平市妇联", "kind": "federation", "level": "city"}
    )
    provider = admin.create(
        "/organizations",
        {"name": "春风社工服务中心", "kind": "service_provider", "parent_id": city["id"]},
    )
    other_provider = admin.create(
        "/organizations",
        {"name": "秋实社工服务中心", "kind": "service_provider", "parent_id": other_city["id"]},
    )
    host = admin.create(
        "/organizations",
        {"name": "列东社区", "kind": "host_unit", "sector": "community", "parent_id": city["id"]},
    )
    for organization in (provider, other_provider):
        expect(admin.post(f"/organizations/{organization['id']}/verify"), 200)
    people = {
        "staff": ("federation_staff", city["id"]),
        "contractor": ("contractor", provider["id"]),
        "contractor_2": ("contractor", provider["id"]),
        "officer_a": ("finance_officer", city["id"]),
        "officer_b": ("finance_officer", city["id"]),
        "leader": ("team_leader", None),
        "other_contractor": ("contractor", other_provider["id"]),
        "other_staff": ("federation_staff", other_city["id"]),
        "other_officer": ("finance_officer", other_city["id"]),
    }
    ids, clients = {}, {}
    for name, (role, organization_id) in people.items():
        ids[name], clients[name] = _user(platform, admin, f"sm.{name}", role, organization_id)
    return {
        "admin": admin,
        "city": city,
        "provider": provider,
        "host": host,
        "ids": ids,
        **clients,
    }


def run_checks(platform, service, as_of):
    config = {"AMQP_URI": platform.amqp_uri, "RPC_KEY": platform.rpc_key}
    with ServiceRpcProxy(service, config) as proxy:
        return proxy.run_checks({"as_of": as_of}, SYSTEM)


EVERYONE = (
    "staff",
    "contractor",
    "contractor_2",
    "officer_a",
    "officer_b",
    "leader",
    "other_contractor",
    "other_staff",
    "other_officer",
)


def inbox(client):
    page = expect(client.get("/notifications", params={"limit": 100}), 200)
    return sorted((n["kind"], n["title"]) for n in page["items"])


def inboxes(cast):
    return {name: inbox(cast[name]) for name in EVERYONE}


def arrive(cast, expected, timeout=30):
    """Wait until everyone's notices are exactly ``expected`` (name -> [(kind, title)], in any
    order: the gateway's consumers may take a batch of events in parallel); those not named
    have none."""

    def exactly():
        assert inboxes(cast) == {name: sorted(expected.get(name, [])) for name in EVERYONE}

    eventually(exactly, timeout=timeout)


DUE_7 = ("milestone_due", "里程碑 7 天后到期")
DUE_TODAY = ("milestone_due", "里程碑今天到期")
WAITING = ("report_awaiting_decision", "阶段报告待验收")
REQUESTED = ("disbursement_requested", "拨付待审批")
OVERDUE_NOTICE = ("milestone_overdue", "里程碑已逾期")
HOURS = ("hours_awaiting_verification", "服务时长待核验")


def _contract(cast):
    source = eventually(
        lambda: expect(
            cast["officer_a"].post(
                "/funding-sources",
                {
                    "name": "2027年妇女发展专项资金（提醒）",
                    "kind": "fiscal_special_fund",
                    "owner_id": cast["city"]["id"],
                    "fiscal_year": 2027,
                    "amount": 5_000_000,
                },
            ),
            201,
        )
    )
    contract = award_from(
        cast,
        source["id"],
        "巾帼家政培训（提醒）",
        "domestic_service_childcare_training",
        2_000_000,
        [
            {"title": "首期培训", "due_on": "2027-04-30", "amount": 1_000_000},
            {"title": "二期培训", "due_on": "2027-06-30", "amount": 1_000_000},
        ],
    )

    def committed():
        shown = expect(cast["staff"].get(f"/contracts/{contract['id']}"), 200)
        assert shown["commitment_status"] == "committed"

    eventually(committed)
    return contract


def _pending_hours(cast):
    """A team led by ``sm.leader`` with one service-hours entry waiting for verification."""
    staff, leader = cast["staff"], cast["leader"]
    team = eventually(
        lambda: expect(
            staff.post(
                "/teams",
                {
                    "name": "列东巾帼志愿服务队",
                    "theme": "family_education",
                    "host_id": cast["host"]["id"],
                    "leader_user_id": cast["ids"]["leader"],
                },
            ),
            201,
        )
    )
    volunteer = expect(
        staff.post(
            "/volunteers",
            {
                "name": "林秀英",
                "phone": "13700137000",
                "consented_on": "2026-03-01",
                "team_id": team["id"],
            },
        ),
        201,
    )
    activity = expect(
        leader.post(
            "/activities",
            {
                "title": "社区亲子阅读",
                "team_id": team["id"],
                "starts_at": "2026-10-10T09:00:00+08:00",
                # still on: enrolment closes when an activity ends
                "ends_at": (datetime.now(UTC) + timedelta(days=2))
                .replace(microsecond=0)
                .isoformat(),
                "place": "列东社区文化站",
                "capacity": 5,
            },
        ),
        201,
    )
    expect(
        leader.post(f"/activities/{activity['id']}/enrolments", {"volunteer_id": volunteer["id"]}),
        201,
    )
    expect(
        staff.post(
            "/service-hours",
            {
                "volunteer_id": volunteer["id"],
                "activity_id": activity["id"],
                "started_at": "2026-10-10T09:00:00+08:00",
                "hours": "2.5",
            },
        ),
        201,
    )


def test_each_reminder_reaches_exactly_its_people_once(platform, cast, smtp):
    staff, contractor = cast["staff"], cast["contractor"]
    put = contractor.request("PUT", "/users/me/email", json={"email": ADDRESS})
    assert put.status_code == 200
    contract = _contract(cast)
    cid, (first, second) = contract["id"], contract["milestones"]
    arrive(cast, {})

    # seven days before the first milestone's due date: the provider's contractors, nobody else
    assert run_checks(platform, "projects", SEVEN_DAYS_BEFORE) == {"due_in_7_days": 1}
    expected = {"contractor": [DUE_7], "contractor_2": [DUE_7]}
    arrive(cast, expected)
    # ... and the one who gave her address gets it by e-mail too
    mail = eventually(lambda: _one(smtp.messages()), timeout=30)
    assert mail["To"] == ADDRESS and mail["Subject"] == "【巾帼】里程碑 7 天后到期"
    assert f"https://jinguo.test/contracts/{cid}" in mail.get_content()
    assert "首期培训" in mail.get_content()

    # on the due day: one more; the check again (a restart, a second replica): nothing new
    assert run_checks(platform, "projects", DUE_DAY) == {"due_today": 1}
    assert run_checks(platform, "projects", DUE_DAY) == {}
    assert run_checks(platform, "projects", SEVEN_DAYS_BEFORE) == {}
    expected = {"contractor": [DUE_7, DUE_TODAY], "contractor_2": [DUE_7, DUE_TODAY]}
    arrive(cast, expected)

    # the report waits for the purchaser's decision more than 3 days: the city's staff
    path = f"/contracts/{cid}/milestones/{first['id']}"
    expect(
        contractor.post(f"{path}/reports", {"summary": "首期培训", "beneficiaries_served": 50}), 201
    )
    assert run_checks(platform, "projects", REPORT_LATE) == {"awaiting_decision": 1}
    assert run_checks(platform, "projects", REPORT_LATE) == {}
    expected["staff"] = [WAITING]
    arrive(cast, expected)

    # accepted: the disbursement requested reaches the owner federation's finance officers
    expect(staff.post(f"{path}/accept"), 200)
    expected |= {"officer_a": [REQUESTED], "officer_b": [REQUESTED]}
    arrive(cast, expected)

    # the second milestone goes 32 days past due without a report: every notice still owed
    # goes out once, the money is held, staff and contractors are told of the hold
    counts = run_checks(platform, "projects", OVERDUE)
    assert counts == {"due_in_7_days": 1, "due_today": 1, "overdue": 1}
    assert run_checks(platform, "projects", OVERDUE) == {}
    for name in ("contractor", "contractor_2"):
        expected[name] = [DUE_7, DUE_TODAY, DUE_7, DUE_TODAY, OVERDUE_NOTICE]
    expected["staff"] = [WAITING, OVERDUE_NOTICE]
    arrive(cast, expected)

    def held():
        found = expect(cast["officer_a"].get("/disbursements", params={"contract_id": cid}), 200)
        rows = [d for d in found["items"] if d["milestone_id"] == first["id"]]
        assert len(rows) == 1, found
        row = rows[0]
        assert (row["status"], row["hold_reasons"]) == ("held", ["milestone_overdue"])

    eventually(held)
    assert second["title"] == "二期培训"

    # hours waiting for verification: volunteers' check tells the team's leader, once a day
    _pending_hours(cast)
    assert run_checks(platform, "volunteers", OVERDUE) == {"hours_awaiting_verification": 1}
    assert run_checks(platform, "volunteers", OVERDUE) == {}
    expected["leader"] = [HOURS]
    arrive(cast, expected)

    # only she gave an address: exactly her notices went by e-mail, nobody else's
    def mailed():
        subjects = sorted(m["Subject"] for m in smtp.messages())
        assert {m["To"] for m in smtp.messages()} == {ADDRESS}
        assert subjects == sorted(f"【巾帼】{title}" for _, title in expected["contractor"])

    eventually(mailed, timeout=30)


def _one(messages):
    assert len(messages) == 1, messages
    return messages[0]
