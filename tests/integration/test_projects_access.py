"""Who reads and does what in projects, two federations side by side (issue #11, holes 3, 6,
7 and 8 on the projects side): in the real service, against a real broker, on SQLite and
PostgreSQL.

- drafts, contracts and milestone reports belong to the purchaser's line: a team leader, ops, a
  contractor who is not the contract's, staff and finance of another federation read none of
  them (404, and absent from lists); published projects are everybody's;
- the OCDS export names the tenderers before the award only to the purchaser's line;
- a self-run contract awarded to the purchasing federation is reported on by its staff, and
  accepted by another person;
- a deregistered provider's contracts end: terminated, reason ``provider_deregistered``.
"""

import eventlet
import pytest

from kit.rpc import RemoteFailure
from language import events as catalogue
from projects import ocds
from tests.integration import test_projects_service as base
from tests.integration.test_projects_service import MILESTONES, awarded_project, project_payload
from tests.support.events import publish_event
from tests.support.waiting import wait_until

#: the projects service and its world of two federations, as test_projects_service has them
world = base.world
svc = base.svc


def refused(call, *args):
    with pytest.raises(RemoteFailure) as failure:
        call(*args)
    return failure.value


def ids(page):
    return {item["id"] for item in page["items"]}


@pytest.fixture
def people(world):
    """Everybody who is not the city's staff, each in a role the platform knows."""
    return {
        "leader": world.actor("team_leader", world.city),
        "lone_leader": world.actor("team_leader", None),
        "ops": world.actor("ops", None),
        "other_staff": world.other_staff,
        "other_finance": world.actor("finance_officer", world.other_city),
        "finance_nowhere": world.actor("finance_officer", None),
        "rival_contractor": world.rival_contractor,
    }


def reported_contract(svc, world):
    project, contract = awarded_project(svc, world)
    milestone = contract["milestones"][0]["id"]
    svc.report_milestone(
        contract["id"],
        milestone,
        {
            "summary": "完成建档",
            "beneficiaries_served": 20,
            "evidence": [{"name": "服务对象名单.xlsx", "type": "document", "sha256": "b" * 64}],
        },
        world.contractor,
    )
    return project, contract, milestone


def test_drafts_contracts_and_reports_are_the_purchasers_lines_only(svc, world, people):
    draft = svc.draft_project(project_payload(title="未发布的草稿"), world.staff)
    project, contract, milestone = reported_contract(svc, world)

    for name, actor in people.items():
        assert refused(svc.get_project, draft["id"], actor).code == "PROJECT_NOT_FOUND", name
        listed = ids(svc.list_projects({}, actor))
        assert draft["id"] not in listed, name
        assert project["id"] in listed, name  # published: everybody's
        assert svc.get_project(project["id"], actor)["id"] == project["id"]
        assert refused(svc.get_contract, contract["id"], actor).code == "CONTRACT_NOT_FOUND", name
        assert svc.list_contracts({}, actor)["items"] == [], name
        assert svc.list_contracts({"project_id": project["id"]}, actor)["items"] == [], name
        failure = refused(svc.milestone_reports, contract["id"], milestone, actor)
        assert failure.code == "CONTRACT_NOT_FOUND", name

    # the purchaser's line reads them all: its staff, the staff above, its finance officers
    city_finance = world.actor("finance_officer", world.city)
    for actor in (world.staff, city_finance):
        assert svc.get_project(draft["id"], actor)["id"] == draft["id"]
        assert draft["id"] in ids(svc.list_projects({}, actor))
        assert svc.get_contract(contract["id"], actor)["id"] == contract["id"]
        assert ids(svc.list_contracts({}, actor)) == {contract["id"]}
        reports = svc.milestone_reports(contract["id"], milestone, actor)["items"]
        assert reports[0]["evidence"][0]["name"] == "服务对象名单.xlsx"
    # and the contractor its own contract
    assert svc.get_contract(contract["id"], world.contractor)["id"] == contract["id"]
    # staff below the purchaser do not read the city's draft or contract either
    assert refused(svc.get_project, draft["id"], world.district_staff).code == "PROJECT_NOT_FOUND"
    failure = refused(svc.get_contract, contract["id"], world.district_staff)
    assert failure.code == "CONTRACT_NOT_FOUND"


def test_the_ocds_export_names_tenderers_before_the_award_only_to_the_purchasers_line(
    svc,
    world,
    people,
):
    project = svc.draft_project(project_payload(), world.staff)
    svc.publish_project(project["id"], world.staff)
    bids = {}
    for provider, contractor in (
        (world.provider, world.contractor),
        (world.rival, world.rival_contractor),
    ):
        bids[provider] = svc.submit_application(
            project["id"],
            {"provider_id": provider, "amount": 30_000_000, "proposal": "方案"},
            contractor,
        )
    validator = ocds.load_schema_validator()

    def export(actor):
        package = svc.ocds_release_package(project["id"], actor)
        assert list(validator.iter_errors(package)) == []
        return package["releases"][0]

    hidden_from = [world.contractor, world.district_staff, *people.values()]
    for actor in hidden_from:
        release = export(actor)
        assert "tenderers" not in release["tender"], actor["role"]
        assert "numberOfTenderers" not in release["tender"]
        party_ids = {party["id"] for party in release["parties"]}
        assert not party_ids & {world.provider, world.rival}, actor["role"]
    for actor in (world.staff, {**world.staff, "role": "admin", "organization_id": None}):
        tender = export(actor)["tender"]
        assert {t["id"] for t in tender["tenderers"]} == {world.provider, world.rival}
        assert tender["numberOfTenderers"] == 2

    svc.award_contract(
        project["id"],
        {"application_id": bids[world.provider]["id"], "milestones": MILESTONES},
        world.staff,
    )
    for actor in hidden_from:  # awarded: the tender is on the public record
        tender = export(actor)["tender"]
        assert {t["id"] for t in tender["tenderers"]} == {world.provider, world.rival}


def test_a_self_run_project_is_delivered_by_the_purchasers_staff_and_accepted_by_another(
    svc,
    world,
    tap_factory,
):
    tap = tap_factory("projects", "milestone_accepted")
    reporter = world.actor("federation_staff", world.city)
    project = svc.draft_project(
        project_payload(model="self_run", title="妇女之家自办"), world.staff
    )
    contract = svc.award_contract(
        project["id"],
        {
            "contractor_id": world.city,
            "amount": 10_000_000,
            "milestones": [
                {"title": "上半年", "due_on": "2027-06-30", "amount": 4_000_000},
                {"title": "下半年", "due_on": "2027-12-01", "amount": 6_000_000},
            ],
        },
        world.staff,
    )
    first, second = (m["id"] for m in contract["milestones"])
    report = {"summary": "开展活动12场", "beneficiaries_served": 80}

    # nobody outside the purchasing federation's staff reports on it
    for outsider in (world.contractor, world.other_staff, world.district_staff):
        failure = refused(svc.report_milestone, contract["id"], first, report, outsider)
        assert failure.code in ("CONTRACT_NOT_FOUND", "OUT_OF_SCOPE"), outsider
    assert svc.report_milestone(contract["id"], first, report, reporter)["decision"] == "pending"

    # the reporter does not accept (or reject) her own report
    failure = refused(svc.accept_milestone, contract["id"], first, reporter)
    assert (failure.kind, failure.code) == ("forbidden", "SELF_ACCEPTANCE")
    failure = refused(svc.reject_milestone, contract["id"], first, {"reason": "再补"}, reporter)
    assert failure.code == "SELF_ACCEPTANCE"
    accepted = svc.accept_milestone(contract["id"], first, world.staff)
    assert accepted["milestones"][0]["status"] == "accepted"

    # the other way round: world.staff reports, the colleague accepts
    svc.report_milestone(contract["id"], second, report, world.staff)
    assert refused(svc.accept_milestone, contract["id"], second, world.staff).code == (
        "SELF_ACCEPTANCE"
    )
    done = svc.accept_milestone(contract["id"], second, reporter)
    assert done["status"] == "completed"

    events = [body for _key, body in tap.collect(2)]
    for body in events:
        catalogue.incoming("projects", "milestone_accepted", body)
    assert [(e["payee_id"], e["accepted_by"]) for e in events] == [
        (world.city, world.staff["user_id"]),
        (world.city, reporter["user_id"]),
    ]


def test_a_commissioned_contract_is_still_reported_by_its_contractor_only(svc, world):
    _project, contract = awarded_project(svc, world)
    milestone = contract["milestones"][0]["id"]
    report = {"summary": "代报", "beneficiaries_served": 1}
    failure = refused(svc.report_milestone, contract["id"], milestone, report, world.staff)
    assert failure.code == "OUT_OF_SCOPE"
    svc.report_milestone(contract["id"], milestone, report, world.contractor)


def test_a_deregistered_providers_contracts_end(svc, world):
    _project, contract = awarded_project(svc, world)
    first, second, third = (m["id"] for m in contract["milestones"])
    report = {"summary": "完成", "beneficiaries_served": 5}
    svc.report_milestone(contract["id"], first, report, world.contractor)
    svc.accept_milestone(contract["id"], first, world.staff)
    svc.report_milestone(contract["id"], second, report, world.contractor)

    world.registry.change(world.provider, "service_provider", "deregistered", "注销登记")

    def terminated():
        shown = svc.get_contract(contract["id"], world.staff)
        return shown if shown["status"] == "terminated" else None

    shown = wait_until(terminated)
    assert shown["termination_reason"] == "provider_deregistered"
    assert [m["status"] for m in shown["milestones"]] == ["accepted", "reported", "pending"]
    failure = refused(svc.report_milestone, contract["id"], third, report, world.contractor)
    assert (failure.code, failure.details["current_status"]) == ("INVALID_TRANSITION", "terminated")
    failure = refused(svc.accept_milestone, contract["id"], second, world.staff)
    assert failure.details["current_status"] == "terminated"
    # the contractor still reads its contract, and sees why it ended
    assert svc.get_contract(contract["id"], world.contractor)["status"] == "terminated"


def test_deregistration_ends_a_suspended_contract_too_and_nothing_revives_it(svc, world):
    _project, contract = awarded_project(svc, world)
    world.registry.change(world.provider, "service_provider", "suspended", "调查")
    wait_until(lambda: svc.get_contract(contract["id"], world.staff)["status"] == "suspended")
    world.registry.change(world.provider, "service_provider", "deregistered", "注销")
    wait_until(lambda: svc.get_contract(contract["id"], world.staff)["status"] == "terminated")
    # a reinstatement older than the deregistration (out of order) changes nothing
    publish_event(
        world.amqp_uri,
        "registry",
        "organization_reinstated",
        {
            "organization_id": world.provider,
            "kind": "service_provider",
            "version": world.registry.versions[world.provider] - 1,
            "status": "reinstated",
            "reason": None,
        },
    )
    eventlet.sleep(1.0)
    assert world.directory_status(world.provider).status == "deregistered"
    shown = svc.get_contract(contract["id"], world.staff)
    assert (shown["status"], shown["termination_reason"]) == ("terminated", "provider_deregistered")
