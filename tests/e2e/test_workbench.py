"""The workbench over HTTP, on SQLite and on PostgreSQL: a federation with known numbers
(``tests.support.workbench_world``), each role's cards checked against those numbers and, card
by card, against the total (and the sums) of the list it links to under the card's own
filters; the roles without a kind of card are refused it."""

from contextlib import ExitStack

import pytest

from tests.support.infra import scratch_postgres_database
from tests.support.platform import SERVICES, Platform, new_vhost, vhost_uri
from tests.support.workbench_world import (
    EXPECTED,
    WorkbenchWorld,
    check_cards_against_lists,
    expect,
)

PASSWORD = "workbench-password-2026"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def platform(request, rabbit_manager, tmp_path_factory, infra):
    """The aggregates run on both databases (SQLite's and PostgreSQL's dates, sums, MIN)."""
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp(f"workbench-{request.param}")
    with ExitStack() as stack:
        urls = {}
        if request.param == "postgresql":
            admin_url = infra.require_postgres()
            for name in (*SERVICES, "gateway"):
                urls[name] = stack.enter_context(
                    scratch_postgres_database(admin_url, f"jinguo_wb_{name}")
                )
        platform = Platform(
            amqp_uri=vhost_uri(infra.amqp_uri, vhost), workdir=workdir, database_urls=urls
        )
        try:
            platform.start()
            yield platform
        finally:
            platform.stop()
            rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def admin(platform):
    return platform.admin()


@pytest.fixture(scope="module")
def world(platform, admin):
    return WorkbenchWorld(platform, admin, PASSWORD).build()


def cards(client, group, **params):
    return expect(client.get(f"/workbench/{group}", params=params), 200)


def by_status(group_cards):
    return {card["status"]: card["count"] for card in group_cards}


def test_federation_staff_see_their_subtree(world):
    staff = world.clients["staff"]
    want = EXPECTED["staff"]
    projects = cards(staff, "projects")
    assert projects["view"] == "staff"
    assert projects["reports_awaiting_decision"]["count"] == want["reports_awaiting_decision"]
    assert projects["milestones_overdue"]["count"] == want["milestones_overdue"]
    statuses = by_status(projects["projects_by_status"])
    assert {k: statuses[k] for k in want["projects"]} == want["projects"]
    checked = check_cards_against_lists(staff, projects)
    assert {"reports_awaiting_decision", "milestones_overdue", "projects_by_status"} <= set(checked)

    funding = cards(staff, "funding")
    year = funding["money_this_year"]
    assert (year["count"], year["amount"]) == want["money_this_year"]
    assert "approval_queue" not in funding or funding["approval_queue"] is None
    assert check_cards_against_lists(staff, funding) == ["money_this_year"]

    coverage = cards(staff, "coverage")
    assert (coverage["total"]["host_units"], coverage["total"]["covered"]) == want["coverage"]
    assert coverage == expect(staff.get(f"/organizations/{world.city['id']}/coverage"), 200)

    volunteers = cards(staff, "volunteers")
    assert volunteers["hours_pending"]["count"] == want["hours_pending"]
    assert check_cards_against_lists(staff, volunteers) == ["hours_pending"]


def test_finance_sees_the_queue_the_months_payments_and_low_sources(world):
    officer = world.clients["officer"]
    want = EXPECTED["officer"]
    funding = cards(officer, "funding")
    assert funding["view"] == "treasury"
    queue, paid = funding["approval_queue"], funding["payments_this_month"]
    assert (queue["count"], queue["amount"]) == want["approval_queue"]
    assert queue["oldest_requested_at"] is not None
    assert (paid["count"], paid["amount"]) == want["payments_this_month"]
    assert funding["sources_low"]["count"] == want["sources_low"]
    assert funding["sources_low"]["threshold"] == 5_000_000
    year = funding["money_this_year"]
    assert (year["count"], year["amount"]) == want["money_this_year"]
    checked = check_cards_against_lists(officer, funding)
    assert set(checked) == {
        "money_this_year",
        "approval_queue",
        "payments_this_month",
        "sources_low",
    }
    # the threshold is the request's to choose
    higher = cards(officer, "funding", low_below=8_000_000)["sources_low"]
    assert (higher["count"], higher["threshold"]) == (2, 8_000_000)
    assert check_cards_against_lists(officer, {"sources_low": higher}) == ["sources_low"]
    expect(officer.get("/workbench/funding", params={"low_below": "0"}), 422)
    for group in ("projects", "volunteers", "coverage"):
        expect(officer.get(f"/workbench/{group}"), 403)


def test_a_contractor_sees_its_own_contracts_and_milestones(world):
    contractor = world.clients["contractor"]
    want = EXPECTED["contractor"]
    projects = cards(contractor, "projects")
    assert projects["view"] == "contractor"
    assert by_status(projects["contracts_by_status"])["active"] == want["contracts_active"]
    assert projects["milestones_due"]["count"] == want["milestones_due"]
    assert projects["reports_rejected"]["count"] == want["reports_rejected"]
    paid = projects["tranches_paid"]
    assert (paid["count"], paid["paid"]) == want["tranches_paid"]
    checked = check_cards_against_lists(contractor, projects)
    assert {"milestones_due", "reports_rejected", "tranches_paid", "contracts_by_status"} <= set(
        checked
    )
    expect(contractor.get("/workbench/funding"), 403)


def test_a_team_leader_sees_her_teams(world):
    leader = world.clients["leader"]
    want = EXPECTED["leader"]
    volunteers = cards(leader, "volunteers")
    assert volunteers["view"] == "leader"
    assert volunteers["hours_pending"]["count"] == want["hours_pending"]
    upcoming = volunteers["upcoming_activities"]
    # both activities start today or later (the one on now began today, China time)
    assert upcoming["count"] == want["upcoming_activities"]
    assert [(a["capacity"], a["enrolled"]) for a in upcoming["items"]] == [(5, 1), (5, 1)]
    month = volunteers["hours_this_month"]
    assert (month["count"], month["minutes"]) == want["hours_this_month"]
    assert set(check_cards_against_lists(leader, volunteers)) == {
        "hours_pending",
        "upcoming_activities",
        "hours_this_month",
    }
    expect(leader.get("/workbench/projects"), 403)


def test_another_federation_counts_none_of_it_and_admins_everything(world, admin):
    other = world.clients["other_staff"]
    projects = cards(other, "projects")
    assert projects["reports_awaiting_decision"]["count"] == 0
    assert sum(by_status(projects["projects_by_status"]).values()) == 0
    assert cards(other, "funding")["money_this_year"]["count"] == 0
    assert cards(other, "volunteers")["hours_pending"]["count"] == 0
    assert cards(other, "coverage")["total"]["host_units"] == 0
    for group in ("projects", "funding", "volunteers"):
        answer = cards(admin, group)
        check_cards_against_lists(admin, answer)
    assert cards(admin, "projects")["reports_awaiting_decision"]["count"] >= 1
    assert cards(admin, "coverage")["organization_id"] is None
