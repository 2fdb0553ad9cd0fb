"""A self-run project delivered to payment over HTTP (issue #11, hole 7): the purchasing
federation is awarded its own project; one of its staff reports the milestone, another accepts
it (the reporter may not); funding commits from the federation's source, one finance officer
of the federation approves and another pays, to the federation as payee; the milestone shows
paid. Nobody outside the federation reports on it."""

import pytest

from tests.support.waiting import eventually

FUNDING = 5_000_000  # fen
TRANCHE = 3_000_000  # below the two-approver threshold


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json()


@pytest.fixture(scope="module")
def cast(platform, admin):
    city = admin.create(
        "/organizations", {"name": "漳州市妇联", "kind": "federation", "level": "city"}
    )
    other = admin.create(
        "/organizations", {"name": "龙岩市妇联", "kind": "federation", "level": "city"}
    )
    provider = admin.create(
        "/organizations", {"name": "春风社工", "kind": "service_provider", "parent_id": city["id"]}
    )
    expect(admin.post(f"/organizations/{provider['id']}/verify"), 200)
    users = {
        # the award and the acceptance are staff's, never a finance officer's
        "lead": ("federation_staff", city["id"]),
        "field": ("federation_staff", city["id"]),
        "outsider": ("federation_staff", other["id"]),
        "contractor": ("contractor", provider["id"]),
        "leader": ("team_leader", city["id"]),
        # finance belongs to the purchasing federation; the approver and the payer differ
        "approver": ("finance_officer", city["id"]),
        "payer": ("finance_officer", city["id"]),
    }
    clients = {}
    for name, (role, organization_id) in users.items():
        password = f"{name}-password-zz"
        user = {"username": f"zz.{name}", "password": password, "role": role}
        created = admin.post("/users", {**user, "organization_id": organization_id})
        assert created.status_code == 201, created.text
        clients[name] = platform.client(platform.token(f"zz.{name}", password))
    return {"city": city, **clients}


def test_a_self_run_project_is_reported_accepted_and_paid_to_the_federation(cast):
    lead, field, approver, payer = cast["lead"], cast["field"], cast["approver"], cast["payer"]
    city = cast["city"]["id"]
    source = eventually(
        lambda: expect(
            approver.post(
                "/funding-sources",
                {
                    "name": "2027年市级妇女之家建设资金",
                    "kind": "fiscal_special_fund",
                    "owner_id": city,
                    "fiscal_year": 2027,
                    "amount": FUNDING,
                },
            ),
            201,
        )
    )
    project = expect(
        lead.post(
            "/projects",
            {
                "title": "妇女之家自办服务",
                "category": "family_education",
                "model": "self_run",
                "funding_source_id": source["id"],
                "budget": TRANCHE,
                "starts_on": "2027-03-01",
                "ends_on": "2027-12-31",
                "target_beneficiaries": 100,
            },
        ),
        201,
    )
    contract = expect(
        lead.post(
            f"/projects/{project['id']}/award",
            {
                "contractor_id": city,
                "amount": TRANCHE,
                "milestones": [{"title": "全年活动", "due_on": "2027-11-30", "amount": TRANCHE}],
            },
        ),
        201,
    )
    cid, (milestone,) = contract["id"], contract["milestones"]
    path = f"/contracts/{cid}/milestones/{milestone['id']}"

    def committed():
        assert expect(lead.get(f"/contracts/{cid}"), 200)["commitment_status"] == "committed"

    eventually(committed)

    # nobody outside the purchasing federation's staff reports on it, or reads it
    report = {"summary": "开展家庭教育讲座10场", "beneficiaries_served": 90}
    expect(cast["outsider"].post(f"{path}/reports", report), 404, "CONTRACT_NOT_FOUND")
    expect(cast["contractor"].post(f"{path}/reports", report), 404, "CONTRACT_NOT_FOUND")
    expect(cast["leader"].post(f"{path}/reports", report), 403, "ROLE_NOT_ALLOWED")
    expect(cast["leader"].get(f"/contracts/{cid}"), 404, "CONTRACT_NOT_FOUND")

    # one of its staff reports; she may not accept her own report; a colleague does
    expect(field.post(f"{path}/reports", report), 201)
    expect(field.post(f"{path}/accept"), 403, "SELF_ACCEPTANCE")
    accepted = expect(lead.post(f"{path}/accept"), 200)
    assert accepted["status"] == "completed"

    def in_queue():
        queue = expect(approver.get("/disbursements", params={"status": "pending"}), 200)["items"]
        found = [d for d in queue if d["milestone_id"] == milestone["id"]]
        assert found
        return found[0]

    disbursement = eventually(in_queue)
    assert (disbursement["payee_id"], disbursement["amount"]) == (city, TRANCHE)
    assert (
        expect(approver.post(f"/disbursements/{disbursement['id']}/approve"), 200)["status"]
        == "approved"
    )
    paid = expect(
        payer.post(
            f"/disbursements/{disbursement['id']}/pay", {"payment_reference": "ZZ-2027-0001"}
        ),
        200,
    )
    assert paid["status"] == "paid"

    def milestone_paid():
        shown = expect(lead.get(f"/contracts/{cid}"), 200)["milestones"][0]
        assert shown["payment_status"] == "paid", shown
        return shown

    assert eventually(milestone_paid)["payment_reference"] == "ZZ-2027-0001"
    balances = expect(approver.get(f"/funding-sources/{source['id']}"), 200)
    assert (balances["committed"], balances["paid"], balances["available"]) == (
        TRANCHE,
        TRANCHE,
        FUNDING - TRANCHE,
    )
