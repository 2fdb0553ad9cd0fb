"""The money saga over HTTP across registry, projects and funding: an award commits money, an
accepted milestone opens a disbursement, a second person approves it, finance pays it, and
the milestone shows paid — including a suspension that holds the money until reinstatement."""

import csv
import io

import pytest

from tests.support.waiting import eventually

FUNDING = 15_000_000  # fen
TRANCHES = (2_000_000, 12_000_000)  # the second is above the 10,000,000 two-approver threshold


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json()


@pytest.fixture(scope="module")
def cast(platform, admin):
    city = admin.create(
        "/organizations", {"name": "泉州市妇联", "kind": "federation", "level": "city"}
    )
    provider = admin.create(
        "/organizations",
        {"name": "温馨家园社工", "kind": "service_provider", "parent_id": city["id"]},
    )
    expect(admin.post(f"/organizations/{provider['id']}/verify"), 200)
    other_city = admin.create(
        "/organizations", {"name": "漳州市妇联", "kind": "federation", "level": "city"}
    )
    users = {
        "staff": ("federation_staff", city["id"]),
        "contractor": ("contractor", provider["id"]),
        # finance officers belong to the city: they approve and pay only its money, and the
        # one who approved a disbursement is never the one who pays it
        "officer_a": ("finance_officer", city["id"]),
        "officer_b": ("finance_officer", city["id"]),
        "officer_c": ("finance_officer", city["id"]),
        "other_staff": ("federation_staff", other_city["id"]),
        "other_officer": ("finance_officer", other_city["id"]),
    }
    clients = {}
    for name, (role, organization_id) in users.items():
        admin.create(
            "/users",
            {
                "username": f"qz.{name}",
                "password": f"{name}-password",
                "role": role,
                "organization_id": organization_id,
            },
        )
        clients[name] = platform.client(platform.token(f"qz.{name}", f"{name}-password"))
    return {"city": city, "other_city": other_city, "provider": provider, **clients}


def award_from(cast, source_id, title, category, budget, milestones):
    """Draft a project on the source, publish it, have the provider apply for the milestones'
    total and award it: the contract as the award answered."""
    staff, contractor = cast["staff"], cast["contractor"]
    amount = sum(m["amount"] for m in milestones)
    project = eventually(
        lambda: expect(
            staff.post(
                "/projects",
                {
                    "title": title,
                    "category": category,
                    "model": "commissioned",
                    "funding_source_id": source_id,
                    "budget": budget,
                    "starts_on": "2027-03-01",
                    "ends_on": "2027-12-31",
                    "target_beneficiaries": 300,
                },
            ),
            201,
        )
    )
    expect(staff.post(f"/projects/{project['id']}/publish"), 200)
    application = eventually(
        lambda: expect(
            contractor.post(
                f"/projects/{project['id']}/applications",
                {"provider_id": cast["provider"]["id"], "amount": amount, "proposal": "服务方案"},
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


def deliver(cast, contract_id, milestone_id, summary, beneficiaries_served):
    """The contractor reports the milestone delivered and the staff accept it."""
    path = f"/contracts/{contract_id}/milestones/{milestone_id}"
    expect(
        cast["contractor"].post(
            f"{path}/reports", {"summary": summary, "beneficiaries_served": beneficiaries_served}
        ),
        201,
    )
    expect(cast["staff"].post(f"{path}/accept"), 200)


def test_the_money_saga(platform, cast):
    staff, contractor, officer_a, officer_b, officer_c = (
        cast["staff"],
        cast["contractor"],
        cast["officer_a"],
        cast["officer_b"],
        cast["officer_c"],
    )
    provider = cast["provider"]["id"]

    source = eventually(
        lambda: expect(
            officer_a.post(
                "/funding-sources",
                {
                    "name": "2027年市级妇女儿童发展专项资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": cast["city"]["id"],
                    "fiscal_year": 2027,
                    "amount": FUNDING,
                },
            ),
            202,
        )
    )
    sid = source["id"]
    # the initial amount is at the threshold: a second officer confirms it into the journal
    pending = source["pending_adjustment"]["id"]
    expect(officer_b.post(f"/source-adjustments/{pending}/confirm"), 200)
    contract = award_from(
        cast,
        sid,
        "家庭教育指导服务",
        "family_education",
        14_000_000,
        [
            {"title": "家长课堂", "due_on": "2027-06-30", "amount": TRANCHES[0]},
            {"title": "入户指导", "due_on": "2027-11-30", "amount": TRANCHES[1]},
        ],
    )
    pid, cid, (first, second) = contract["project_id"], contract["id"], contract["milestones"]

    # funding commits the contract amount; projects shows it
    def committed():
        assert expect(staff.get(f"/contracts/{cid}"), 200)["commitment_status"] == "committed"

    eventually(committed)
    balances = expect(officer_a.get(f"/funding-sources/{sid}"), 200)
    assert (balances["committed"], balances["available"]) == (
        sum(TRANCHES),
        FUNDING - sum(TRANCHES),
    )
    assert expect(contractor.get(f"/commitments/{cid}"), 200)["amount"] == sum(TRANCHES)

    # milestone 1 accepted → a pending disbursement in the queue
    deliver(cast, cid, first["id"], "12场家长课堂", 180)

    def in_queue(milestone_id):
        queue = expect(officer_a.get("/disbursements", params={"status": "pending"}), 200)["items"]
        found = [d for d in queue if d["milestone_id"] == milestone_id]
        assert found
        return found[0]

    d1 = eventually(lambda: in_queue(first["id"]))
    # a small tranche, but of a contract above the threshold: two approvers
    assert (d1["amount"], d1["payee_id"], d1["required_approvals"]) == (TRANCHES[0], provider, 2)
    expect(staff.post(f"/disbursements/{d1['id']}/approve"), 403, "ROLE_NOT_ALLOWED")
    expect(
        officer_a.post(f"/disbursements/{d1['id']}/pay", {"payment_reference": "TOO-EARLY"}),
        409,
        "INVALID_TRANSITION",
    )
    expect(officer_a.post(f"/disbursements/{d1['id']}/approve"), 200)
    expect(officer_b.post(f"/disbursements/{d1['id']}/approve"), 200)
    for approver in (officer_a, officer_b):  # approver ≠ payer
        refused = expect(
            approver.post(f"/disbursements/{d1['id']}/pay", {"payment_reference": "BOC-X"}),
            403,
            "MAKER_CHECKER",
        )
        assert refused["error"]["details"]["reason"] == "approved_disbursement"
    paid = officer_c.post(
        f"/disbursements/{d1['id']}/pay",
        {"payment_reference": "BOC-2027-0701"},
        headers={"Idempotency-Key": "pay-d1"},
    )
    again = officer_c.post(
        f"/disbursements/{d1['id']}/pay",
        {"payment_reference": "BOC-2027-0701"},
        headers={"Idempotency-Key": "pay-d1"},
    )
    assert (
        paid.status_code == again.status_code == 200
        and again.headers.get("Idempotent-Replayed") == "true"
    )
    assert paid.json()["status"] == "paid"

    def milestone_paid(index):
        shown = expect(contractor.get(f"/contracts/{cid}"), 200)["milestones"][index]
        assert shown["payment_status"] == "paid", shown
        return shown

    assert eventually(lambda: milestone_paid(0))["payment_reference"] == "BOC-2027-0701"

    # milestone 2: above the threshold, and the provider is suspended meanwhile
    deliver(cast, cid, second["id"], "入户指导200户", 120)
    d2 = eventually(lambda: in_queue(second["id"]))
    assert d2["required_approvals"] == 2
    expect(staff.post(f"/organizations/{provider}/suspend", {"reason": "财务审计"}), 200)

    def disbursement_status(status):
        assert expect(officer_a.get(f"/disbursements/{d2['id']}"), 200)["status"] == status

    eventually(lambda: disbursement_status("held"))
    error = expect(officer_a.post(f"/disbursements/{d2['id']}/approve"), 409, "INVALID_TRANSITION")
    assert error["error"]["details"]["current_status"] == "held"
    expect(staff.post(f"/organizations/{provider}/reinstate", {"reason": "审计通过"}), 200)
    eventually(lambda: disbursement_status("pending"))
    assert expect(officer_a.post(f"/disbursements/{d2['id']}/approve"), 200)["status"] == "pending"
    expect(officer_a.post(f"/disbursements/{d2['id']}/approve"), 403, "MAKER_CHECKER")
    assert expect(officer_b.post(f"/disbursements/{d2['id']}/approve"), 200)["status"] == "approved"
    expect(
        officer_c.post(f"/disbursements/{d2['id']}/pay", {"payment_reference": "BOC-2027-0701"}),
        409,
        "DUPLICATE_PAYMENT_REFERENCE",
    )
    expect(
        officer_a.post(f"/disbursements/{d2['id']}/pay", {"payment_reference": "BOC-2027-1130"}),
        403,
        "MAKER_CHECKER",
    )
    expect(
        officer_c.post(f"/disbursements/{d2['id']}/pay", {"payment_reference": "BOC-2027-1130"}),
        200,
    )
    eventually(lambda: milestone_paid(1))

    # the figures add up everywhere
    final = expect(officer_a.get(f"/funding-sources/{sid}"), 200)
    assert (
        final["amount"],
        final["committed"],
        final["disbursed"],
        final["paid"],
        final["available"],
    ) == (FUNDING, sum(TRANCHES), sum(TRANCHES), sum(TRANCHES), FUNDING - sum(TRANCHES))

    def project_money():
        shown = expect(staff.get(f"/projects/{pid}"), 200)
        assert (shown["amount_committed"], shown["amount_disbursed"], shown["amount_paid"]) == (
            sum(TRANCHES),
        ) * 3

    eventually(project_money)
    journal = officer_a.get("/funding-journal.csv", params={"source_id": sid})
    assert journal.status_code == 200 and journal.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(journal.content.decode("utf-8-sig"))))
    assert sum(int(r["debit"]) for r in rows) == sum(int(r["credit"]) for r in rows)
    assert {r["kind"] for r in rows} == {"receipt", "commitment", "approval", "payment"}
    payments = [r for r in rows if r["kind"] == "payment" and int(r["debit"])]
    assert sorted(r["memo"] for r in payments) == ["BOC-2027-0701", "BOC-2027-1130"]
    monthly = expect(officer_a.get("/funding-reports/monthly", params={"source_id": sid}), 200)[
        "items"
    ]
    assert sum(row.get("payment", 0) for row in monthly) == sum(TRANCHES)
    # a contractor reads no funding source at all: refused by role, whichever id it asks
    expect(contractor.get(f"/funding-sources/{sid}"), 403, "ROLE_NOT_ALLOWED")

    # another city's finance officer: the city's money is, to her, not there
    other = cast["other_officer"]
    expect(other.get(f"/funding-sources/{sid}"), 404, "FUNDING_SOURCE_NOT_FOUND")
    expect(other.get(f"/disbursements/{d2['id']}"), 404, "DISBURSEMENT_NOT_FOUND")
    expect(other.get(f"/commitments/{cid}"), 404, "COMMITMENT_NOT_FOUND")
    assert expect(other.get("/disbursements"), 200)["items"] == []
    assert sid not in {s["id"] for s in expect(other.get("/funding-sources"), 200)["items"]}
    assert not [
        line
        for line in expect(other.get("/funding-journal", params={"limit": 500}), 200)["items"]
        if line["source_id"] == sid
    ]


def test_another_city_cannot_draw_on_the_citys_money(platform, cast):
    """A project may draw only on its purchaser's source or one above it: another city's staff
    are told at once (422), not after an award."""
    officer = cast["officer_a"]
    source = expect(
        officer.post(
            "/funding-sources",
            {
                "name": "2027年市级专项资金（二）",
                "kind": "fiscal_special_fund",
                "owner_id": cast["city"]["id"],
                "fiscal_year": 2027,
                "amount": 5_000_000,
            },
        ),
        201,
    )
    body = {
        "title": "借用他市资金",
        "category": "legal_aid",
        "model": "commissioned",
        "funding_source_id": source["id"],
        "budget": 1_000_000,
        "starts_on": "2027-03-01",
        "ends_on": "2027-12-31",
    }
    error = expect(cast["other_staff"].post("/projects", body), 422, "VALIDATION_FAILED")
    assert (error["error"]["details"]["field"], error["error"]["details"]["rule"]) == (
        "funding_source_id",
        "source_not_available",
    )
    # the city's own staff may, at once (funding created it a moment ago)
    assert expect(cast["staff"].post("/projects", body), 201)["funding_source_id"] == source["id"]
    # and another city's finance officer cannot create money in the city's name
    expect(
        cast["other_officer"].post(
            "/funding-sources",
            {
                "name": "冒名资金",
                "kind": "other",
                "owner_id": cast["city"]["id"],
                "fiscal_year": 2027,
                "amount": 1,
            },
        ),
        403,
        "OUT_OF_SCOPE",
    )


def test_a_large_top_up_enters_the_journal_once_a_second_officer_confirms(platform, cast):
    officer_a, officer_b = cast["officer_a"], cast["officer_b"]
    source = expect(
        officer_a.post(
            "/funding-sources",
            {
                "name": "2027年捐赠资金",
                "kind": "donation",
                "owner_id": cast["city"]["id"],
                "fiscal_year": 2027,
                "amount": 1_000_000,
            },
        ),
        201,
    )
    asked = expect(
        officer_a.post(
            f"/funding-sources/{source['id']}/adjustments",
            {"amount": 10_000_000, "reason": "追加捐赠"},
        ),
        202,
    )
    pending = asked["pending_adjustment"]
    assert (asked["amount"], pending["status"]) == (1_000_000, "pending")
    queue = expect(officer_b.get("/source-adjustments", params={"status": "pending"}), 200)
    assert pending["id"] in [a["id"] for a in queue["items"]]
    assert expect(cast["other_officer"].get("/source-adjustments"), 200)["items"] == []
    expect(officer_a.post(f"/source-adjustments/{pending['id']}/confirm"), 403, "MAKER_CHECKER")
    expect(cast["staff"].post(f"/source-adjustments/{pending['id']}/confirm"), 403)
    confirmed = expect(officer_b.post(f"/source-adjustments/{pending['id']}/confirm"), 200)
    assert confirmed["decided_by"] != confirmed["requested_by"]
    assert expect(officer_a.get(f"/funding-sources/{source['id']}"), 200)["amount"] == 11_000_000
    lines = expect(officer_a.get("/funding-journal", params={"source_id": source["id"]}), 200)
    assert [line["cause"] for line in lines["items"]].count(f"adjustment:{pending['id']}") == 2
    small = expect(
        officer_a.post(
            f"/funding-sources/{source['id']}/adjustments", {"amount": 100, "reason": "利息"}
        ),
        201,
    )
    assert (small["amount"], small["pending_adjustment"]) == (11_000_100, None)


def test_a_milestone_of_an_unfunded_contract_shows_its_payment_rejected(platform, cast):
    """The source cannot afford the award: the contract shows the commitment refused, and once
    its milestone is accepted it shows the payment rejected with the reason — funding opened no
    disbursement and did not park the event as a dead letter."""
    staff, contractor, officer = cast["staff"], cast["contractor"], cast["officer_a"]
    source = expect(
        officer.post(
            "/funding-sources",
            {
                "name": "2027年社区小额捐赠",
                "kind": "donation",
                "owner_id": cast["city"]["id"],
                "fiscal_year": 2027,
                "amount": 500_000,
            },
        ),
        201,
    )
    contract = award_from(
        cast,
        source["id"],
        "留守老年妇女关爱服务",
        "left_behind_children_elderly_women_care",
        2_000_000,
        [{"title": "入户探访", "due_on": "2027-09-30", "amount": 2_000_000}],
    )
    cid, (milestone,) = contract["id"], contract["milestones"]

    def refused():
        shown = expect(staff.get(f"/contracts/{cid}"), 200)
        assert shown["commitment_status"] == "rejected", shown
        return shown

    assert eventually(refused)["commitment_shortfall"] == 1_500_000
    deliver(cast, cid, milestone["id"], "探访60户", 60)

    def payment_rejected():
        shown = expect(contractor.get(f"/contracts/{cid}"), 200)["milestones"][0]
        assert shown["payment_status"] == "rejected", shown
        return shown

    assert eventually(payment_rejected)["disbursement_id"] is None
    everything = expect(officer.get("/disbursements", params={"limit": 200}), 200)["items"]
    assert not [d for d in everything if d["milestone_id"] == milestone["id"]]
    assert expect(officer.get(f"/funding-sources/{source['id']}"), 200)["available"] == 500_000


def test_the_journal_export_arrives_whole_in_order_and_never_carries_a_formula(platform, cast):
    """The CSV is streamed a page at a time (5 rows in these tests): every entry of the JSON
    journal, in its order, and text that would start a spreadsheet formula quoted."""
    officer = cast["officer_a"]
    source = officer.create(
        "/funding-sources",
        {
            "name": "导出测试资金",
            "kind": "fiscal_special_fund",
            "owner_id": cast["city"]["id"],
            "fiscal_year": 2027,
            "amount": 1_000_000,
        },
    )
    reasons = ['=HYPERLINK("http://example.invalid","点我")', "-5 更正", "@SUM(A1)", "+1", "追加"]
    for number, reason in enumerate(reasons, start=1):
        expect(
            officer.post(
                f"/funding-sources/{source['id']}/adjustments",
                {"amount": 100 * number, "reason": reason},
            ),
            201,
        )
    entries, cursor = [], None
    while True:
        page = expect(
            officer.get(
                "/funding-journal",
                params={
                    "source_id": source["id"],
                    "limit": 3,
                    **({"cursor": cursor} if cursor else {}),
                },
            ),
            200,
        )
        entries += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(entries) > 5  # more than one page of the export

    exported = officer.get("/funding-journal.csv", params={"source_id": source["id"]})
    assert exported.status_code == 200, exported.text
    assert exported.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["transaction_id"], r["line"]) for r in rows] == [
        (e["transaction_id"], str(e["line"])) for e in entries
    ]
    memos = {r["memo"] for r in rows}
    assert memos >= {
        '\'=HYPERLINK("http://example.invalid","点我")',
        "'-5 更正",
        "'@SUM(A1)",
        "'+1",
        "追加",
    }
    # a negative amount is a number, not text: it is never quoted
    assert all(r["debit"].lstrip("-").isdigit() for r in rows)


def test_the_approval_queue_and_per_contract_money_come_in_one_request_each(platform, cast):
    """The finance screens' reads: each queued disbursement beside its payee, source, project,
    milestone and the milestone's report (summary, people served, evidence); per contract its
    committed, disbursed, paid and remaining — scoped like the money itself."""
    officer_a, officer_b, staff = cast["officer_a"], cast["officer_b"], cast["staff"]
    source = expect(
        officer_a.post(
            "/funding-sources",
            {
                "name": "2027年家庭教育专项资金",
                "kind": "fiscal_special_fund",
                "owner_id": cast["city"]["id"],
                "fiscal_year": 2027,
                "amount": 9_000_000,
            },
        ),
        201,
    )
    contract = award_from(
        cast,
        source["id"],
        "家庭教育讲师团进社区",
        "family_education",
        8_000_000,
        [
            {"title": "讲座筹备", "due_on": "2027-05-31", "amount": 3_000_000},
            {"title": "社区巡讲", "due_on": "2027-10-31", "amount": 4_000_000},
        ],
    )
    cid, (first, _) = contract["id"], contract["milestones"]
    path = f"/contracts/{cid}/milestones/{first['id']}"
    evidence = [
        {"name": "签到表.pdf", "type": "document", "url": "https://files.example.org/q.pdf"}
    ]
    expect(
        cast["contractor"].post(
            f"{path}/reports",
            {"summary": "完成讲师招募与6场试讲", "beneficiaries_served": 240, "evidence": evidence},
        ),
        201,
    )
    expect(staff.post(f"{path}/accept"), 200)

    def queued():
        items = expect(
            officer_a.get(
                "/approval-queue", params={"status": "pending", "source_id": source["id"]}
            ),
            200,
        )["items"]
        assert [d["milestone_id"] for d in items] == [first["id"]]
        return items[0]

    row = eventually(queued)
    assert (row["payee_name"], row["source_name"], row["project_title"]) == (
        "温馨家园社工",
        "2027年家庭教育专项资金",
        "家庭教育讲师团进社区",
    )
    assert (row["milestone"]["seq"], row["milestone"]["title"], row["amount"]) == (
        1,
        "讲座筹备",
        3_000_000,
    )
    report = row["milestone"]["report"]
    assert (report["summary"], report["beneficiaries_served"], report["decision"]) == (
        "完成讲师招募与6场试讲",
        240,
        "accepted",
    )
    assert [e["name"] for e in report["evidence"]] == ["签到表.pdf"]
    assert row["age_seconds"] >= 0 and row["required_approvals"] == 1
    # federation staff read it too; another city's officer sees none of it
    assert expect(staff.get("/approval-queue", params={"source_id": source["id"]}), 200)["items"]
    other = expect(cast["other_officer"].get("/approval-queue"), 200)["items"]
    assert cid not in {d["contract_id"] for d in other}
    expect(cast["contractor"].get("/approval-queue"), 403, "ROLE_NOT_ALLOWED")

    expect(officer_a.post(f"/disbursements/{row['id']}/approve"), 200)
    expect(
        officer_b.post(f"/disbursements/{row['id']}/pay", {"payment_reference": "ABC-0931"}), 200
    )
    paid = expect(officer_a.get("/approval-queue", params={"status": "paid"}), 200)["items"]
    assert [d["payment_reference"] for d in paid if d["id"] == row["id"]] == ["ABC-0931"]

    money = expect(officer_a.get("/commitments", params={"source_id": source["id"]}), 200)
    [line] = money["items"]
    assert (line["contract_id"], line["project_title"], line["payee_name"]) == (
        cid,
        "家庭教育讲师团进社区",
        "温馨家园社工",
    )
    assert (line["amount"], line["disbursed"], line["paid"], line["remaining"]) == (
        7_000_000,
        3_000_000,
        3_000_000,
        4_000_000,
    )
    expect(
        cast["other_officer"].get("/commitments", params={"source_id": source["id"]}),
        404,
        "FUNDING_SOURCE_NOT_FOUND",
    )
    expect(cast["contractor"].get("/commitments"), 403, "ROLE_NOT_ALLOWED")
