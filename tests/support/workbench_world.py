"""A federation with known numbers for the workbench tests (e2e and browser): built through
the API, then each role's cards are compared with these numbers and with the lists they link
to. Polls with ``time.sleep`` (green under the e2e suite's monkeypatch, plain in the browser
suite, which must not import eventlet).

What it builds, with ``today`` the China date:
- a city federation, a district under it, two host units under the district (one with a
  women's organization: coverage 50 %), a verified provider, another city;
- sources of this fiscal year: the city's ¥90,000.00 and the district's ¥30,000.00 (below
  ¥50,000: running low);
- project A awarded (¥10,000.00): milestone 1 due ten days ago, reported (waiting for a decision,
  and overdue), milestone 2 due later (to report);
- project B awarded (¥10,000.00): milestone 1 reported and sent back, 2 accepted and paid this
  month (¥3,000.00), 3 accepted and waiting for approval (¥4,000.00);
- a draft project;
- a team led by the team leader with a volunteer, an activity on now and one tomorrow
  (capacity 5, one enrolled), two hours logged today: one verified, one waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

#: China time, as kit.clock has it (not imported: the browser suite must not load eventlet)
CHINA = timezone(timedelta(hours=8), "CST")

#: the numbers each role's cards must show (besides agreeing with their lists)
EXPECTED = {
    "staff": {
        "reports_awaiting_decision": 1,
        "milestones_overdue": 1,
        "projects": {"draft": 1, "awarded": 2, "published": 0},
        "money_this_year": (2, 12_000_000),
        "coverage": (2, 1),
        "hours_pending": 1,
    },
    "officer": {
        "approval_queue": (1, 400_000),
        "payments_this_month": (1, 300_000),
        "sources_low": 1,
        "money_this_year": (2, 12_000_000),
    },
    "contractor": {
        "contracts_active": 2,
        "milestones_due": 1,
        "reports_rejected": 1,
        "tranches_paid": (1, 300_000),
    },
    "leader": {"hours_pending": 1, "upcoming_activities": 2, "hours_this_month": (1, 60)},
}


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """``check()``'s value once it stops raising AssertionError (the events catch up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class WorkbenchWorld:
    def __init__(self, platform: Any, admin: Any, password: str, prefix: str = "wb") -> None:
        self.platform, self.admin, self.password, self.prefix = platform, admin, password, prefix
        self.now = datetime.now(UTC)
        self.today = self.now.astimezone(CHINA).date()
        self.clients: dict[str, Any] = {}
        self.usernames: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def day(self, days: int) -> str:
        return (self.today + timedelta(days=days)).isoformat()

    def build(self) -> WorkbenchWorld:
        self._organizations()
        self._people()
        self._money()
        self._projects()
        self._volunteers()
        return self

    # --- who is who ---------------------------------------------------------------------------

    def _organizations(self) -> None:
        admin = self.admin
        org = lambda **body: admin.create("/organizations", body)  # noqa: E731
        self.city = org(name="青州市妇女联合会", kind="federation", level="city")
        self.district = org(
            name="青州市城东区妇联", kind="federation", level="county", parent_id=self.city["id"]
        )
        self.host = org(
            name="城东智造有限公司",
            kind="host_unit",
            sector="non_public_enterprise",
            parent_id=self.district["id"],
        )
        org(
            name="城东物流有限公司",
            kind="host_unit",
            sector="non_public_enterprise",
            parent_id=self.district["id"],
        )
        org(name="城东智造妇委会", kind="womens_organization", parent_id=self.host["id"])
        self.provider = org(
            name="青州暖心社会工作服务中心", kind="service_provider", parent_id=self.city["id"]
        )
        expect(admin.post(f"/organizations/{self.provider['id']}/verify"), 200)
        self.other_city = org(name="临州市妇女联合会", kind="federation", level="city")

    def _people(self) -> None:
        users = {
            "staff": ("federation_staff", self.city["id"]),
            "officer": ("finance_officer", self.city["id"]),
            "payer": ("finance_officer", self.city["id"]),
            "contractor": ("contractor", self.provider["id"]),
            "leader": ("team_leader", None),
            "other_staff": ("federation_staff", self.other_city["id"]),
        }
        for name, (role, organization_id) in users.items():
            username = f"{self.prefix}.{name}"
            user = self.admin.create(
                "/users",
                {
                    "username": username,
                    "password": self.password,
                    "role": role,
                    "organization_id": organization_id,
                },
            )
            self.ids[name] = user["id"]
            self.usernames[name] = username
            token = self.platform.token(username, self.password)
            self.clients[name] = self.platform.client(token)

    # --- money and projects -------------------------------------------------------------------

    def _source(self, owner: dict[str, Any], name: str, amount: int) -> dict[str, Any]:
        body = {
            "name": name,
            "kind": "fiscal_special_fund",
            "owner_id": owner["id"],
            "fiscal_year": self.today.year,
            "amount": amount,
        }
        return eventually(
            lambda: expect(self.clients["officer"].post("/funding-sources", body), 201)
        )

    def _money(self) -> None:
        self.source = self._source(
            self.city, f"{self.today.year}年市级妇女儿童发展专项资金", 9_000_000
        )
        self._source(self.district, f"{self.today.year}年城东区巾帼关爱资金", 3_000_000)

    def _award(self, title: str, milestones: list[dict[str, Any]]) -> dict[str, Any]:
        staff, contractor = self.clients["staff"], self.clients["contractor"]
        amount = sum(m["amount"] for m in milestones)
        body = {
            "title": title,
            "category": "family_education",
            "model": "commissioned",
            "funding_source_id": self.source["id"],
            "budget": amount,
            "starts_on": self.day(-200),
            "ends_on": self.day(200),
            "target_beneficiaries": 100,
        }
        project = eventually(lambda: expect(staff.post("/projects", body), 201))
        expect(staff.post(f"/projects/{project['id']}/publish"), 200)
        application = eventually(
            lambda: expect(
                contractor.post(
                    f"/projects/{project['id']}/applications",
                    {"provider_id": self.provider["id"], "amount": amount, "proposal": "服务方案"},
                ),
                201,
            )
        )
        return expect(
            staff.post(
                f"/projects/{project['id']}/award",
                {"application_id": application["id"], "milestones": milestones},
            ),
            201,
        )

    def _report(self, contract: dict[str, Any], seq: int) -> str:
        milestone = contract["milestones"][seq - 1]
        path = f"/contracts/{contract['id']}/milestones/{milestone['id']}"
        report = {"summary": "按计划完成", "beneficiaries_served": 20}
        expect(self.clients["contractor"].post(f"{path}/reports", report), 201)
        return path

    def _projects(self) -> None:
        staff = self.clients["staff"]
        plan = lambda title, due, amount: {"title": title, "due_on": due, "amount": amount}  # noqa: E731
        a = self._award(
            "单亲母亲家庭服务",
            [plan("开班", self.day(-10), 400_000), plan("结项", self.day(100), 600_000)],
        )
        self._report(a, 1)  # waiting for a decision, and past its due date
        b = self._award(
            "家庭教育指导服务",
            [
                plan("家长课堂", self.day(30), 300_000),
                plan("入户指导", self.day(60), 300_000),
                plan("总结评估", self.day(90), 400_000),
            ],
        )
        expect(staff.post(self._report(b, 1) + "/reject", {"reason": "佐证材料不全"}), 200)

        def committed() -> None:
            assert (
                expect(staff.get(f"/contracts/{b['id']}"), 200)["commitment_status"] == "committed"
            )

        eventually(committed)
        expect(staff.post(self._report(b, 2) + "/accept"), 200)
        expect(staff.post(self._report(b, 3) + "/accept"), 200)
        officer, payer = self.clients["officer"], self.clients["payer"]
        second = b["milestones"][1]["id"]

        def requested() -> dict[str, Any]:
            found = expect(officer.get("/disbursements", params={"status": "pending"}), 200)
            mine = [d for d in found["items"] if d["milestone_id"] == second]
            assert mine and found["total"] == 2
            return mine[0]

        disbursement = eventually(requested)
        expect(officer.post(f"/disbursements/{disbursement['id']}/approve"), 200)
        expect(
            payer.post(
                f"/disbursements/{disbursement['id']}/pay", {"payment_reference": "QZ-BANK-0001"}
            ),
            200,
        )

        def paid_seen_by_projects() -> None:
            contract = expect(staff.get(f"/contracts/{b['id']}"), 200)
            assert contract["milestones"][1]["payment_status"] == "paid"

        eventually(paid_seen_by_projects)
        draft = dict(
            title="女性创业就业培训",
            category="entrepreneurship_training",
            model="commissioned",
            funding_source_id=self.source["id"],
            budget=500_000,
            starts_on=self.day(10),
            ends_on=self.day(300),
            target_beneficiaries=50,
        )
        expect(staff.post("/projects", draft), 201)

    # --- volunteers ---------------------------------------------------------------------------

    def _volunteers(self) -> None:
        staff, leader = self.clients["staff"], self.clients["leader"]
        team = eventually(
            lambda: expect(
                staff.post(
                    "/teams",
                    {
                        "name": "城东巾帼家庭教育志愿服务队",
                        "theme": "family_education",
                        "host_id": self.host["id"],
                        "leader_user_id": self.ids["leader"],
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
                    "phone": "13912345678",
                    "consented_on": self.day(-30),
                    "team_id": team["id"],
                },
            ),
            201,
        )
        began = (self.now - timedelta(hours=2, minutes=10)).replace(microsecond=0)
        now_on = self._activity(team, "亲子阅读公益课", began, began + timedelta(hours=3))
        tomorrow = self.now.replace(microsecond=0) + timedelta(days=1)
        later = self._activity(team, "家庭教育讲座", tomorrow, tomorrow + timedelta(hours=2))
        for activity in (now_on, later):
            enrol = {"volunteer_id": volunteer["id"]}
            expect(leader.post(f"/activities/{activity['id']}/enrolments", enrol), 201)
        entries = [
            expect(
                leader.post(
                    "/service-hours",
                    {
                        "volunteer_id": volunteer["id"],
                        "activity_id": now_on["id"],
                        "started_at": (began + timedelta(hours=hour)).isoformat(),
                        "hours": 1,
                    },
                ),
                201,
            )
            for hour in (0, 1)
        ]
        expect(staff.post(f"/service-hours/{entries[0]['id']}/verify"), 200)

    def _activity(self, team: dict[str, Any], title: str, starts: datetime, ends: datetime) -> Any:
        body = {
            "title": title,
            "team_id": team["id"],
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "capacity": 5,
        }
        return expect(self.clients["leader"].post("/activities", body), 201)


# --- the cards against their lists ---------------------------------------------------------------

#: the list route behind each card (the console's page calls the same route)
LISTS = {
    "reports_awaiting_decision": "/milestones",
    "milestones_overdue": "/milestones",
    "milestones_due": "/milestones",
    "reports_rejected": "/milestones",
    "tranches_paid": "/milestones",
    "projects_by_status": "/projects",
    "contracts_by_status": "/contracts",
    "money_this_year": "/funding-sources",
    "approval_queue": "/approval-queue",
    "payments_this_month": "/approval-queue",
    "sources_low": "/funding-sources",
    "hours_pending": "/service-hours",
    "upcoming_activities": "/activities",
}


def list_behind(client: Any, name: str, card: dict[str, Any]) -> dict[str, Any]:
    """The whole list a card links to (every page), with its total."""
    items: list[Any] = []
    params = {**card["filters"], "limit": 500}
    answer = expect(client.get(LISTS[name], params=params), 200)
    items.extend(answer["items"])
    while answer["next_cursor"]:
        answer = expect(
            client.get(LISTS[name], params={**params, "cursor": answer["next_cursor"]}), 200
        )
        items.extend(answer["items"])
    return {"total": answer["total"], "items": items}


def check_cards_against_lists(client: Any, group: dict[str, Any]) -> list[str]:
    """Every card of a group against the list it links to: the count is the list's total, a
    sum is the sum of the list's items. The names of the cards checked."""
    checked = []
    for name, value in group.items():
        cards = value if isinstance(value, list) else [value]
        for card in cards:
            if not isinstance(card, dict) or "filters" not in card:
                continue
            if name == "hours_this_month":
                report = expect(client.get("/reports/hours", params=card["filters"]), 200)
                assert (report["total"]["entries"], report["total"]["minutes"]) == (
                    card["count"],
                    card["minutes"],
                ), name
                checked.append(name)
                continue
            found = list_behind(client, name, card)
            assert found["total"] == card["count"] == len(found["items"]), (name, card)
            _check_sums(name, card, found["items"])
            checked.append(name)
    return checked


def _check_sums(name: str, card: dict[str, Any], items: list[dict[str, Any]]) -> None:
    if name in ("approval_queue", "payments_this_month"):
        assert sum(d["amount"] for d in items) == card["amount"], name
    if name == "money_this_year":
        for field in ("amount", "committed", "paid", "available"):
            assert sum(s[field] for s in items) == card[field], (name, field)
    if name == "tranches_paid":
        assert sum(m["paid_amount"] for m in items) == card["paid"], name
    if name == "hours_pending":
        assert sum(e["minutes"] for e in items) == card["minutes"], name
    if name == "reports_awaiting_decision" and items:
        assert min(m["reported_at"] for m in items) == card["oldest_reported_at"], name
