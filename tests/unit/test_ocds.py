"""The OCDS 1.1.5 export: every package validates against the vendored schema, and says what
the project's state says (parties and roles, identifiers, yuan amounts, statuses, payments)."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from language.actor import Actor
from projects import ocds
from projects.domain.application import apply_for
from projects.domain.award import award
from projects.domain.payments import Disbursement, payment_progressed
from projects.domain.project import Project

FEDERATION = "fed-0001"
PROVIDER_A = "org-provider-a"
PROVIDER_B = "org-provider-b"
PROVIDER_UNKNOWN = "org-not-in-directory"
PARTNER = "org-partner"

USCC_FEDERATION = "13350100MB01987658"
USCC_A = "91350100M000100Y43"
USCC_PARTNER = "91440300708461136T"

DIRECTORY = {
    FEDERATION: {
        "id": FEDERATION,
        "name": "福州市妇女联合会",
        "uscc": USCC_FEDERATION,
        "kind": "federation",
    },
    PROVIDER_A: {
        "id": PROVIDER_A,
        "name": "福州市馨和社会工作服务中心",
        "uscc": USCC_A,
        "kind": "service_provider",
    },
    PROVIDER_B: {
        "id": PROVIDER_B,
        "name": "仓山区巾帼家政培训学校",
        "uscc": None,
        "kind": "service_provider",
    },
    PARTNER: {
        "id": PARTNER,
        "name": "鼓楼区春蕾助学服务社",
        "uscc": USCC_PARTNER,
        "kind": "service_provider",
    },
}
ELIGIBLE = {"kind": "service_provider", "status": "verified"}

STAFF = Actor("u-staff", "lin.staff", "federation_staff", FEDERATION)
CONTRACTOR_A = Actor("u-a", "chen.a", "contractor", PROVIDER_A)
CONTRACTOR_B = Actor("u-b", "wu.b", "contractor", PROVIDER_B)
CONTRACTOR_X = Actor("u-x", "zhao.x", "contractor", PROVIDER_UNKNOWN)

T0 = datetime(2025, 1, 6, 1, 30, tzinfo=UTC)
PUBLISHED_AT = datetime(2025, 9, 1, 4, 0, tzinfo=UTC)

BUDGET = 12_345_678  # fen: 123,456.78 yuan
INDICATORS = [{"name": "服务人次", "target": 300, "unit": "人次"}]


def at(days, hours=0):
    return T0 + timedelta(days=days, hours=hours)


def new_project(model="commissioned", description="为单亲母亲家庭提供心理疏导、就业帮扶与亲子教育"):
    return Project(
        title="单亲母亲家庭关爱服务项目",
        category="single_mother_family_services",
        model=model,
        purchaser_id=FEDERATION,
        funding_source_id="fs-2025-fiscal-special",
        budget=BUDGET,
        starts_on=date(2025, 3, 1),
        ends_on=date(2025, 12, 31),
        target_beneficiaries=300,
        indicators=INDICATORS,
        description=description,
        created_by=STAFF.user_id,
        created_at=T0,
    )


def published_project():
    project = new_project()
    project.publish(STAFF, at(1))
    applications = [
        apply_for(
            project,
            provider_id=PROVIDER_A,
            provider=ELIGIBLE,
            amount=11_000_029,
            proposal="社工一对一个案服务",
            actor=CONTRACTOR_A,
            at=at(3),
        ),
        apply_for(
            project,
            provider_id=PROVIDER_B,
            provider=ELIGIBLE,
            amount=9_900_000,
            proposal="家政技能培训",
            actor=CONTRACTOR_B,
            at=at(4),
        ),
        apply_for(
            project,
            provider_id=PROVIDER_UNKNOWN,
            provider=ELIGIBLE,
            amount=10_000_000,
            proposal="亲子课堂",
            actor=CONTRACTOR_X,
            at=at(5),
        ),
    ]
    return project, applications


MILESTONES = [
    {
        "title": "需求评估与建档",
        "deliverables": "完成 300 户需求评估，建立服务档案",
        "due_on": date(2025, 4, 30),
        "amount": 3_300_001,
    },
    {
        "title": "中期服务",
        "deliverables": "个案服务 150 人次，小组活动 6 场",
        "due_on": date(2025, 8, 31),
        "amount": 4_400_029,
    },
    {"title": "结项", "deliverables": "", "due_on": date(2025, 12, 15), "amount": 3_299_999},
]


def awarded_project():
    project, applications = published_project()
    contract = award(
        project,
        application=applications[0],
        contractor_id=PROVIDER_A,
        contractor=ELIGIBLE,
        amount=None,
        milestones=MILESTONES,
        applications=applications,
        actor=STAFF,
        at=at(10),
    )
    return project, applications, contract


def paid(contract, milestone, project, amount, when, reference):
    event = Disbursement(
        disbursement_id=f"disb-{milestone.seq}",
        amount=amount,
        occurred_at=when,
        payment_reference=reference,
    )
    payment_progressed(contract, milestone, project, "disbursement_approved", event)
    payment_progressed(contract, milestone, project, "disbursement_paid", event)


def report(contract, milestone, when):
    return contract.report(
        milestone,
        summary="按计划完成",
        beneficiaries_served=100,
        evidence=[{"kind": "photo", "url": "https://files.example/evidence.jpg"}],
        indicator_values={"服务人次": 100},
        actor=CONTRACTOR_A,
        at=when,
    )


def delivered_project():
    """Milestone 1 accepted and paid, milestone 2 rejected, milestone 3 reported."""
    project, applications, contract = awarded_project()
    first, second, third = contract.milestones
    contract.accept(first, report(contract, first, at(100)), project, STAFF, at(102))
    paid(contract, first, project, first.amount, at(110), "BANK-2025-0001")
    contract.reject(second, report(contract, second, at(200)), "证据不足", STAFF, at(201))
    report(contract, third, at(300))
    return project, applications, contract


def export(project, contract=None, applications=(), parties=DIRECTORY, uri=None):
    package = ocds.release_package(
        project,
        contract,
        None if applications is None else list(applications),
        parties,
        ocid_prefix="ocds-jinguo",
        publisher_name="Jinguo",
        published_at=PUBLISHED_AT,
        uri=uri,
    )
    assert_valid(package)
    return package, package["releases"][0]


def assert_valid(package):
    # JSON-ready: plain types only, no NaN, survives a round trip unchanged
    assert json.loads(json.dumps(package, allow_nan=False, ensure_ascii=False)) == package
    errors = sorted(ocds.load_schema_validator().iter_errors(package), key=lambda e: list(e.path))
    details = "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
    assert not errors, f"the package does not validate:\n{details}"


def party(release, organization_id):
    matches = [p for p in release["parties"] if p["id"] == organization_id]
    assert len(matches) == 1, f"{organization_id} appears {len(matches)} times in parties"
    return matches[0]


def yuan(fen):
    return {"amount": fen / 100, "currency": "CNY"}


# --- the package ------------------------------------------------------------------------------


def test_a_draft_is_planning_only():
    project = new_project()
    package, release = export(project)

    assert package["version"] == "1.1"
    assert package["publisher"] == {"name": "Jinguo"}
    assert package["publishedDate"] == "2025-09-01T04:00:00Z"
    assert package["uri"].startswith("urn:uuid:")
    assert release["ocid"] == f"ocds-jinguo-{project.id}"
    assert release["id"].startswith(f"ocds-jinguo-{project.id}-{project.version}-")
    assert release["tag"] == ["planning"]
    assert release["initiationType"] == "tender"
    assert release["language"] == "zh"
    assert release["date"] == "2025-01-06T01:30:00Z"

    buyer = party(release, FEDERATION)
    assert buyer["name"] == "福州市妇女联合会"
    assert buyer["roles"] == ["buyer", "procuringEntity", "payer"]
    assert buyer["identifier"] == {
        "scheme": "CN-USCI",
        "id": USCC_FEDERATION,
        "legalName": "福州市妇女联合会",
    }
    assert len(release["parties"]) == 1
    assert release["buyer"] == {"id": FEDERATION, "name": "福州市妇女联合会"}

    assert release["planning"]["rationale"] == project.description
    assert release["planning"]["budget"]["id"] == "fs-2025-fiscal-special"
    assert release["planning"]["budget"]["amount"] == {"amount": 123456.78, "currency": "CNY"}

    tender = release["tender"]
    assert tender["status"] == "planning"
    assert tender["value"] == yuan(BUDGET)
    assert tender["procurementMethod"] == "open"
    assert tender["mainProcurementCategory"] == "services"
    assert tender["procuringEntity"] == release["buyer"]
    assert tender["contractPeriod"] == {
        "startDate": "2025-03-01T00:00:00+08:00",
        "endDate": "2025-12-31T23:59:59+08:00",
    }
    assert "tenderPeriod" not in tender
    assert "tenderers" not in tender
    assert "awards" not in release
    assert "contracts" not in release


def test_the_given_uri_and_no_description():
    project = new_project(description=None)
    package, release = export(project, uri="https://jinguo.example/ocds/p/1.json")
    assert package["uri"] == "https://jinguo.example/ocds/p/1.json"
    assert "rationale" not in release["planning"]
    assert "description" not in release["tender"]


def test_a_published_project_lists_its_tenderers():
    project, applications = published_project()
    _, release = export(project, applications=applications)

    assert release["tag"] == ["planning", "tender"]
    tender = release["tender"]
    assert tender["status"] == "active"
    assert tender["tenderPeriod"] == {"startDate": "2025-01-07T01:30:00Z"}
    assert tender["numberOfTenderers"] == 3
    assert [t["id"] for t in tender["tenderers"]] == [PROVIDER_A, PROVIDER_B, PROVIDER_UNKNOWN]

    assert party(release, PROVIDER_A)["roles"] == ["tenderer"]
    assert party(release, PROVIDER_A)["identifier"]["id"] == USCC_A
    # no USCC known: no identifier; not in the directory at all: named by its id
    assert "identifier" not in party(release, PROVIDER_B)
    unknown = party(release, PROVIDER_UNKNOWN)
    assert unknown["name"] == PROVIDER_UNKNOWN
    assert "identifier" not in unknown
    assert release["date"] == "2025-01-11T01:30:00Z"  # the last application


def test_tenderers_withheld_before_the_award_leave_no_trace():
    """``applications=None``: the reader may not know the bidders — no tenderers, no count,
    no tenderer parties, and the release is dated as if nobody had applied."""
    project, applications = published_project()
    _, release = export(project, applications=None)
    _, nobody = export(project, applications=[])
    assert "tenderers" not in release["tender"]
    assert "numberOfTenderers" not in release["tender"]
    assert [p["id"] for p in release["parties"]] == [FEDERATION]
    assert release["date"] == nobody["date"] == _z(project.published_at)
    assert release["id"] != export(project, applications=applications)[1]["id"]


def test_an_awarded_commissioned_project():
    project, applications, contract = awarded_project()
    _, release = export(project, contract, applications)

    assert release["tag"] == ["planning", "tender", "award", "contract"]
    assert release["tender"]["status"] == "complete"
    supplier = party(release, PROVIDER_A)
    assert supplier["roles"] == ["tenderer", "supplier", "payee"]  # merged, not repeated
    assert len(release["parties"]) == 4

    (award,) = release["awards"]
    assert award["status"] == "active"
    assert award["date"] == "2025-01-16T01:30:00Z"
    assert award["value"] == yuan(11_000_029) == {"amount": 110000.29, "currency": "CNY"}
    assert award["suppliers"] == [{"id": PROVIDER_A, "name": "福州市馨和社会工作服务中心"}]

    (ocds_contract,) = release["contracts"]
    assert ocds_contract["id"] == contract.id
    assert ocds_contract["awardID"] == award["id"]
    assert ocds_contract["status"] == "active"
    assert ocds_contract["value"] == yuan(contract.amount)
    assert ocds_contract["dateSigned"] == award["date"]
    assert ocds_contract["period"] == {
        "startDate": "2025-03-01T00:00:00+08:00",
        "endDate": "2025-12-31T23:59:59+08:00",
    }
    milestones = ocds_contract["milestones"]
    assert [m["id"] for m in milestones] == [m.id for m in contract.milestones]
    assert [m["status"] for m in milestones] == ["scheduled"] * 3
    assert milestones[0] == {
        "id": contract.milestones[0].id,
        "title": "需求评估与建档",
        "type": "delivery",
        "description": "完成 300 户需求评估，建立服务档案",
        "dueDate": "2025-04-30T23:59:59+08:00",
        "status": "scheduled",
    }
    assert "description" not in milestones[2]  # no deliverables given
    assert all("value" not in m for m in milestones)  # no such field in OCDS 1.1.5
    assert "implementation" not in ocds_contract


def test_a_self_run_project_awarded_to_the_purchaser_itself():
    project = new_project(model="self_run")
    contract = award(
        project,
        application=None,
        contractor_id=FEDERATION,
        contractor=None,
        amount=10_000_000,
        milestones=[{"title": "全年服务", "due_on": date(2025, 12, 31), "amount": 10_000_000}],
        applications=[],
        actor=STAFF,
        at=at(2),
    )
    _, release = export(project, contract)

    assert release["tag"] == ["planning", "award", "contract"]  # never published as a tender
    (federation,) = release["parties"]
    assert federation["roles"] == ["buyer", "procuringEntity", "payer", "supplier", "payee"]
    assert release["tender"]["procurementMethod"] == "direct"
    assert release["tender"]["status"] == "complete"
    assert "tenderers" not in release["tender"]
    assert "numberOfTenderers" not in release["tender"]
    assert release["awards"][0]["suppliers"] == [release["buyer"]]
    assert release["awards"][0]["value"] == {"amount": 100000.0, "currency": "CNY"}


def test_a_self_run_project_awarded_to_a_partner():
    project = new_project(model="self_run")
    project.publish(STAFF, at(1))
    contract = award(
        project,
        application=None,
        contractor_id=PARTNER,
        contractor=ELIGIBLE,
        amount=5_000_001,
        milestones=[{"title": "助学金发放", "due_on": date(2025, 9, 1), "amount": 5_000_001}],
        applications=[],
        actor=STAFF,
        at=at(2),
    )
    _, release = export(project, contract)
    assert party(release, PARTNER)["roles"] == ["supplier", "payee"]
    assert party(release, PARTNER)["identifier"]["id"] == USCC_PARTNER
    assert "tenderers" not in release["tender"]


def test_accepted_rejected_reported_and_paid_milestones():
    project, applications, contract = delivered_project()
    first = contract.milestones[0]
    _, release = export(project, contract, applications)

    assert release["tag"] == ["planning", "tender", "award", "contract", "implementation"]
    (ocds_contract,) = release["contracts"]
    milestones = ocds_contract["milestones"]
    assert [m["status"] for m in milestones] == ["met", "notMet", "scheduled"]
    assert milestones[0]["dateMet"] == milestones[0]["dateModified"] == "2025-04-18T01:30:00Z"
    assert "dateMet" not in milestones[1]
    assert "dateMet" not in milestones[2]
    assert milestones[2]["dateModified"] == "2025-11-02T01:30:00Z"  # reported, not yet decided

    implementation = ocds_contract["implementation"]
    assert implementation["milestones"] == milestones
    (transaction,) = implementation["transactions"]
    assert transaction == {
        "id": "BANK-2025-0001",
        "date": "2025-04-26T01:30:00Z",
        "value": {"amount": 33000.01, "currency": "CNY"},
        "payer": release["buyer"],
        "payee": {"id": PROVIDER_A, "name": "福州市馨和社会工作服务中心"},
    }
    assert round(transaction["value"]["amount"] * 100) == first.paid_amount == 3_300_001
    assert release["date"] == "2025-11-02T01:30:00Z"


def test_every_paid_milestone_is_a_transaction():
    project, applications, contract = delivered_project()
    second = contract.milestones[1]
    contract.accept(second, report(contract, second, at(210)), project, STAFF, at(211))
    paid(contract, second, project, second.amount, at(220), None)  # no bank reference
    _, release = export(project, contract, applications)

    transactions = release["contracts"][0]["implementation"]["transactions"]
    assert [t["id"] for t in transactions] == ["BANK-2025-0001", "disb-2"]
    assert [t["value"]["amount"] for t in transactions] == [33000.01, 44000.29]
    assert sum(round(t["value"]["amount"] * 100) for t in transactions) == project.amount_paid


def test_a_project_cancelled_before_its_award():
    project, applications = published_project()
    project.cancel("财政资金调整", STAFF, at(8), None)
    _, release = export(project, applications=applications)

    assert release["tender"]["status"] == "cancelled"
    assert release["tag"] == ["planning", "tender", "tenderCancellation"]
    assert "awards" not in release


def test_a_cancelled_draft():
    project = new_project()
    project.cancel("重复立项", STAFF, at(1), None)
    _, release = export(project)
    assert release["tender"]["status"] == "cancelled"
    assert release["tag"] == ["planning"]


def test_a_project_cancelled_after_its_award():
    project, applications, contract = awarded_project()
    project.cancel("承接方无法履约", STAFF, at(20), contract)
    _, release = export(project, contract, applications)

    assert release["tender"]["status"] == "complete"  # the tender did end in an award
    assert release["awards"][0]["status"] == "cancelled"
    # the contract was in force (signed at the award): ended early, "terminated" in OCDS
    assert release["contracts"][0]["status"] == "terminated"
    assert release["tag"] == [
        "planning",
        "tender",
        "award",
        "contract",
        "awardCancellation",
        "contractTermination",
    ]


def test_a_closed_project_terminates_its_contract():
    project, applications, contract = delivered_project()
    project.evaluate(
        {
            "scores": [{"indicator": "服务人次", "score": 88, "weight": 1}],
            "evaluated_on": date(2025, 12, 20),
            "evaluator": "第三方评估机构",
        },
        STAFF,
        at(350),
    )
    project.close(STAFF, at(351), contract)
    _, release = export(project, contract, applications)

    assert release["awards"][0]["status"] == "active"
    assert release["contracts"][0]["status"] == "terminated"
    assert release["tag"][-1] == "contractTermination"
    assert release["date"] == _z(at(351))


def test_a_suspended_contract_is_still_active():
    project, applications, contract = awarded_project()
    assert contract.contractor_standing_changed(True, 1, at(30))
    _, release = export(project, contract, applications)
    assert release["contracts"][0]["status"] == "active"


def test_a_contract_ended_by_deregistration_is_terminated():
    project, applications, contract = delivered_project()
    assert contract.contractor_deregistered("service_provider", 2, at(400))
    _, release = export(project, contract, applications)
    assert release["contracts"][0]["status"] == "terminated"
    assert release["awards"][0]["status"] == "active"
    assert release["tag"][-1] == "contractTermination"


# --- release identity -------------------------------------------------------------------------


def test_the_release_id_follows_the_state():
    project, applications, contract = awarded_project()
    first = contract.milestones[0]
    contract.accept(first, report(contract, first, at(100)), project, STAFF, at(102))
    _, before = export(project, contract, applications)
    _, again = export(project, contract, applications)
    assert again["id"] == before["id"]

    version = project.version
    paid(contract, first, project, first.amount, at(110), "BANK-1")
    assert project.version == version  # a payment does not bump the project's version
    _, after = export(project, contract, applications)
    assert after["id"] != before["id"]
    assert after["id"].startswith(f"ocds-jinguo-{project.id}-{version}-")
    assert after["date"] == "2025-04-26T01:30:00Z"


def test_foreign_objects_are_refused():
    _, applications = published_project()
    other = new_project()
    with pytest.raises(ValueError, match="not for project"):
        ocds.release_package(
            other,
            None,
            applications,
            DIRECTORY,
            ocid_prefix="ocds-jinguo",
            publisher_name="Jinguo",
            published_at=PUBLISHED_AT,
        )


# --- amounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "amount"),
    [(0, 0.0), (1, 0.01), (29, 0.29), (10, 0.1), (12345, 123.45), (99_999_999_999, 999999999.99)],
)
def test_fen_become_yuan(fen, amount):
    assert ocds._yuan(fen) == amount


@given(st.integers(min_value=0, max_value=10**13))
def test_no_fen_is_lost(fen):
    amount = ocds._yuan(fen)
    assert round(amount * 100) == fen
    assert repr(amount) == repr(float(f"{fen // 100}.{fen % 100:02d}"))


def test_amounts_must_be_fen():
    with pytest.raises(TypeError):
        ocds._yuan(12.5)
    with pytest.raises(ValueError, match="exactly"):
        ocds._yuan(2**60 + 1)


# --- the validator ----------------------------------------------------------------------------


def test_the_validator_follows_the_release_schema_offline():
    project = new_project()
    package, _ = export(project)
    broken = json.loads(json.dumps(package))
    release = broken["releases"][0]
    release["tender"]["status"] = "open"  # not a tenderStatus code
    release["date"] = "2025-01-06T01:30:00"  # no offset
    release["tender"]["value"]["amount"] = "123456.78"  # not a number
    del release["initiationType"]

    errors = list(ocds.load_schema_validator().iter_errors(broken))
    paths = sorted("/".join(map(str, e.absolute_path)) for e in errors)
    assert paths == [
        "releases/0",
        "releases/0/date",
        "releases/0/tender/status",
        "releases/0/tender/value/amount",
    ]


def _z(moment):
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
