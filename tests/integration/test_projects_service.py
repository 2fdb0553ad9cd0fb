"""The projects service in a real container, against a real broker and both databases.

Provider status and the federation hierarchy reach projects as registry events (published
here as the registry would); money facts arrive as funding's events.
"""

import uuid
from pathlib import Path

import eventlet
import pytest
import sqlalchemy as sa

from funding.service import FundingService
from kit.changes import follow
from kit.config import load_config
from kit.db import connect
from kit.migrate import drift, upgrade
from kit.rpc import RemoteFailure
from kit.tables import outbox
from language import events as catalogue
from language.directory import metadata as directory_metadata
from language.directory import organizations as directory
from projects.models import (
    applications,
    contracts,
    funding_sources,
    metadata,
    milestones,
    projects,
)
from projects.service import ProjectsService
from tests.conftest import free_port
from tests.support.events import publish_event
from tests.support.infra import scratch_postgres_database
from tests.support.paging import walk
from tests.support.registry_events import FakeRegistry
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import wait_until

ADMIN = {"user_id": "a0000000-0000-4000-8000-000000000001", "username": "admin", "role": "admin"}
ROOT = Path(__file__).resolve().parents[2]
FUNDING_SOURCE = "f0000000-0000-4000-8000-00000000f001"  # the city's
DISTRICT_SOURCE = "f0000000-0000-4000-8000-00000000f002"  # the district's (under the city)
OTHER_SOURCE = "f0000000-0000-4000-8000-00000000f003"  # the other city's


class World:
    """A city federation with a district, its staff, and providers in various standings."""

    def __init__(self, amqp_uri, db_url):
        self.registry = FakeRegistry(amqp_uri)
        self.amqp_uri = amqp_uri
        self.db_url = db_url
        self.city = self.registry.register(
            "federation", "某市妇联", level="city", uscc="91350100M000100Y43"
        )
        self.district = self.registry.register("federation", "某区妇联", self.city, level="county")
        self.other_city = self.registry.register("federation", "另一市妇联", level="city")
        self.provider = self.registry.register("service_provider", "阳光社工事务所", self.city)
        self.registry.change(self.provider, "service_provider", "verified")
        self.rival = self.registry.register("service_provider", "春晖社工", self.city)
        self.registry.change(self.rival, "service_provider", "verified")
        self.unverified = self.registry.register("service_provider", "新成立社工", self.city)
        self.wait_for_directory(
            {self.city, self.district, self.other_city, self.provider, self.rival, self.unverified}
        )
        for source_id, owner_id in (
            (FUNDING_SOURCE, self.city),
            (DISTRICT_SOURCE, self.district),
            (OTHER_SOURCE, self.other_city),
        ):  # as funding announces the sources it creates
            publish_event(
                amqp_uri,
                "funding",
                "funding_source_created",
                {"funding_source_id": source_id, "owner_id": owner_id, "version": 1},
            )
        wait_until(lambda: count(db_url, funding_sources) == 3)
        self.staff = self.actor("federation_staff", self.city)
        self.district_staff = self.actor("federation_staff", self.district)
        self.other_staff = self.actor("federation_staff", self.other_city)
        self.contractor = self.actor("contractor", self.provider)
        self.rival_contractor = self.actor("contractor", self.rival)

    @staticmethod
    def actor(role, organization_id):
        return {
            "user_id": str(uuid.uuid4()),
            "username": role,
            "role": role,
            "organization_id": organization_id,
        }

    def directory_status(self, organization_id):
        with connect(self.db_url) as db, db.begin(write=False) as connection:
            return connection.execute(
                sa.select(directory.c.status, directory.c.name).where(
                    directory.c.id == organization_id
                )
            ).first()

    def wait_for_directory(self, ids):
        expected = {
            oid: "registered" if self.registry.versions[oid] == 1 else "verified" for oid in ids
        }

        def known():
            """every organization of the world is in the directory, with its status"""
            with connect(self.db_url) as db, db.begin(write=False) as connection:
                rows = connection.execute(
                    sa.select(directory.c.id, directory.c.name, directory.c.status).where(
                        directory.c.id.in_(ids)
                    )
                ).all()
            return {row.id: row.status for row in rows if row.name} == expected

        wait_until(known)


@pytest.fixture
def world(container_factory, projects_config, projects_db, rabbit_config):
    container_factory(ProjectsService, projects_config).start()
    return World(rabbit_config["AMQP_URI"], projects_db)


@pytest.fixture
def svc(world, projects_config):
    with ServiceRpcProxy("projects", projects_config) as proxy:
        yield proxy


def project_payload(**overrides):
    payload = {
        "title": "单亲母亲家庭关爱服务项目",
        "category": "single_mother_family_services",
        "model": "commissioned",
        "funding_source_id": FUNDING_SOURCE,
        "budget": 30_000_000,
        "starts_on": "2027-01-01",
        "ends_on": "2027-12-31",
        "target_beneficiaries": 200,
        "indicators": [
            {"name": "心理辅导人次", "target": 400, "unit": "人次"},
            {"name": "就业帮扶人数", "target": 50, "unit": "人"},
        ],
    }
    payload.update(overrides)
    return payload


MILESTONES = [
    {
        "title": "需求评估与建档",
        "deliverables": "200户档案",
        "due_on": "2027-03-31",
        "amount": 9_000_000,
    },
    {
        "title": "服务实施",
        "deliverables": "辅导400人次",
        "due_on": "2027-09-30",
        "amount": 15_000_000,
    },
    {"title": "总结评估", "deliverables": "结项报告", "due_on": "2027-12-15", "amount": 6_000_000},
]


def count(db_url, table):
    with connect(db_url) as db, db.begin(write=False) as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def writes(db_url):
    return tuple(
        count(db_url, table) for table in (projects, applications, contracts, milestones, outbox)
    )


def hours_verified(world, project_id, *, minutes):
    """As the volunteers service announces verified service hours."""
    publish_event(
        world.amqp_uri,
        "volunteers",
        "service_hours_verified",
        {
            "entry_id": str(uuid.uuid4()),
            "volunteer_id": str(uuid.uuid4()),
            "activity_id": str(uuid.uuid4()),
            "project_id": project_id,
            "minutes": minutes,
            "verified_by": "leader",
        },
    )


def awarded_project(svc, world, **overrides):
    project = svc.draft_project(project_payload(**overrides), world.staff)
    svc.publish_project(project["id"], world.staff)
    application = svc.submit_application(
        project["id"],
        {"provider_id": world.provider, "amount": 30_000_000, "proposal": "方案"},
        world.contractor,
    )
    contract = svc.award_contract(
        project["id"], {"application_id": application["id"], "milestones": MILESTONES}, world.staff
    )
    return project, contract


def test_from_draft_to_close_publishes_the_flow_in_order(svc, world, tap_factory):
    tap = tap_factory("projects")
    project, contract = awarded_project(svc, world)
    assert contract["amount"] == 30_000_000
    assert [m["seq"] for m in contract["milestones"]] == [1, 2, 3]
    assert contract["commitment_status"] == "pending"
    first = contract["milestones"][0]

    report = svc.report_milestone(
        contract["id"],
        first["id"],
        {
            "summary": "完成200户建档",
            "beneficiaries_served": 200,
            "evidence": [{"name": "档案清单.pdf", "type": "document", "sha256": "a" * 64}],
            "indicator_values": {"心理辅导人次": 120},
        },
        world.contractor,
    )
    assert report["decision"] == "pending"
    accepted = svc.accept_milestone(contract["id"], first["id"], world.staff)
    assert accepted["milestones"][0]["status"] == "accepted"
    assert accepted["milestones"][0]["accepted_on_time"] is True

    events = tap.collect(4)
    assert [key for key, _ in events] == [
        "project_published",
        "contract_awarded",
        "milestone_reported",
        "milestone_accepted",
    ]
    for key, body in events:
        catalogue.incoming("projects", key, body)
    accepted_event = events[3][1]
    assert accepted_event["amount"] == 9_000_000
    assert accepted_event["payee_id"] == world.provider
    assert accepted_event["funding_source_id"] == FUNDING_SOURCE
    assert accepted_event["accepted_by"] == world.staff["user_id"]
    awarded_event = events[1][1]
    assert sum(m["amount"] for m in awarded_event["milestones"]) == 30_000_000

    shown = svc.get_project(project["id"], world.staff)
    assert shown["status"] == "awarded" and shown["beneficiaries_served"] == 200
    evaluated = svc.evaluate_project(
        project["id"],
        {
            "scores": [
                {"indicator": "心理辅导人次", "score": 90, "weight": 60},
                {"indicator": "就业帮扶人数", "score": 75, "weight": 40},
            ],
            "evaluator": "第三方评估机构",
            "evaluated_on": "2027-12-20",
        },
        world.staff,
    )
    assert evaluated["evaluation"]["overall"] == 84.0
    closed = svc.close_project(project["id"], world.staff)
    assert closed["status"] == "closed"
    assert [key for key, _ in tap.collect(5)][-1] == "project_closed"


def test_money_and_hours_from_other_services_show_on_the_project(svc, world):
    project, contract = awarded_project(svc, world)
    milestone = contract["milestones"][0]
    svc.report_milestone(
        contract["id"],
        milestone["id"],
        {"summary": "完成", "beneficiaries_served": 10},
        world.contractor,
    )
    svc.accept_milestone(contract["id"], milestone["id"], world.staff)
    base = {
        "contract_id": contract["id"],
        "project_id": project["id"],
        "funding_source_id": FUNDING_SOURCE,
    }
    publish_event(
        world.amqp_uri,
        "funding",
        "commitment_made",
        {**base, "commitment_id": str(uuid.uuid4()), "amount": 30_000_000},
    )
    disbursement = {
        "disbursement_id": str(uuid.uuid4()),
        "contract_id": contract["id"],
        "milestone_id": milestone["id"],
        "amount": 9_000_000,
    }
    # paid overtakes approved (different queues): the milestone still ends paid, counted once
    publish_event(
        world.amqp_uri,
        "funding",
        "disbursement_requested",
        {
            **disbursement,
            "payee_id": world.provider,
            "funding_source_id": FUNDING_SOURCE,
            "requested_by": "system",
            "occurred_at": "2027-04-01T01:00:00+00:00",
        },
    )
    publish_event(
        world.amqp_uri,
        "funding",
        "disbursement_paid",
        {
            **disbursement,
            "payment_reference": "PAY-2027-0001",
            "paid_by": "finance",
            "occurred_at": "2027-04-03T01:00:00+00:00",
        },
    )
    publish_event(
        world.amqp_uri,
        "funding",
        "disbursement_approved",
        {**disbursement, "approved_by": ["finance"], "occurred_at": "2027-04-02T01:00:00+00:00"},
    )
    hours_verified(world, project["id"], minutes=150)

    def settled():
        shown = svc.get_project(project["id"], world.staff)
        return (
            shown["amount_committed"],
            shown["amount_disbursed"],
            shown["amount_paid"],
            shown["volunteer_hours"],
        ) == (30_000_000, 9_000_000, 9_000_000, 2.5)

    wait_until(settled)
    shown = svc.get_contract(contract["id"], world.contractor)
    assert shown["commitment_status"] == "committed"
    assert shown["milestones"][0]["payment_status"] == "paid"
    assert shown["milestones"][0]["payment_reference"] == "PAY-2027-0001"
    report = svc.delivery_report(project["id"], world.staff)
    assert report["money"] == {
        "budget": 30_000_000,
        "contracted": 30_000_000,
        "committed": 30_000_000,
        "disbursed": 9_000_000,
        "paid": 9_000_000,
    }
    assert report["volunteer_hours"] == 2.5
    assert report["milestones"]["accepted"] == 1 and report["milestones"]["on_time"] == 1


def test_commitment_rejected_shows_on_the_contract(svc, world):
    project, contract = awarded_project(svc, world)
    publish_event(
        world.amqp_uri,
        "funding",
        "commitment_rejected",
        {
            "contract_id": contract["id"],
            "project_id": project["id"],
            "funding_source_id": FUNDING_SOURCE,
            "amount": 30_000_000,
            "shortfall": 5_000_000,
            "reason": "可用资金不足",
        },
    )
    wait_until(
        lambda: svc.get_contract(contract["id"], world.staff)["commitment_status"] == "rejected"
    )
    assert svc.get_contract(contract["id"], world.staff)["commitment_shortfall"] == 5_000_000


def test_bad_requests_are_refused_and_write_nothing(svc, world, projects_db):
    project = svc.draft_project(project_payload(), world.staff)
    svc.publish_project(project["id"], world.staff)
    application = svc.submit_application(
        project["id"],
        {"provider_id": world.provider, "amount": 28_000_000, "proposal": "方案"},
        world.contractor,
    )
    before = writes(projects_db)

    def refused(call, *args, code=None, kind=None):
        with pytest.raises(RemoteFailure) as failure:
            call(*args)
        if code:
            assert failure.value.code == code, failure.value.details
        if kind:
            assert failure.value.kind == kind
        return failure.value

    def milestones(*amounts, due="2027-06-30"):
        return [{"title": f"阶段{i}", "due_on": due, "amount": a} for i, a in enumerate(amounts)]

    award = {"application_id": application["id"]}
    error = refused(
        svc.award_contract,
        project["id"],
        {**award, "milestones": milestones(10_000_000, 10_000_000)},
        world.staff,
        code="VALIDATION_FAILED",
    )
    assert error.details["rule"] == "tranches_add_up" and error.details["difference"] == -8_000_000
    error = refused(
        svc.award_contract,
        project["id"],
        {**award, "milestones": milestones(28_000_000, due="2028-01-05")},
        world.staff,
    )
    assert (
        error.details["rule"] == "within_project_period"
        and error.details["field"] == "milestones[0].due_on"
    )
    error = refused(
        svc.award_contract,
        project["id"],
        {**award, "amount": 31_000_000, "milestones": milestones(31_000_000)},
        world.staff,
    )
    assert error.details["rule"] == "within_budget"
    refused(
        svc.award_contract,
        project["id"],
        {"application_id": str(uuid.uuid4()), "milestones": milestones(28_000_000)},
        world.staff,
        code="APPLICATION_NOT_FOUND",
    )
    refused(
        svc.submit_application,
        project["id"],
        {"provider_id": world.provider, "amount": 1, "proposal": "再来"},
        world.contractor,
        code="DUPLICATE_APPLICATION",
    )
    error = refused(
        svc.submit_application,
        project["id"],
        {"provider_id": world.unverified, "amount": 1, "proposal": "x"},
        world.actor("contractor", world.unverified),
        code="PROVIDER_NOT_ELIGIBLE",
    )
    assert error.details["provider_status"] == "registered"
    refused(
        svc.submit_application,
        project["id"],
        {"provider_id": world.rival, "amount": 1, "proposal": "x"},
        world.contractor,
        code="OUT_OF_SCOPE",
    )
    refused(
        svc.submit_application,
        project["id"],
        {"provider_id": world.rival, "amount": 40_000_000, "proposal": "x"},
        world.rival_contractor,
        code="VALIDATION_FAILED",
    )
    error = refused(
        svc.edit_project, project["id"], {"budget": 1}, world.staff, code="INVALID_TRANSITION"
    )
    assert error.details["current_status"] == "published"
    refused(svc.publish_project, project["id"], world.other_staff, code="OUT_OF_SCOPE")
    refused(
        svc.draft_project,
        project_payload(purchaser_id=world.other_city),
        world.staff,
        code="OUT_OF_SCOPE",
    )
    refused(
        svc.draft_project,
        project_payload(ends_on="2026-12-31"),
        world.staff,
        code="VALIDATION_FAILED",
    )
    refused(svc.draft_project, project_payload(budget=1.5), world.staff, code="VALIDATION_FAILED")
    refused(
        svc.draft_project,
        project_payload(category="astrology"),
        world.staff,
        code="VALIDATION_FAILED",
    )
    assert writes(projects_db) == before


def test_contractors_see_only_their_own_contracts(svc, world):
    project, contract = awarded_project(svc, world)
    milestone = contract["milestones"][0]["id"]
    for call, args in [
        (svc.get_contract, (contract["id"], world.rival_contractor)),
        (
            svc.report_milestone,
            (
                contract["id"],
                milestone,
                {"summary": "冒名", "beneficiaries_served": 1},
                world.rival_contractor,
            ),
        ),
        (svc.milestone_reports, (contract["id"], milestone, world.rival_contractor)),
    ]:
        with pytest.raises(RemoteFailure) as failure:
            call(*args)
        assert failure.value.code == "CONTRACT_NOT_FOUND"
    assert svc.list_contracts({}, world.rival_contractor)["items"] == []
    assert [c["id"] for c in svc.list_contracts({}, world.contractor)["items"]] == [contract["id"]]
    draft = svc.draft_project(project_payload(title="草稿"), world.staff)
    with pytest.raises(RemoteFailure) as failure:
        svc.get_project(draft["id"], world.contractor)
    assert failure.value.code == "PROJECT_NOT_FOUND"
    assert draft["id"] not in {p["id"] for p in svc.list_projects({}, world.contractor)["items"]}
    assert project["id"] in {p["id"] for p in svc.list_projects({}, world.contractor)["items"]}


def test_report_history_and_rules_of_the_milestone_machine(svc, world):
    project, contract = awarded_project(svc, world)
    milestone = contract["milestones"][1]["id"]
    report = {"summary": "第一次", "beneficiaries_served": 5}
    svc.report_milestone(contract["id"], milestone, report, world.contractor)
    with pytest.raises(RemoteFailure) as failure:
        svc.report_milestone(contract["id"], milestone, report, world.contractor)
    assert failure.value.details["current_status"] == "reported"
    with pytest.raises(RemoteFailure) as failure:
        svc.reject_milestone(contract["id"], milestone, {}, world.staff)
    assert failure.value.details["field"] == "reason"
    svc.reject_milestone(contract["id"], milestone, {"reason": "证据不足"}, world.staff)
    svc.report_milestone(
        contract["id"], milestone, {**report, "summary": "补充材料"}, world.contractor
    )
    svc.accept_milestone(contract["id"], milestone, world.staff)
    with pytest.raises(RemoteFailure) as failure:
        svc.report_milestone(contract["id"], milestone, report, world.contractor)
    assert (
        failure.value.code == "INVALID_TRANSITION"
        and failure.value.details["current_status"] == "accepted"
    )
    history = svc.milestone_reports(contract["id"], milestone, world.contractor)["items"]
    assert [(r["summary"], r["decision"], r["reason"]) for r in history] == [
        ("第一次", "rejected", "证据不足"),
        ("补充材料", "accepted", None),
    ]
    assert svc.get_project(project["id"], world.staff)["beneficiaries_served"] == 5


def test_a_suspended_contractor_reports_nothing_until_reinstated(svc, world):
    _project, contract = awarded_project(svc, world)
    milestone = contract["milestones"][0]["id"]
    world.registry.change(world.provider, "service_provider", "suspended", "违规")
    wait_until(lambda: svc.get_contract(contract["id"], world.staff)["status"] == "suspended")
    with pytest.raises(RemoteFailure) as failure:
        svc.report_milestone(
            contract["id"], milestone, {"summary": "x", "beneficiaries_served": 1}, world.contractor
        )
    assert failure.value.details["current_status"] == "suspended"
    # a suspended provider wins nothing new either
    other = svc.draft_project(project_payload(title="另一个项目"), world.staff)
    svc.publish_project(other["id"], world.staff)
    with pytest.raises(RemoteFailure) as failure:
        svc.submit_application(
            other["id"],
            {"provider_id": world.provider, "amount": 1, "proposal": "x"},
            world.contractor,
        )
    assert failure.value.code == "PROVIDER_NOT_ELIGIBLE"

    world.registry.change(world.provider, "service_provider", "reinstated")
    wait_until(lambda: svc.get_contract(contract["id"], world.staff)["status"] == "active")
    svc.report_milestone(
        contract["id"],
        milestone,
        {"summary": "恢复后", "beneficiaries_served": 1},
        world.contractor,
    )


def test_a_stale_suspension_does_not_undo_a_newer_reinstatement(svc, world, projects_db):
    _project, contract = awarded_project(svc, world)
    version = world.registry.versions[world.provider]
    base = {"organization_id": world.provider, "kind": "service_provider", "reason": None}
    publish_event(
        world.amqp_uri,
        "registry",
        "organization_reinstated",
        {**base, "version": version + 2, "status": "reinstated"},
    )
    wait_until(lambda: world.directory_status(world.provider).status == "reinstated")
    publish_event(
        world.amqp_uri,
        "registry",
        "organization_suspended",
        {**base, "version": version + 1, "status": "suspended"},
    )
    eventlet.sleep(1.0)
    assert world.directory_status(world.provider).status == "reinstated"
    assert svc.get_contract(contract["id"], world.staff)["status"] == "active"


def test_self_run_project_is_awarded_without_applications(svc, world):
    project = svc.draft_project(
        project_payload(model="self_run", title="妇女之家自办项目"), world.staff
    )
    with pytest.raises(RemoteFailure) as failure:
        svc.submit_application(
            project["id"],
            {"provider_id": world.provider, "amount": 1, "proposal": "x"},
            world.contractor,
        )
    assert failure.value.code in ("PROJECT_NOT_FOUND", "INVALID_TRANSITION")
    contract = svc.award_contract(
        project["id"],
        {
            "contractor_id": world.city,
            "amount": 10_000_000,
            "milestones": [{"title": "全年", "due_on": "2027-12-01", "amount": 10_000_000}],
        },
        world.staff,
    )
    assert contract["contractor_id"] == world.city and contract["application_id"] is None


# --- whose money a project may draw on ----------------------------------------------------


def test_a_project_draws_only_on_its_purchasers_or_a_higher_federations_source(
    svc, world, projects_db
):
    def refused(call, *args):
        with pytest.raises(RemoteFailure) as failure:
            call(*args)
        assert failure.value.code == "VALIDATION_FAILED", failure.value.details
        return failure.value.details

    before = writes(projects_db)
    for source_id in (OTHER_SOURCE, DISTRICT_SOURCE):  # another city's; one below the city
        details = refused(
            svc.draft_project, project_payload(funding_source_id=source_id), world.staff
        )
        assert (details["field"], details["rule"]) == ("funding_source_id", "source_not_available")
    assert writes(projects_db) == before
    # the district may draw on its own money and on the city's above it
    for source_id in (DISTRICT_SOURCE, FUNDING_SOURCE):
        drafted = svc.draft_project(
            project_payload(funding_source_id=source_id), world.district_staff
        )
        assert drafted["funding_source_id"] == source_id
    project = svc.draft_project(project_payload(), world.staff)
    details = refused(
        svc.edit_project, project["id"], {"funding_source_id": OTHER_SOURCE}, world.staff
    )
    assert details["rule"] == "source_not_available"
    assert svc.get_project(project["id"], world.staff)["funding_source_id"] == FUNDING_SOURCE
    # a project that names another's source (drafted before the rule) is not awarded on it
    svc.publish_project(project["id"], world.staff)
    application = svc.submit_application(
        project["id"],
        {"provider_id": world.provider, "amount": 30_000_000, "proposal": "方案"},
        world.contractor,
    )
    with connect(projects_db) as db, db.begin() as connection:
        connection.execute(
            sa.update(projects)
            .where(projects.c.id == project["id"])
            .values(funding_source_id=OTHER_SOURCE)
        )
    details = refused(
        svc.award_contract,
        project["id"],
        {"application_id": application["id"], "milestones": MILESTONES},
        world.staff,
    )
    assert details["rule"] == "source_not_available"
    assert svc.get_project(project["id"], world.staff)["status"] == "published"


@pytest.fixture
def funding_beside(container_factory, rabbit_config, projects_config, tmp_path, request):
    """The funding service running beside projects, on a database of its own."""

    def start(url):
        upgrade("funding", url)
        config = load_config(
            ROOT / "services/funding/config.yaml",
            AMQP_URI=rabbit_config["AMQP_URI"],
            DATABASE_URL=url,
            WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
            OUTBOX={"poll_interval": 0.2, "lease_ttl": 3, "confirm_timeout": 5},
        )
        container_factory(FundingService, config).start()
        return config

    if projects_config["DATABASE_URL"].startswith("sqlite"):
        yield start(f"sqlite:///{tmp_path / 'funding.sqlite3'}")
        return
    with scratch_postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield start(url)


def test_a_source_funding_created_a_moment_ago_is_usable_at_once(funding_beside, request):
    """projects' copy may not have heard of a new source yet: it asks funding before refusing."""
    world = request.getfixturevalue("world")
    svc = request.getfixturevalue("svc")

    with ServiceRpcProxy("funding", funding_beside) as funding:

        def create(owner_id):
            try:
                return funding.create_source(
                    {
                        "name": "2027年专项资金",
                        "kind": "fiscal_special_fund",
                        "owner_id": owner_id,
                        "fiscal_year": 2027,
                        "amount": 50_000_000,
                    },
                    ADMIN,
                )
            except RemoteFailure as failure:  # funding's directory has not the owner yet
                assert failure.value.details.get("rule") == "federation"
                return None

        city_source = wait_until(lambda: create(world.city))
        drafted = svc.draft_project(
            project_payload(funding_source_id=city_source["id"]), world.staff
        )
        assert drafted["funding_source_id"] == city_source["id"]
        other_source = wait_until(lambda: create(world.other_city))
        with pytest.raises(RemoteFailure) as failure:
            svc.draft_project(project_payload(funding_source_id=other_source["id"]), world.staff)
        assert failure.value.details["rule"] == "source_not_available"
        with pytest.raises(RemoteFailure) as failure:  # funding has no such source
            svc.draft_project(project_payload(funding_source_id=str(uuid.uuid4())), world.staff)
        assert failure.value.details["rule"] == "source_not_available"
    wait_until(lambda: count(world.db_url, funding_sources) == 5)


def test_migrations_match_the_models(database_url):
    upgrade("projects", database_url)
    assert drift(database_url, metadata, include=[directory_metadata]) == []


class Watcher:
    """Stands where a gateway stands: hears the projects service's change notices."""

    def __init__(self, amqp_uri):
        self.heard = []
        self.connections = 0
        self.stopped = False
        self.thread = eventlet.spawn(
            follow,
            amqp_uri,
            [("projects", "project")],
            self.heard.append,
            self.connected,
            stopped=lambda: self.stopped,
            retry_interval=0.2,
            name="watcher",
        )
        wait_until(lambda: self.connections == 1)

    def connected(self):
        self.connections += 1

    def times(self, project_id):
        return [notice["id"] for notice in self.heard].count(project_id)

    def stop(self):
        self.stopped = True
        self.thread.wait()


@pytest.fixture
def watcher(rabbit_config):
    watcher = Watcher(rabbit_config["AMQP_URI"])
    yield watcher
    watcher.stop()


def test_every_committed_change_to_a_published_project_is_announced(svc, world, watcher):
    project = svc.draft_project(project_payload(), world.staff)
    svc.edit_project(project["id"], {"target_beneficiaries": 250}, world.staff)
    svc.publish_project(project["id"], world.staff)  # the first change anybody may cache
    wait_until(lambda: watcher.times(project["id"]) == 1)
    assert watcher.heard == [{"kind": "project", "id": project["id"]}]  # drafts: nobody caches

    # reads and refused writes change nothing and say nothing
    svc.get_project(project["id"], world.staff)
    with pytest.raises(RemoteFailure):
        svc.publish_project(project["id"], world.staff)  # 409: published already
    # a change made by another service's event is announced too
    hours_verified(world, project["id"], minutes=90)
    wait_until(lambda: watcher.times(project["id"]) == 2)
    assert svc.get_project(project["id"], world.staff)["volunteer_hours"] == 1.5
    eventlet.sleep(0.3)  # nothing more arrives late
    assert watcher.times(project["id"]) == 2


def test_a_listener_that_lost_its_connection_says_so_and_hears_again(
    svc, world, watcher, rabbit_manager, rabbit_config
):
    """Notices sent while it was away are gone: it reports each reconnection (a cache
    empties itself then), and hears what comes after."""
    vhost = rabbit_config["vhost"]
    listed = []

    def listed_by_the_broker():
        """the management API lists the watcher's connection (its statistics lag)"""
        listed[:] = [
            c["name"]
            for c in rabbit_manager.get_connections()
            if c["vhost"] == vhost and c.get("user_provided_name") == "watcher"
        ]
        return bool(listed)

    wait_until(listed_by_the_broker, timeout=30)
    rabbit_manager.delete_connection(listed[0])
    wait_until(lambda: watcher.connections == 2)
    project = svc.draft_project(project_payload(), world.staff)
    svc.publish_project(project["id"], world.staff)
    wait_until(lambda: watcher.times(project["id"]) == 1)


def test_evidence_files_are_readable_by_their_uploader_and_those_who_see_the_contract(svc, world):
    _, contract = awarded_project(svc, world)
    digest = "ab" * 32

    def upload(actor, name="验收报告.pdf"):
        meta = {"sha256": digest, "size": 1234, "content_type": "application/pdf", "name": name}
        return svc.register_file(meta, actor)

    def refused(call, *args):
        with pytest.raises(RemoteFailure) as failure:
            call(*args)
        return failure.value

    mine = upload(world.contractor)
    file_id = mine["file_id"]
    assert mine == {
        "file_id": file_id,
        "sha256": digest,
        "size": 1234,
        "content_type": "application/pdf",
        "name": "验收报告.pdf",
    }
    # referenced by no report yet: its uploader alone reads it
    assert svc.readable_file(file_id, world.contractor) == mine
    for other in (world.staff, world.rival_contractor, ADMIN):
        assert refused(svc.readable_file, file_id, other).code == "FILE_NOT_FOUND"

    # a report references only files its reporter uploaded (and that exist)
    milestone = contract["milestones"][0]["id"]
    theirs = upload(world.rival_contractor)["file_id"]
    for wrong in (theirs, str(uuid.uuid4())):
        failure = refused(
            svc.report_milestone,
            contract["id"],
            milestone,
            {
                "summary": "建档完成",
                "beneficiaries_served": 3,
                "evidence": [{"name": "档案", "type": "report", "file_id": wrong}],
            },
            world.contractor,
        )
        assert (failure.kind, failure.details["field"], failure.details["rule"]) == (
            "invalid",
            "evidence[0].file_id",
            "file_not_available",
        )
    report = svc.report_milestone(
        contract["id"],
        milestone,
        {
            "summary": "建档完成",
            "beneficiaries_served": 3,
            "evidence": [
                {"name": "验收报告", "type": "report", "file_id": file_id},
                {"name": "照片", "type": "photo", "url": "https://example.org/a.jpg"},
            ],
        },
        world.contractor,
    )
    assert report["evidence"][0] == {
        "name": "验收报告",
        "type": "report",
        "file_id": file_id,
        "sha256": digest,
    }

    # now whoever may see the contract reads it; nobody else learns it exists
    colleague = world.actor("contractor", world.provider)
    for reader in (world.staff, ADMIN, colleague, world.contractor):
        assert svc.readable_file(file_id, reader)["file_id"] == file_id
    for other in (world.rival_contractor, world.other_staff):
        assert refused(svc.readable_file, file_id, other).code == "FILE_NOT_FOUND"
    assert refused(svc.readable_file, "not-a-uuid", world.staff).code == "FILE_NOT_FOUND"


def test_projects_and_contracts_count_and_sort_on_the_server(svc, world):
    budgets = [5_000_000, 3_000_000, 9_000_000, 3_000_000, 7_000_000]
    for n, budget in enumerate(budgets):
        svc.draft_project(project_payload(title=f"排序项目{n}", budget=budget), world.staff)
    svc.draft_project(project_payload(title="另一个项目"), world.staff)

    def by(sort, actor=world.staff):
        return walk(lambda q: svc.list_projects(q, actor), q="排序项目", limit=2, sort=sort)

    cheapest, totals = by("budget")
    assert [p["budget"] for p in cheapest] == sorted(budgets) and totals == {5}
    dearest, totals = by("-budget")
    assert [p["budget"] for p in dearest] == sorted(budgets, reverse=True) and totals == {5}
    # equal budgets keep one order, reversed with the direction (ties go by id)
    ties = [p["id"] for p in cheapest if p["budget"] == 3_000_000]
    assert [p["id"] for p in dearest if p["budget"] == 3_000_000] == list(reversed(ties))
    titles, _ = by("-title")
    assert [p["title"] for p in titles] == [f"排序项目{n}" for n in (4, 3, 2, 1, 0)]
    newest, _ = by("-created_at")
    assert [p["title"] for p in newest] == [f"排序项目{n}" for n in (4, 3, 2, 1, 0)]
    # the total is of what the actor may see: drafts are not the other city's
    assert by("budget", world.other_staff) == ([], {0})
    first = svc.list_projects({"limit": 2}, world.staff)
    assert first["total"] == 6 and len(first["items"]) == 2 and first["next_cursor"]

    awarded_project(svc, world, title="排序合同一", budget=30_000_000)
    awarded_project(svc, world, title="排序合同二", budget=40_000_000)
    contracts_page = svc.list_contracts({"limit": 1, "sort": "-awarded_at"}, world.staff)
    assert contracts_page["total"] == 2 and len(contracts_page["items"]) == 1
    assert svc.list_contracts({"sort": "amount"}, world.rival_contractor)["total"] == 0

    for call, sort in ((svc.list_projects, "proposal"), (svc.list_contracts, "-budget")):
        with pytest.raises(RemoteFailure) as failure:
            call({"sort": sort}, world.staff)
        assert failure.value.kind == "invalid"
        assert failure.value.details == {"field": "sort", "rule": "one_of"}
    with pytest.raises(RemoteFailure) as failure:  # a cursor of another order
        svc.list_projects({"sort": "budget", "cursor": first["next_cursor"]}, world.staff)
    assert failure.value.details == {"field": "cursor", "rule": "opaque"}
