"""Every projects use case, run through its context over in-memory fakes: no broker, no
database. Each test says what the use case leaves (state in the fake repository, events the
unit of work committed) or what it refuses, with the error's code, field and rule.

The world: a city federation with a district under it, another city, verified providers
(one suspended) under the city, a source of each city's money, and one person of each role.
The integration tests keep checking the real repository, locks and SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from kit import audit
from kit.paging import page_request
from kit.usecase import FixedClock
from language.actor import SYSTEM, Actor
from projects import commands as c
from projects import handlers
from projects.context import Context
from projects.domain.payments import Disbursement
from projects.exceptions import (
    ApplicationNotFound,
    ContractNotFound,
    DuplicateApplication,
    FileNotFound,
    InvalidTransition,
    MilestoneNotFound,
    OutOfScope,
    ProjectNotFound,
    ProviderNotEligible,
    RuleBroken,
    SelfAcceptance,
)
from projects.repository import CONTRACT_ORDER, PROJECT_ORDER
from tests.unit.fakes import FakeDirectory, FakeUnitOfWork
from tests.unit.fakes.projects import FakeFunding, FakeFundingSources, FakeProjectRepository

AT = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
SHA = "a" * 64


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class World:
    clock: FixedClock = field(default_factory=lambda: FixedClock(AT))
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    sources: FakeFundingSources = field(default_factory=FakeFundingSources)
    funding: FakeFunding = field(default_factory=FakeFunding)
    #: every event committed so far: (type, body)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: the audit record of every committed act, in order
    records: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.repo = FakeProjectRepository(FakeUnitOfWork("projects"), self.directory)
        self.city, self.district, self.other_city = new_id(), new_id(), new_id()
        self.provider, self.provider2, self.suspended_provider = new_id(), new_id(), new_id()
        self.directory.add(self.city, level="city")
        self.directory.add(self.district, parent_id=self.city, level="county")
        self.directory.add(self.other_city, level="city")
        self.directory.add(self.provider, kind="service_provider", parent_id=self.city)
        self.directory.add(self.provider2, kind="service_provider", parent_id=self.city)
        self.directory.add(
            self.suspended_provider,
            kind="service_provider",
            parent_id=self.city,
            status="suspended",
        )
        self.source, self.other_source = new_id(), new_id()
        self.sources.remember(self.source, self.city, 1, AT)
        self.sources.remember(self.other_source, self.other_city, 1, AT)
        self.admin = self.person("admin")
        self.staff = self.person("federation_staff", self.city)
        self.staff2 = self.person("federation_staff", self.city)
        self.district_staff = self.person("federation_staff", self.district)
        self.other_staff = self.person("federation_staff", self.other_city)
        self.finance = self.person("finance_officer", self.city)
        self.contractor = self.person("contractor", self.provider)
        self.contractor2 = self.person("contractor", self.provider2)
        self.leader = self.person("team_leader")

    @staticmethod
    def person(role: str, organization_id: str | None = None) -> Actor:
        user_id = new_id()
        return Actor(user_id, f"{role}-{user_id[:6]}", role, organization_id)

    def context(self, uow: FakeUnitOfWork, actor: Actor) -> Context:
        return Context(
            uow=uow,
            repo=self.repo.using(uow),  # type: ignore[arg-type]
            sources=self.sources,  # type: ignore[arg-type]
            directory=self.directory,
            actor=actor,
            clock=self.clock,
            ask_funding=self.funding,
        )

    def execute(self, actor: Actor, use_case: Any, command: Any) -> Any:
        """As ``UseCases.execute``: one unit of work, committed when the use case returns."""
        uow = FakeUnitOfWork("projects")
        ctx = self.context(uow, actor)
        result = use_case(ctx, command)
        self.records += audit.record_act(uow, ctx, actor.to_dict(), use_case, command, result)
        uow.commit()
        self.events.extend(zip(uow.event_types, uow.events, strict=True))
        return result

    def query(self, actor: Actor, use_case: Any, command: Any) -> Any:
        """As ``UseCases.query``: a read-only unit of work (it could not commit, or emit)."""
        return use_case(self.context(FakeUnitOfWork("projects", readonly=True), actor), command)

    def react(self, use_case: Any, fact: Any) -> Any:
        return self.execute(SYSTEM, use_case, fact)

    def event_types(self) -> list[str]:
        return [event_type for event_type, _ in self.events]

    # --- a project at each step -----------------------------------------------------------

    def draft(self, actor: Actor | None = None, **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "title": "单亲母亲家庭服务",
            "category": "single_mother_family_services",
            "model": "commissioned",
            "funding_source_id": self.source,
            "budget": 1_000_000,
            "starts_on": date(2027, 1, 1),
            "ends_on": date(2027, 12, 31),
            "indicators": [{"name": "服务人次", "target": 500, "unit": "人次"}],
            **overrides,
        }
        return self.execute(actor or self.staff, handlers.draft_project, c.DraftProject(**values))

    def published(self, **overrides: Any) -> Any:
        project = self.draft(**overrides)
        return self.execute(self.staff, handlers.publish_project, c.PublishProject(project.id))

    def applied(self, project: Any, contractor: Actor | None = None, amount: int = 900_000) -> Any:
        contractor = contractor or self.contractor
        command = c.SubmitApplication(project.id, contractor.organization_id or "", amount, "方案")
        return self.execute(contractor, handlers.submit_application, command)

    def awarded(self) -> tuple[Any, Any]:
        project = self.published()
        application = self.applied(project)
        self.applied(project, self.contractor2, 800_000)
        contract = self.execute(
            self.staff,
            handlers.award_contract,
            c.AwardContract(project.id, MILESTONES, application_id=application.id),
        )
        return self.repo.project(project.id), contract

    def reported(self, contract: Any, seq: int = 1, actor: Actor | None = None) -> Any:
        milestone = contract.milestones[seq - 1]
        command = c.ReportMilestone(
            contract.id, milestone.id, "按计划完成", 120, indicator_values={"服务人次": 120}
        )
        return self.execute(actor or self.contractor, handlers.report_milestone, command)

    def accepted(self, contract: Any, seq: int = 1) -> Any:
        milestone = contract.milestones[seq - 1]
        command = c.AcceptMilestone(contract.id, milestone.id)
        return self.execute(self.staff, handlers.accept_milestone, command)


MILESTONES = [
    {"title": "开班", "deliverables": "", "due_on": date(2027, 3, 31), "amount": 400_000},
    {"title": "结项", "deliverables": "", "due_on": date(2027, 12, 31), "amount": 500_000},
]


@pytest.fixture
def world() -> World:
    return World()


def details(error: pytest.ExceptionInfo) -> tuple[str, Any, Any]:
    return error.value.code, error.value.details.get("field"), error.value.details.get("rule")


# --- projects -------------------------------------------------------------------------------


def test_staff_draft_a_project_for_their_federation(world):
    project = world.draft()
    assert world.repo.projects[project.id] is project
    assert (project.status, project.purchaser_id, project.created_by) == (
        "draft",
        world.city,
        world.staff.user_id,
    )
    assert project.created_at == AT and project.version == 1
    assert world.events == []  # a draft is nobody else's business yet


def test_a_draft_for_a_federation_below_the_actors_is_allowed(world):
    assert world.draft(purchaser_id=world.district).purchaser_id == world.district


@pytest.mark.parametrize(
    "who, purchaser, expected",
    [
        ("contractor", None, ("OUT_OF_SCOPE", "purchaser_id", None)),
        ("district_staff", "city", ("OUT_OF_SCOPE", "purchaser_id", None)),
        ("other_staff", "city", ("OUT_OF_SCOPE", "purchaser_id", None)),
        ("staff", "provider", ("VALIDATION_FAILED", "purchaser_id", "federation")),
        ("admin", None, ("VALIDATION_FAILED", "purchaser_id", "required")),
    ],
)
def test_a_draft_is_refused_for_a_purchaser_the_actor_does_not_manage(
    world, who, purchaser, expected
):
    actor = getattr(world, who)
    purchaser_id = getattr(world, purchaser) if purchaser else None
    if who == "contractor":
        purchaser_id = world.city
    with pytest.raises((OutOfScope, RuleBroken)) as caught:
        world.draft(actor, purchaser_id=purchaser_id)
    assert details(caught) == expected
    assert world.repo.projects == {}


def test_a_draft_for_a_suspended_federation_is_refused(world):
    world.directory.entries[world.district]["status"] = "suspended"
    with pytest.raises(RuleBroken) as caught:
        world.draft(purchaser_id=world.district)
    assert details(caught) == ("VALIDATION_FAILED", "purchaser_id", "active")


def test_a_draft_may_not_draw_on_another_federations_source(world):
    with pytest.raises(RuleBroken) as caught:
        world.draft(funding_source_id=world.other_source)
    assert details(caught) == ("VALIDATION_FAILED", "funding_source_id", "source_not_available")


def test_a_source_not_heard_of_yet_is_asked_of_funding_and_kept(world):
    fresh = new_id()
    world.funding.sources[fresh] = world.city
    project = world.draft(funding_source_id=fresh)
    assert project.funding_source_id == fresh
    assert world.funding.asked == [fresh]
    assert world.sources.owner(fresh) == world.city
    world.draft(funding_source_id=fresh)
    assert world.funding.asked == [fresh]  # the second time the copy knows it


def test_a_source_funding_does_not_know_is_refused(world):
    with pytest.raises(RuleBroken) as caught:
        world.draft(funding_source_id=new_id())
    assert details(caught)[2] == "source_not_available"


def test_staff_edit_a_draft(world):
    project = world.draft()
    command = c.EditProject(project.id, changes={"title": "單親母親家庭服務", "budget": 900_000})
    world.clock.advance(hours=1)
    edited = world.execute(world.staff, handlers.edit_project, command)
    assert (edited.title, edited.budget, edited.version) == ("單親母親家庭服務", 900_000, 2)
    assert edited.search_title == "单亲母亲家庭服务"  # 繁 and 简 search alike
    assert edited.updated_at == world.clock.now()


def test_an_edit_to_another_federations_source_is_refused(world):
    project = world.draft()
    command = c.EditProject(project.id, changes={"funding_source_id": world.other_source})
    with pytest.raises(RuleBroken) as caught:
        world.execute(world.staff, handlers.edit_project, command)
    assert details(caught)[2] == "source_not_available"


def test_a_published_project_is_not_edited(world):
    project = world.published()
    with pytest.raises(InvalidTransition) as caught:
        world.execute(
            world.staff, handlers.edit_project, c.EditProject(project.id, changes={"budget": 1})
        )
    assert caught.value.details["current_status"] == "published"


def test_publishing_records_the_event(world):
    project = world.published()
    assert (project.status, project.published_at) == ("published", AT)
    assert world.event_types() == ["project_published"]
    body = world.events[0][1]
    assert (body["project_id"], body["purchaser_id"], body["budget"]) == (
        project.id,
        world.city,
        1_000_000,
    )
    assert body["actor_id"] == world.staff.user_id


def test_only_the_purchasers_managers_publish(world):
    project = world.draft()
    for stranger in (world.other_staff, world.district_staff, world.contractor):
        with pytest.raises(ProjectNotFound):  # a draft is not there for them at all
            world.execute(stranger, handlers.publish_project, c.PublishProject(project.id))
    with pytest.raises(OutOfScope):  # finance reads the draft but does not manage it
        world.execute(world.finance, handlers.publish_project, c.PublishProject(project.id))
    assert world.repo.projects[project.id].status == "draft"
    world.execute(world.admin, handlers.publish_project, c.PublishProject(project.id))
    assert world.repo.projects[project.id].status == "published"


def test_cancelling_needs_a_reason(world):
    project = world.published()
    with pytest.raises(RuleBroken) as caught:
        world.execute(world.staff, handlers.cancel_project, c.CancelProject(project.id, "  "))
    assert details(caught) == ("VALIDATION_FAILED", "reason", "required")


def test_cancelling_an_awarded_project_cancels_its_contract(world):
    project, contract = world.awarded()
    command = c.CancelProject(project.id, "预算调整")
    cancelled = world.execute(world.staff, handlers.cancel_project, command)
    assert (cancelled.status, cancelled.cancel_reason, cancelled.closed_at) == (
        "cancelled",
        "预算调整",
        AT,
    )
    assert world.repo.contracts[contract.id].status == "cancelled"
    assert world.event_types()[-1] == "project_cancelled"


def test_a_project_is_closed_after_its_evaluation(world):
    project, contract = world.awarded()
    with pytest.raises(InvalidTransition):
        world.execute(world.staff, handlers.close_project, c.CloseProject(project.id))
    world.execute(world.staff, handlers.evaluate_project, evaluation(project.id))
    closed = world.execute(world.staff, handlers.close_project, c.CloseProject(project.id))
    assert (closed.status, closed.closed_at) == ("closed", AT)
    assert world.repo.contracts[contract.id].status == "completed"
    assert world.event_types()[-1] == "project_closed"


def test_a_draft_is_read_by_its_line_only(world):
    project = world.draft()
    for reader in (world.staff, world.finance, world.admin):
        assert world.query(reader, handlers.get_project, c.GetProject(project.id)).id == project.id
    for stranger in (world.contractor, world.other_staff, world.district_staff, world.leader):
        with pytest.raises(ProjectNotFound):
            world.query(stranger, handlers.get_project, c.GetProject(project.id))


def test_a_published_project_is_read_by_everybody(world):
    project = world.published()
    for reader in (world.contractor, world.other_staff, world.leader):
        assert world.query(reader, handlers.get_project, c.GetProject(project.id)).id == project.id
    with pytest.raises(ProjectNotFound):
        world.query(world.admin, handlers.get_project, c.GetProject(new_id()))


def listed(world: World, actor: Actor, limit: int | None = None, **filters: Any) -> dict:
    page = page_request(limit, filters.pop("cursor", None), ordering=PROJECT_ORDER, sort="title")
    return world.query(actor, handlers.list_projects, c.ListProjects(page=page, **filters))


def test_lists_show_each_reader_what_they_may_read(world):
    city_draft = world.draft(title="甲 草稿")
    district_draft = world.draft(title="乙 区草稿", purchaser_id=world.district)
    other_draft = world.draft(
        world.other_staff, title="丙 他市草稿", funding_source_id=world.other_source
    )
    published = world.published(title="丁 已发布")

    def ids(actor: Actor) -> set[str]:
        return {p.id for p in listed(world, actor)["items"]}

    everything = {city_draft.id, district_draft.id, other_draft.id, published.id}
    assert ids(world.admin) == everything
    assert ids(world.staff) == {city_draft.id, district_draft.id, published.id}
    assert ids(world.finance) == {city_draft.id, district_draft.id, published.id}
    assert ids(world.district_staff) == {district_draft.id, published.id}
    assert ids(world.other_staff) == {other_draft.id, published.id}
    assert ids(world.contractor) == {published.id}
    assert listed(world, world.admin, status="published")["total"] == 1
    assert [p.id for p in listed(world, world.admin, q="區草稿")["items"]] == [district_draft.id]


def test_a_list_pages_with_its_cursor(world):
    titles = [f"项目{n}" for n in range(5)]
    for title in titles:
        world.draft(title=title)
    first = listed(world, world.staff, limit=2)
    assert ([p.title for p in first["items"]], first["total"]) == (titles[:2], 5)
    second = listed(world, world.staff, limit=2, cursor=first["next_cursor"])
    assert [p.title for p in second["items"]] == titles[2:4]
    last = listed(world, world.staff, limit=2, cursor=second["next_cursor"])
    assert ([p.title for p in last["items"]], last["next_cursor"]) == (titles[4:], None)


# --- applications and the award ------------------------------------------------------------


def test_a_contractor_applies_for_its_own_organization(world):
    project = world.published()
    application = world.applied(project)
    assert world.repo.applications_by_id[application.id] is application
    assert (application.status, application.provider_id, application.submitted_at) == (
        "submitted",
        world.provider,
        AT,
    )
    with pytest.raises(DuplicateApplication) as caught:
        world.applied(project)
    assert caught.value.details["application_id"] == application.id


def test_applications_are_refused_by_rule(world):
    project = world.published()
    command = c.SubmitApplication(project.id, world.provider2, 1, "方案")
    with pytest.raises(OutOfScope) as caught:
        world.execute(world.contractor, handlers.submit_application, command)
    assert caught.value.details["field"] == "provider_id"
    suspended = world.person("contractor", world.suspended_provider)
    with pytest.raises(ProviderNotEligible) as not_eligible:
        world.applied(project, suspended)
    assert not_eligible.value.details["provider_status"] == "suspended"
    with pytest.raises(RuleBroken) as over_budget:
        world.applied(project, amount=1_000_001)
    assert details(over_budget) == ("VALIDATION_FAILED", "amount", "within_budget")
    with pytest.raises(ProjectNotFound):
        world.applied(world.draft())  # a draft is not there for a contractor


def test_a_contractor_lists_its_own_application_and_staff_all(world):
    project = world.published()
    mine = world.applied(project)
    theirs = world.applied(project, world.contractor2, 800_000)
    command = c.ListApplications(project.id)
    assert [a.id for a in world.query(world.contractor, handlers.list_applications, command)] == [
        mine.id
    ]
    assert {a.id for a in world.query(world.staff, handlers.list_applications, command)} == {
        mine.id,
        theirs.id,
    }
    with pytest.raises(OutOfScope):
        world.query(world.finance, handlers.list_applications, command)


def test_the_award_goes_to_one_application(world):
    project, contract = world.awarded()
    assert world.repo.contracts[contract.id] is contract
    assert (project.status, project.contract_id, project.contractor_id) == (
        "awarded",
        contract.id,
        world.provider,
    )
    assert (contract.status, contract.amount, contract.awarded_at) == ("active", 900_000, AT)
    assert [m.amount for m in contract.milestones] == [400_000, 500_000]
    statuses = {a.provider_id: a.status for a in world.repo.applications_by_id.values()}
    assert statuses == {world.provider: "awarded", world.provider2: "not_awarded"}
    assert world.event_types()[-1] == "contract_awarded"
    assert world.events[-1][1]["contractor_id"] == world.provider


def test_an_award_names_an_application_of_the_project(world):
    project = world.published()
    world.applied(project)
    with pytest.raises(ApplicationNotFound):
        world.execute(
            world.staff,
            handlers.award_contract,
            c.AwardContract(project.id, MILESTONES, application_id=new_id()),
        )
    with pytest.raises(RuleBroken) as caught:
        world.execute(world.staff, handlers.award_contract, c.AwardContract(project.id, MILESTONES))
    assert details(caught) == ("VALIDATION_FAILED", "application_id", "required")


def test_a_self_run_project_is_awarded_to_the_purchaser_itself(world):
    project = world.draft(model="self_run")
    command = c.AwardContract(project.id, MILESTONES, contractor_id=world.city, amount=900_000)
    contract = world.execute(world.staff, handlers.award_contract, command)
    assert (contract.contractor_id, contract.delivered_by_purchaser) == (world.city, True)
    assert world.repo.projects[project.id].status == "awarded"


# --- contracts and milestones ---------------------------------------------------------------


def test_a_contract_is_read_by_its_parties_only(world):
    _, contract = world.awarded()
    command = c.GetContract(contract.id)
    for reader in (world.contractor, world.staff, world.finance, world.admin):
        assert world.query(reader, handlers.get_contract, command) is contract
    for stranger in (world.contractor2, world.other_staff, world.district_staff, world.leader):
        with pytest.raises(ContractNotFound):
            world.query(stranger, handlers.get_contract, command)


def contracts_listed(world: World, actor: Actor, **filters: Any) -> dict:
    page = page_request(None, None, ordering=CONTRACT_ORDER)
    return world.query(actor, handlers.list_contracts, c.ListContracts(page=page, **filters))


def test_contract_lists_show_each_reader_theirs(world):
    _, contract = world.awarded()
    other = world.draft(world.other_staff, model="self_run", funding_source_id=world.other_source)
    command = c.AwardContract(other.id, MILESTONES, contractor_id=world.other_city, amount=9)
    with pytest.raises(RuleBroken):  # the tranches must add up to the amount
        world.execute(world.other_staff, handlers.award_contract, command)
    command = c.AwardContract(other.id, MILESTONES, contractor_id=world.other_city, amount=900_000)
    others = world.execute(world.other_staff, handlers.award_contract, command)

    def ids(actor: Actor, **filters: Any) -> list[str]:
        return [x.id for x in contracts_listed(world, actor, **filters)["items"]]

    assert set(ids(world.admin)) == {contract.id, others.id}
    assert ids(world.staff) == ids(world.finance) == ids(world.contractor) == [contract.id]
    assert ids(world.contractor, contractor_id=world.provider2) == [contract.id]  # its own only
    assert ids(world.contractor2) == []
    assert ids(world.other_staff) == [others.id]
    assert contracts_listed(world, world.leader) == {"items": [], "next_cursor": None, "total": 0}
    assert ids(world.admin, status="completed") == []


def test_the_contractor_reports_on_a_milestone(world):
    _, contract = world.awarded()
    report = world.reported(contract)
    milestone = contract.milestones[0]
    assert (milestone.status, milestone.reported_at) == ("reported", AT)
    assert world.repo.reports(milestone.id) == [report]
    assert (report.decision, report.reported_by) == ("pending", world.contractor.user_id)
    assert world.event_types()[-1] == "milestone_reported"
    with pytest.raises(InvalidTransition):
        world.reported(contract)  # reported already: it awaits a decision


def test_only_the_contractor_reports(world):
    _, contract = world.awarded()
    with pytest.raises(OutOfScope):
        world.reported(contract, actor=world.staff)
    with pytest.raises(ContractNotFound):
        world.reported(contract, actor=world.contractor2)
    command = c.ReportMilestone(contract.id, new_id(), "x", 1)
    with pytest.raises(MilestoneNotFound):
        world.execute(world.contractor, handlers.report_milestone, command)


def test_evidence_names_only_files_the_reporter_uploaded(world):
    _, contract = world.awarded()
    own = world.execute(world.contractor, handlers.register_file, upload())
    foreign = world.execute(world.contractor2, handlers.register_file, upload())
    milestone = contract.milestones[0]

    def report(*evidence: dict) -> Any:
        command = c.ReportMilestone(contract.id, milestone.id, "完成", 10, evidence=list(evidence))
        return world.execute(world.contractor, handlers.report_milestone, command)

    with pytest.raises(RuleBroken) as caught:
        report({"name": "签到表", "type": "pdf", "file_id": foreign["id"]})
    assert details(caught) == ("VALIDATION_FAILED", "evidence[0].file_id", "file_not_available")
    with pytest.raises(RuleBroken) as mismatch:
        report({"name": "签到表", "type": "pdf", "file_id": own["id"], "sha256": "b" * 64})
    assert details(mismatch) == ("VALIDATION_FAILED", "evidence[0].sha256", "sha256_mismatch")
    done = report(
        {"name": "签到表", "type": "pdf", "file_id": own["id"]},
        {"name": "照片", "type": "url", "url": "https://example.org/p.jpg"},
    )
    assert done.evidence[0] == {
        "name": "签到表",
        "type": "pdf",
        "file_id": own["id"],
        "sha256": SHA,
    }
    assert world.repo.contracts_referencing(own["id"]) == [contract.id]


def test_staff_accept_a_reported_milestone(world):
    project, contract = world.awarded()
    world.reported(contract)
    world.clock.advance(days=1)
    accepted = world.accepted(contract)
    milestone = accepted.milestones[0]
    assert (milestone.status, milestone.accepted_by, milestone.accepted_on_time) == (
        "accepted",
        world.staff.user_id,
        True,
    )
    assert world.repo.reports(milestone.id)[0].decision == "accepted"
    assert (project.beneficiaries_served, project.indicator_actuals) == (120, {"服务人次": 120.0})
    assert world.event_types()[-1] == "milestone_accepted"
    assert world.events[-1][1]["amount"] == 400_000
    assert accepted.status == "active"
    world.reported(contract, 2)
    assert world.accepted(contract, 2).status == "completed"  # its last milestone


def test_acceptance_needs_a_report_and_a_manager(world):
    _, contract = world.awarded()
    with pytest.raises(InvalidTransition) as caught:
        world.accepted(contract)
    assert caught.value.details["current_status"] == "pending"
    world.reported(contract)
    command = c.AcceptMilestone(contract.id, contract.milestones[0].id)
    for outsider in (world.contractor, world.finance):
        with pytest.raises(OutOfScope):
            world.execute(outsider, handlers.accept_milestone, command)
    assert contract.milestones[0].status == "reported"


def test_who_reported_does_not_accept(world):
    project = world.draft(model="self_run")
    command = c.AwardContract(project.id, MILESTONES, contractor_id=world.city, amount=900_000)
    contract = world.execute(world.staff, handlers.award_contract, command)
    world.reported(contract, actor=world.staff)  # the federation runs it: its staff report
    with pytest.raises(SelfAcceptance):
        world.accepted(contract)
    accept = c.AcceptMilestone(contract.id, contract.milestones[0].id)
    assert world.execute(world.staff2, handlers.accept_milestone, accept).milestones[0].status == (
        "accepted"
    )


def test_staff_reject_a_report_with_a_reason_and_the_contractor_reports_again(world):
    _, contract = world.awarded()
    world.reported(contract)
    milestone = contract.milestones[0]
    with pytest.raises(RuleBroken) as caught:
        world.execute(
            world.staff, handlers.reject_milestone, c.RejectMilestone(contract.id, milestone.id)
        )
    assert details(caught) == ("VALIDATION_FAILED", "reason", "required")
    command = c.RejectMilestone(contract.id, milestone.id, "缺少签到表")
    rejected = world.execute(world.staff, handlers.reject_milestone, command)
    assert rejected.milestones[0].status == "rejected"
    assert world.repo.reports(milestone.id)[0].reason == "缺少签到表"
    assert world.event_types()[-1] == "milestone_rejected"
    world.clock.advance(hours=1)
    world.reported(contract)
    reports = world.query(
        world.contractor, handlers.milestone_reports, c.MilestoneReports(contract.id, milestone.id)
    )
    assert [r.decision for r in reports] == ["rejected", "pending"]


def test_milestone_reports_are_read_with_the_contract(world):
    _, contract = world.awarded()
    world.reported(contract)
    command = c.MilestoneReports(contract.id, contract.milestones[0].id)
    assert len(world.query(world.finance, handlers.milestone_reports, command)) == 1
    with pytest.raises(ContractNotFound):
        world.query(world.contractor2, handlers.milestone_reports, command)
    missing = c.MilestoneReports(contract.id, new_id())
    with pytest.raises(MilestoneNotFound):
        world.query(world.staff, handlers.milestone_reports, missing)


def test_contract_briefs_leave_out_what_the_reader_may_not_read(world):
    project, contract = world.awarded()
    world.reported(contract)
    command = c.ContractBriefs((contract.id, new_id(), contract.id))
    (brief,) = world.query(world.finance, handlers.contract_briefs, command)
    assert (brief["contract_id"], brief["project_title"]) == (contract.id, project.title)
    assert brief["milestones"][0]["report"]["summary"] == "按计划完成"
    assert brief["milestones"][1]["report"] is None
    assert world.query(world.other_staff, handlers.contract_briefs, command) == []


# --- evidence files -------------------------------------------------------------------------


def upload(name: str = "签到表.pdf") -> c.RegisterFile:
    return c.RegisterFile(sha256=SHA, size=1024, content_type="application/pdf", name=name)


def test_a_registered_file_remembers_its_uploader(world):
    record = world.execute(world.contractor, handlers.register_file, upload())
    assert world.repo.file(record["id"]) == record
    assert (record["uploaded_by"], record["organization_id"], record["uploaded_at"]) == (
        world.contractor.user_id,
        world.provider,
        AT,
    )


def test_a_file_is_read_by_its_uploader_and_the_readers_of_contracts_citing_it(world):
    _, contract = world.awarded()
    record = world.execute(world.contractor, handlers.register_file, upload())
    command = c.ReadableFile(record["id"])
    assert world.query(world.contractor, handlers.readable_file, command) == record
    with pytest.raises(FileNotFound):
        world.query(world.staff, handlers.readable_file, command)  # cited by nothing yet
    milestone = contract.milestones[0]
    evidence = [{"name": "签到表", "type": "pdf", "file_id": record["id"]}]
    report = c.ReportMilestone(contract.id, milestone.id, "完成", 10, evidence=evidence)
    world.execute(world.contractor, handlers.report_milestone, report)
    assert world.query(world.staff, handlers.readable_file, command)["id"] == record["id"]
    for stranger in (world.contractor2, world.other_staff):
        with pytest.raises(FileNotFound):
            world.query(stranger, handlers.readable_file, command)
    with pytest.raises(FileNotFound):
        world.query(world.admin, handlers.readable_file, c.ReadableFile(new_id()))


# --- evaluation and reports -------------------------------------------------------------------


def evaluation(project_id: str, overall: float | None = None) -> c.EvaluateProject:
    return c.EvaluateProject(
        project_id,
        scores=[{"indicator": "服务人次", "score": 90, "weight": 1}],
        evaluator="第三方评估机构",
        evaluated_on=date(2027, 12, 20),
        overall=overall,
    )


def test_staff_evaluate_an_awarded_project(world):
    project, _ = world.awarded()
    evaluated = world.execute(world.staff, handlers.evaluate_project, evaluation(project.id))
    assert evaluated.status == "evaluated"
    assert (evaluated.evaluation["weighted_mean"], evaluated.evaluation["overall"]) == (90.0, 90.0)
    assert evaluated.evaluation["recorded_by"] == world.staff.user_id
    assert evaluated.evaluation["recorded_at"] == AT.isoformat()
    with pytest.raises(InvalidTransition):
        world.execute(world.staff, handlers.evaluate_project, evaluation(project.id))


def test_an_evaluation_scores_the_projects_indicators_by_a_manager(world):
    project, _ = world.awarded()
    with pytest.raises(OutOfScope):
        world.execute(world.contractor, handlers.evaluate_project, evaluation(project.id))
    wrong = c.EvaluateProject(
        project.id, [{"indicator": "别的", "score": 1, "weight": 1}], "x", date(2027, 12, 1)
    )
    with pytest.raises(RuleBroken) as caught:
        world.execute(world.staff, handlers.evaluate_project, wrong)
    assert details(caught) == ("VALIDATION_FAILED", "scores[0].indicator", "project_indicator")


def test_the_delivery_report_counts_on_the_clocks_today(world):
    project, contract = world.awarded()
    world.reported(contract)
    world.accepted(contract)
    world.react(handlers.volunteer_hours, c.ServiceHoursVerified(project.id, 90))
    command = c.DeliveryReport(project.id)
    report = world.query(world.contractor, handlers.delivery_report, command)
    assert report["beneficiaries"] == {"target": 0, "served": 120}
    assert report["indicators"][0]["actual"] == 120.0
    assert report["volunteer_hours"] == 1.5
    assert report["money"]["contracted"] == 900_000
    assert report["milestones"] == {
        "total": 2,
        "accepted": 1,
        "on_time": 1,
        "late": 0,
        "overdue": 0,
    }
    world.clock.at = datetime(2028, 1, 5, tzinfo=UTC)
    later = world.query(world.contractor, handlers.delivery_report, command)
    assert later["milestones"]["overdue"] == 1
    with pytest.raises(ProjectNotFound):
        world.query(world.contractor, handlers.delivery_report, c.DeliveryReport(world.draft().id))


def test_the_ocds_material_names_tenderers_only_to_those_who_may_know_them(world):
    project = world.published()
    application = world.applied(project)
    command = c.ContractingProcess(project.id)
    _, contract, applications, parties = world.query(
        world.contractor, handlers.contracting_process, command
    )
    assert (contract, applications, set(parties)) == (None, None, {world.city})
    _, _, applications, parties = world.query(world.staff, handlers.contracting_process, command)
    assert [a.id for a in applications] == [application.id]
    assert set(parties) == {world.city, world.provider}
    world.execute(
        world.staff,
        handlers.award_contract,
        c.AwardContract(project.id, MILESTONES, application_id=application.id),
    )
    _, contract, applications, parties = world.query(
        world.contractor2, handlers.contracting_process, command
    )
    assert contract.contractor_id == world.provider and len(applications) == 1
    assert parties[world.provider]["kind"] == "service_provider"


# --- facts from other services ----------------------------------------------------------------


def test_a_suspended_contractor_pauses_its_contracts_until_reinstated(world):
    _, contract = world.awarded()
    changed = world.react(
        handlers.contractor_standing_changed, c.ContractorStandingChanged(world.provider, 2, True)
    )
    assert (changed, contract.status) == (1, "suspended")
    with pytest.raises(InvalidTransition):
        world.reported(contract)
    stale = c.ContractorStandingChanged(world.provider, 1, False)
    assert world.react(handlers.contractor_standing_changed, stale) == 0
    assert contract.status == "suspended"
    reinstated = c.ContractorStandingChanged(world.provider, 3, False)
    assert world.react(handlers.contractor_standing_changed, reinstated) == 1
    assert contract.status == "active"


def test_a_deregistered_contractor_ends_its_contracts(world):
    _, contract = world.awarded()
    fact = c.ContractorDeregistered(world.provider, "service_provider", 2)
    assert world.react(handlers.contractor_deregistered, fact) == 1
    assert (contract.status, contract.termination_reason) == ("terminated", "provider_deregistered")
    assert world.react(handlers.contractor_deregistered, fact) == 0  # applied twice: no change


def test_a_created_source_is_kept_and_a_stale_fact_does_not_undo_a_newer(world):
    source = new_id()
    world.react(handlers.funding_source_created, c.FundingSourceCreated(source, world.city, 2))
    world.react(handlers.funding_source_created, c.FundingSourceCreated(source, world.district, 1))
    assert world.sources.owner(source) == world.city
    assert world.sources.rows[source]["updated_at"] == AT
    assert world.draft(funding_source_id=source).funding_source_id == source
    assert world.funding.asked == []


def test_a_commitment_made_or_refused_is_shown_on_the_contract(world):
    project, contract = world.awarded()
    assert world.react(handlers.commitment, c.CommitmentDecided(contract.id, True, 900_000))
    assert (contract.commitment_status, project.amount_committed) == ("committed", 900_000)
    refused = c.CommitmentDecided(contract.id, False, 900_000, shortfall=100, reason="余额不足")
    world.react(handlers.commitment, refused)
    assert (contract.commitment_status, contract.commitment_shortfall) == ("rejected", 100)
    assert (contract.commitment_reason, project.amount_committed) == ("余额不足", 0)
    assert not world.react(handlers.commitment, c.CommitmentDecided(new_id(), True, 1))


def test_payments_follow_funding_newest_fact_first(world):
    project, contract = world.awarded()
    milestone = contract.milestones[0]

    def fact(event_type: str, hour: int, **more: Any) -> c.DisbursementReported:
        at = datetime(2027, 4, 1, hour, tzinfo=UTC)
        disbursement = Disbursement(occurred_at=at, disbursement_id="d-1", amount=400_000, **more)
        return c.DisbursementReported(event_type, contract.id, milestone.id, disbursement)

    assert world.react(handlers.payment, fact("disbursement_approved", 2))
    assert not world.react(handlers.payment, fact("disbursement_requested", 1))  # older
    assert (milestone.payment_status, project.amount_approved) == ("approved", 400_000)
    world.react(handlers.payment, fact("disbursement_paid", 3, payment_reference="BANK-1"))
    assert (milestone.payment_status, milestone.payment_reference) == ("paid", "BANK-1")
    assert project.amount_paid == 400_000
    unknown = c.DisbursementReported(
        "disbursement_paid", contract.id, new_id(), Disbursement(occurred_at=AT)
    )
    assert not world.react(handlers.payment, unknown)
    elsewhere = c.DisbursementReported(
        "disbursement_paid", new_id(), milestone.id, Disbursement(occurred_at=AT)
    )
    assert not world.react(handlers.payment, elsewhere)


def test_verified_volunteer_hours_count_for_their_project(world):
    project = world.published()
    assert world.react(handlers.volunteer_hours, c.ServiceHoursVerified(project.id, 45))
    assert world.react(handlers.volunteer_hours, c.ServiceHoursVerified(project.id, 15))
    assert world.repo.projects[project.id].volunteer_minutes == 60
    assert not world.react(handlers.volunteer_hours, c.ServiceHoursVerified(None, 30))
    assert not world.react(handlers.volunteer_hours, c.ServiceHoursVerified(new_id(), 30))
