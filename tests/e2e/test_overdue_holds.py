"""Overdue holds end to end, over HTTP and the services' own processes: a milestone becomes
overdue (the daily check, run as of a chosen day by the system actor over signed RPC, as ops
would for a catch-up) → the contract's open disbursement is held → approve and pay are 409
naming the holds → with the contractor suspended at the same time, reinstating it is not
enough → accepting the overdue milestone's report releases it, and it is paid."""

import pytest

from tests.e2e.test_funding_saga import award_from, deliver, expect
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import eventually

SYSTEM = {
    "user_id": "00000000-0000-0000-0000-000000000000",
    "username": "system",
    "role": "admin",
}
#: noon in China 32 days after the second milestone's due date (2027-06-30): overdue
LATE = "2027-08-01T04:00:00+00:00"


@pytest.fixture(scope="module")
def cast(platform, admin):
    city = admin.create(
        "/organizations", {"name": "莆田市妇联", "kind": "federation", "level": "city"}
    )
    provider = admin.create(
        "/organizations",
        {"name": "春风社工服务中心", "kind": "service_provider", "parent_id": city["id"]},
    )
    expect(admin.post(f"/organizations/{provider['id']}/verify"), 200)
    users = {
        "staff": ("federation_staff", city["id"]),
        "contractor": ("contractor", provider["id"]),
        "officer_a": ("finance_officer", city["id"]),
        "officer_b": ("finance_officer", city["id"]),
    }
    clients = {}
    for name, (role, organization_id) in users.items():
        admin.create(
            "/users",
            {
                "username": f"pt.{name}",
                "password": f"{name}-password",
                "role": role,
                "organization_id": organization_id,
            },
        )
        clients[name] = platform.client(platform.token(f"pt.{name}", f"{name}-password"))
    return {"city": city, "provider": provider, **clients}


def run_checks(platform, as_of):
    config = {"AMQP_URI": platform.amqp_uri, "RPC_KEY": platform.rpc_key}
    with ServiceRpcProxy("projects", config) as projects:
        return projects.run_checks({"as_of": as_of}, SYSTEM)


def test_an_overdue_milestone_holds_the_money_until_its_report_is_accepted(platform, cast):
    staff, contractor = cast["staff"], cast["contractor"]
    officer_a, officer_b = cast["officer_a"], cast["officer_b"]
    provider = cast["provider"]["id"]
    source = eventually(
        lambda: expect(
            officer_a.post(
                "/funding-sources",
                {
                    "name": "2027年妇女发展专项资金（逾期）",
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
        "巾帼家政培训",
        "domestic_service_childcare_training",
        2_000_000,
        [
            {"title": "首期培训", "due_on": "2027-04-30", "amount": 1_000_000},
            {"title": "二期培训", "due_on": "2027-06-30", "amount": 1_000_000},
        ],
    )
    cid, (first, second) = contract["id"], contract["milestones"]

    def committed():
        assert expect(staff.get(f"/contracts/{cid}"), 200)["commitment_status"] == "committed"

    eventually(committed)
    deliver(cast, cid, first["id"], "首期培训60人", 60)

    def disbursement_of(milestone_id):
        found = expect(officer_a.get("/disbursements", params={"contract_id": cid}), 200)
        rows = [d for d in found["items"] if d["milestone_id"] == milestone_id]
        assert len(rows) == 1, found
        return rows[0]

    d1 = eventually(lambda: disbursement_of(first["id"]))
    assert d1["hold_reasons"] == []
    expect(officer_a.post(f"/disbursements/{d1['id']}/approve"), 200)

    # the second milestone goes past its due date by more than 30 days, no report accepted
    assert run_checks(platform, LATE).get("overdue") == 1
    assert run_checks(platform, LATE) == {}  # once

    def holds(expected_status, expected_holds):
        shown = expect(officer_a.get(f"/disbursements/{d1['id']}"), 200)
        assert (shown["status"], shown["hold_reasons"]) == (expected_status, expected_holds)

    eventually(lambda: holds("held", ["milestone_overdue"]))
    refused = expect(
        officer_b.post(f"/disbursements/{d1['id']}/pay", {"payment_reference": "OD-1"}),
        409,
        "INVALID_TRANSITION",
    )
    assert refused["error"]["details"]["current_status"] == "held"
    assert refused["error"]["details"]["holds"] == ["milestone_overdue"]
    expect(officer_b.post(f"/disbursements/{d1['id']}/approve"), 409, "INVALID_TRANSITION")

    # the report comes in late; then the contractor is suspended as well
    path = f"/contracts/{cid}/milestones/{second['id']}"
    expect(
        contractor.post(f"{path}/reports", {"summary": "二期培训", "beneficiaries_served": 40}), 201
    )
    expect(staff.post(f"/organizations/{provider}/suspend", {"reason": "年检未通过"}), 200)
    eventually(lambda: holds("held", ["payee_suspended", "milestone_overdue"]))
    expect(staff.post(f"/organizations/{provider}/reinstate", {"reason": "整改完成"}), 200)
    eventually(lambda: holds("held", ["milestone_overdue"]))  # one hold lifted, not the other
    expect(officer_b.post(f"/disbursements/{d1['id']}/pay", {"payment_reference": "OD-2"}), 409)

    # the overdue milestone's report is accepted: the money is released, then paid
    eventually(lambda: expect(staff.post(f"{path}/accept"), 200))
    eventually(lambda: holds("approved", []))
    paid = expect(
        officer_b.post(f"/disbursements/{d1['id']}/pay", {"payment_reference": "OD-3"}), 200
    )
    assert paid["status"] == "paid"
    d2 = eventually(lambda: disbursement_of(second["id"]))
    assert (d2["status"], d2["hold_reasons"]) == ("pending", [])
