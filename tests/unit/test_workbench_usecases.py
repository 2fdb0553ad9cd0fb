"""The workbench's use cases over the fakes: each service counts a role's figures under the
actor's scope, and every figure equals the ``total`` of the list its ``filters`` ask for
(loaded through the list's own schema, as the console's link sends them)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

import funding.schemas as funding_schemas
import projects.schemas as projects_schemas
import volunteers.schemas as volunteers_schemas
from funding.commands import FundingWorkbench, ListDisbursements, ListSources, PayDisbursement
from funding.domain.workbench import LOW_AVAILABLE_BELOW, month_of
from funding.handlers import disbursements, sources
from funding.handlers.workbench import funding_workbench
from funding.repository import DISBURSEMENT_ORDER, SOURCE_ORDER
from kit.paging import sorted_page_request
from projects import commands as pc
from projects import handlers as ph
from projects.repository import CONTRACT_ORDER, MILESTONE_ORDER, PROJECT_ORDER
from tests.unit import test_funding_usecases as money
from tests.unit import test_projects_usecases as proj
from tests.unit import test_volunteers_usecases as vol
from volunteers import commands as vc
from volunteers.handlers import activities, hours
from volunteers.handlers.workbench import volunteers_workbench


def _list_command(schema: Any, ordering: Any, command: Any, filters: dict[str, str]) -> Any:
    loaded = schema().load(dict(filters))
    return command(page=sorted_page_request(loaded, ordering), **loaded)


# --- projects ---------------------------------------------------------------------------------


def milestones_total(world: proj.World, actor: Any, filters: dict[str, str]) -> int:
    command = _list_command(
        projects_schemas.MilestoneFilters, MILESTONE_ORDER, pc.ListMilestones, filters
    )
    return world.query(actor, ph.list_milestones, command)["total"]


def projects_total(world: proj.World, actor: Any, filters: dict[str, str]) -> int:
    command = _list_command(
        projects_schemas.ProjectFilters, PROJECT_ORDER, pc.ListProjects, filters
    )
    return world.query(actor, ph.list_projects, command)["total"]


def contracts_total(world: proj.World, actor: Any, filters: dict[str, str]) -> int:
    command = _list_command(
        projects_schemas.ContractFilters, CONTRACT_ORDER, pc.ListContracts, filters
    )
    return world.query(actor, ph.list_contracts, command)["total"]


def bench(world: proj.World, actor: Any) -> dict[str, Any]:
    return world.query(actor, ph.projects_workbench, pc.ProjectsWorkbench())


@pytest.fixture
def pworld() -> proj.World:
    return proj.World()


def test_staff_see_their_subtrees_reports_projects_and_overdue_milestones(pworld):
    world = pworld
    _, contract = world.awarded()
    world.draft()  # a draft of the city
    world.draft(world.other_staff, funding_source_id=world.other_source)  # another city's
    report = world.reported(contract)
    figures = bench(world, world.staff)
    assert figures["view"] == "staff"
    waiting = figures["reports_awaiting_decision"]
    assert (waiting["count"], waiting["oldest_reported_at"]) == (1, report.reported_at)
    assert [m["id"] for m in waiting["items"]] == [contract.milestones[0].id]
    assert waiting["items"][0]["project_title"] == "单亲母亲家庭服务"
    by_status = {card["status"]: card["count"] for card in figures["projects_by_status"]}
    assert (by_status["awarded"], by_status["draft"], by_status["published"]) == (1, 1, 0)
    assert figures["milestones_overdue"]["count"] == 0  # nothing is due before 2027-03-31

    world.clock.advance(days=90)  # 2027-04-10: the first milestone is past its due date
    figures = bench(world, world.staff)
    assert figures["milestones_overdue"]["count"] == 1
    assert figures["milestones_overdue"]["filters"] == {
        "status": "open",
        "running": "true",
        "due_before": "2027-04-10",
        "sort": "due_on",
    }
    # every figure is its list's total, under the filters the card gives
    for name in ("reports_awaiting_decision", "milestones_overdue"):
        card = figures[name]
        assert milestones_total(world, world.staff, card["filters"]) == card["count"]
    for card in figures["projects_by_status"]:
        assert card["filters"]["within"] == world.city
        assert projects_total(world, world.staff, card["filters"]) == card["count"]


def test_other_federations_staff_count_none_of_it_and_admins_count_everything(pworld):
    world = pworld
    _, contract = world.awarded()
    world.reported(contract)
    world.draft(world.other_staff, funding_source_id=world.other_source)
    other = bench(world, world.other_staff)
    assert other["reports_awaiting_decision"]["count"] == 0
    assert {c["status"]: c["count"] for c in other["projects_by_status"]}["draft"] == 1
    district = bench(world, world.district_staff)
    assert district["reports_awaiting_decision"]["count"] == 0
    admin = bench(world, world.admin)
    assert admin["reports_awaiting_decision"]["count"] == 1
    admin_status = {c["status"]: c for c in admin["projects_by_status"]}
    assert (admin_status["draft"]["count"], admin_status["awarded"]["count"]) == (1, 1)
    assert "within" not in admin_status["draft"]["filters"]
    assert projects_total(world, world.admin, admin_status["draft"]["filters"]) == 1


def test_the_project_list_narrows_to_a_subtree_with_within(pworld):
    world = pworld
    world.published()
    world.draft()
    theirs = world.draft(world.other_staff, funding_source_id=world.other_source)
    world.execute(world.other_staff, ph.publish_project, pc.PublishProject(theirs.id))
    world.draft(world.other_staff, funding_source_id=world.other_source)
    # without within she also sees the other city's published project
    assert projects_total(world, world.staff, {}) == 3
    assert projects_total(world, world.staff, {"within": world.city}) == 2
    assert projects_total(world, world.staff, {"within": world.district}) == 0
    assert projects_total(world, world.staff, {"within": world.other_city}) == 1
    assert projects_total(world, world.admin, {"within": world.other_city}) == 2


def test_a_contractor_sees_its_contracts_milestones_to_report_rejections_and_payments(pworld):
    world = pworld
    _, contract = world.awarded()
    figures = bench(world, world.contractor)
    assert figures["view"] == "contractor"
    contracts = {c["status"]: c for c in figures["contracts_by_status"]}
    assert contracts["active"]["count"] == 1
    assert contracts_total(world, world.contractor, contracts["active"]["filters"]) == 1
    due = figures["milestones_due"]
    assert due["count"] == 2
    assert [m["seq"] for m in due["items"]] == [1, 2]  # the next due first
    world.reported(contract)
    world.execute(
        world.staff,
        ph.reject_milestone,
        pc.RejectMilestone(contract.id, contract.milestones[0].id, "材料不全"),
    )
    world.reported(contract, 2)
    world.accepted(contract, 2)
    second = world.repo.contract(contract.id).milestones[1]
    second.payment_status, second.paid_amount = "paid", second.amount
    second.paid_at = proj.AT
    figures = bench(world, world.contractor)
    assert figures["milestones_due"]["count"] == 0
    assert figures["reports_rejected"]["count"] == 1
    assert (figures["tranches_paid"]["count"], figures["tranches_paid"]["paid"]) == (1, 500_000)
    for name in ("milestones_due", "reports_rejected", "tranches_paid"):
        card = figures[name]
        assert milestones_total(world, world.contractor, card["filters"]) == card["count"]
    # another contractor counts none of it
    assert bench(world, world.contractor2)["reports_rejected"]["count"] == 0
    assert milestones_total(world, world.contractor2, {}) == 0


@pytest.mark.parametrize("who", ["finance", "leader"])
def test_roles_without_project_cards_get_none(pworld, who):
    figures = bench(pworld, getattr(pworld, who))
    assert figures["view"] == "none" and "projects_by_status" not in figures


def test_finance_officers_read_their_lines_milestones_and_team_leaders_none(pworld):
    world = pworld
    world.awarded()
    assert milestones_total(world, world.finance, {"status": "pending"}) == 2
    assert milestones_total(world, world.leader, {}) == 0


# --- funding ----------------------------------------------------------------------------------


def funding_bench(world: money.World, actor: Any, low: int = LOW_AVAILABLE_BELOW) -> Any:
    return world.query(actor, funding_workbench, FundingWorkbench(low_below=low))


def disbursements_total(world: money.World, actor: Any, filters: dict[str, str]) -> Any:
    command = _list_command(
        funding_schemas.DisbursementFilters, DISBURSEMENT_ORDER, ListDisbursements, filters
    )
    found = world.query(actor, disbursements.list_disbursements, command)
    return found["total"], sum(d.amount for d in found["items"])


def sources_total(world: money.World, actor: Any, filters: dict[str, str]) -> int:
    command = _list_command(funding_schemas.SourceFilters, SOURCE_ORDER, ListSources, filters)
    return world.query(actor, sources.list_sources, command)["total"]


@pytest.fixture
def fworld() -> money.World:
    return money.World()


def test_finance_sees_the_queue_payments_this_month_and_low_sources(fworld):
    world = fworld
    rich = world.source(20_000_000)
    world.source(3_000_000, owner=world.district)  # below ¥50,000: running low
    world.source(1_000_000, owner=world.other)  # another city's: not counted
    world.source(8_000_000, year=2026)  # last year's: not this year's money
    first = world.accept(world.award(rich, 3_000_000).contract_id, 1_000_000)
    world.clock.advance(hours=1)
    paid = world.accept(world.award(rich, 2_000_000).contract_id, 2_000_000)
    world.approve(paid)
    pay = PayDisbursement(disbursement_id=paid.id, payment_reference="BANK-1")
    world.execute(world.second_officer, disbursements.pay_disbursement, pay)

    figures = funding_bench(world, world.officer)
    assert figures["view"] == "treasury"
    year = figures["money_this_year"]
    assert (year["fiscal_year"], year["count"], year["amount"]) == (2027, 2, 23_000_000)
    assert (year["committed"], year["paid"]) == (5_000_000, 2_000_000)
    assert sources_total(world, world.officer, year["filters"]) == 2
    queue = figures["approval_queue"]
    assert (queue["count"], queue["amount"]) == (1, 1_000_000)
    assert queue["oldest_requested_at"] == first.requested_at
    assert disbursements_total(world, world.officer, queue["filters"]) == (1, 1_000_000)
    month = figures["payments_this_month"]
    assert (month["count"], month["amount"]) == (1, 2_000_000)
    assert month["filters"] == {
        "status": "paid",
        "paid_from": "2027-03-01",
        "paid_before": "2027-04-01",
    }
    assert disbursements_total(world, world.officer, month["filters"]) == (1, 2_000_000)
    low = figures["sources_low"]
    assert (low["count"], low["threshold"]) == (1, LOW_AVAILABLE_BELOW)
    assert [s.available for s in low["items"]] == [3_000_000]
    assert sources_total(world, world.officer, low["filters"]) == 1
    # a higher threshold, named by the request, also finds the city's sources of this year
    # (15,000,000 left) and of last year (8,000,000)
    higher = funding_bench(world, world.officer, 16_000_000)["sources_low"]
    assert higher["count"] == 3
    assert sources_total(world, world.officer, higher["filters"]) == 3


def test_payments_of_another_month_are_not_this_months(fworld):
    world = fworld
    source = world.source(9_000_000)
    paid = world.accept(world.award(source, 2_000_000).contract_id, 2_000_000)
    world.approve(paid)
    pay = PayDisbursement(disbursement_id=paid.id, payment_reference="BANK-2")
    world.execute(world.second_officer, disbursements.pay_disbursement, pay)
    world.clock.advance(days=31)  # April now
    figures = funding_bench(world, world.officer)
    assert figures["payments_this_month"]["count"] == 0
    assert month_of(date(2027, 12, 5)) == (date(2027, 12, 1), date(2028, 1, 1))


def test_staff_see_this_years_money_only_and_other_federations_nothing(fworld):
    world = fworld
    world.source(2_000_000)
    staff = funding_bench(world, world.staff)
    assert staff["view"] == "staff" and staff["money_this_year"]["amount"] == 2_000_000
    assert "approval_queue" not in staff
    other = funding_bench(world, world.other_officer)
    assert other["money_this_year"]["count"] == 0 and other["sources_low"]["count"] == 0
    admin = funding_bench(world, world.admin)
    assert admin["view"] == "treasury" and admin["money_this_year"]["count"] == 1
    assert funding_bench(world, world.contractor)["view"] == "none"


# --- volunteers -------------------------------------------------------------------------------


def vbench(world: Any, actor: Any) -> dict[str, Any]:
    return world.query(actor, volunteers_workbench, vc.VolunteersWorkbench())


def hours_total(world: Any, actor: Any, filters: dict[str, str]) -> int:
    from volunteers.repository import HOURS_ORDER

    command = _list_command(volunteers_schemas.HoursFilters, HOURS_ORDER, vc.ListHours, filters)
    return world.query(actor, hours.list_hours, command)["total"]


def activities_total(world: Any, actor: Any, filters: dict[str, str]) -> int:
    from volunteers.repository import ACTIVITY_ORDER

    command = _list_command(
        volunteers_schemas.ActivityFilters, ACTIVITY_ORDER, vc.ListActivities, filters
    )
    return world.query(actor, activities.list_activities, command)["total"]


def report_total(world: Any, actor: Any, filters: dict[str, str]) -> dict[str, Any]:
    from volunteers.service import _report_command

    return world.query(actor, hours.report, _report_command(dict(filters)))["total"]


@pytest.fixture
def vworld() -> Any:
    return vol.world.__wrapped__()


def test_a_leader_sees_hours_to_verify_upcoming_activities_and_this_months_hours(vworld):
    world = vworld
    team, volunteer, activity = vol.enrolled(world)
    first = vol.log(world, volunteer["id"], activity.id, hour=1)
    vol.log(world, volunteer["id"], activity.id, hour=4, length=1)
    world.execute(vol.LEADER, hours.verify_hours, vc.VerifyHours(first.id))
    later = vol.make_activity(
        world,
        team["id"],
        capacity=3,
        starts=vol.NOW + timedelta(days=2),
        ends=vol.NOW + timedelta(days=2, hours=3),
    )
    figures = vbench(world, vol.LEADER)
    assert figures["view"] == "leader"
    pending = figures["hours_pending"]
    assert (pending["count"], pending["minutes"], pending["hours"]) == (1, 60, 1.0)
    assert hours_total(world, vol.LEADER, pending["filters"]) == 1
    upcoming = figures["upcoming_activities"]
    assert upcoming["count"] == 1  # the one that began yesterday is not upcoming
    assert [(a.id, a.capacity, a.enrolled_count) for a in upcoming["items"]] == [(later.id, 3, 0)]
    assert activities_total(world, vol.LEADER, upcoming["filters"]) == 1
    month = figures["hours_this_month"]
    assert (month["count"], month["minutes"]) == (1, 120)
    assert month["filters"] == {"group_by": "team", "since": "2027-03-01", "until": "2027-03-31"}
    assert report_total(world, vol.LEADER, month["filters"])["minutes"] == 120
    # another leader's teams are not hers
    other = vbench(world, vol.OTHER_LEADER)
    assert (other["hours_pending"]["count"], other["upcoming_activities"]["count"]) == (0, 0)


def test_staff_see_their_subtrees_hours_to_verify_only(vworld):
    world = vworld
    _, volunteer, activity = vol.enrolled(world)
    vol.log(world, volunteer["id"], activity.id)
    staff = vbench(world, vol.CITY_STAFF)
    assert staff["view"] == "staff" and staff["hours_pending"]["count"] == 1
    assert "upcoming_activities" not in staff
    assert hours_total(world, vol.CITY_STAFF, staff["hours_pending"]["filters"]) == 1
    assert vbench(world, vol.OTHER_STAFF)["hours_pending"]["count"] == 0
    assert vbench(world, vol.FINANCE)["view"] == "none"


# --- registry ---------------------------------------------------------------------------------


def test_the_coverage_card_is_the_staffs_subtree_and_the_admins_whole_installation():
    from registry import handlers as rh
    from registry.commands import GetCoverage, WorkbenchCoverage
    from tests.unit import test_registry_usecases as reg

    registry = reg.Registry()
    tree = reg.tree.__wrapped__(registry)
    other = tree["other"]
    unit = registry.register(
        name="外市单位", kind="host_unit", sector="village", parent_id=other.id
    )
    assert unit.id
    staff = reg.person("federation_staff", tree["city"])
    card = registry.query(staff, rh.workbench_coverage, WorkbenchCoverage())
    assert card == registry.query(staff, rh.coverage, GetCoverage(tree["city"].id))
    whole = registry.query(reg.ADMIN, rh.workbench_coverage, WorkbenchCoverage())
    assert (whole["organization_id"], whole["name"]) == (None, None)
    assert whole["total"]["host_units"] == card["total"]["host_units"] + 1
