"""The annual assessment's figure sets against an independent count, on SQLite and PostgreSQL.

A two-level tree (a province, its cities, their townships) with a year of known work in every
service (``tests/bench/province.py``) is loaded into each service's migrated database; then a
township federation and a host unit are moved mid-year to another city — through the
registry's own use case and, in the other services, as the ``organization_updated`` fact
their directory copies apply. Every cell of every figure set, computed by the services' use
cases over their real SQL, must equal the count the test makes by walking parent links: the
whole year of a moved unit counts for the city it sits under now.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest

from kit.db import connect
from kit.migrate import upgrade
from kit.usecase import FixedClock
from language.actor import Actor
from language.directory import Directory, apply_details
from tests.bench.province import Province, Shape, seed
from tests.support.infra import scratch_postgres_database

SERVICES = ("registry", "projects", "funding", "volunteers")
ADMIN = Actor("a0000000-0000-4000-8000-000000000001", "admin", "admin")
YEAR = 2026
NOW = datetime(2026, 9, 30, 4, 0, tzinfo=UTC)
SHAPE = Shape(
    children=3,
    townships=2,
    organizations=240,
    projects=60,
    teams=15,
    volunteers=80,
    activities=40,
    hours=600,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request, tmp_path):
    if request.param == "sqlite":
        urls = {name: f"sqlite:///{tmp_path / f'{name}.sqlite3'}" for name in SERVICES}
        for name, url in urls.items():
            upgrade(name, url)
        yield urls
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with contextlib.ExitStack() as stack:
        urls = {
            name: stack.enter_context(scratch_postgres_database(admin_url)) for name in SERVICES
        }
        for name, url in urls.items():
            upgrade(name, url)
        yield urls


def _move(province: Province, urls: dict[str, str], unit_id: str, new_parent: str) -> None:
    """Move ``unit_id`` under ``new_parent`` as the registry does, and tell the copies."""
    from registry import handlers
    from registry.commands import UpdateOrganization
    from registry.context import Context
    from registry.repository import OrganizationRepository

    with connect(urls["registry"], service_name="registry") as db, db() as uow:
        ctx = Context(uow, OrganizationRepository(uow.session), ADMIN, FixedClock(NOW))
        handlers.update_organization(ctx, UpdateOrganization(unit_id, {"parent_id": new_parent}))
        uow.commit()
    province.move(unit_id, new_parent)
    org = province.orgs[unit_id]
    fact = {
        "organization_id": unit_id,
        "kind": org.kind,
        "name": org.name,
        "uscc": None,
        "parent_id": new_parent,
        "status": org.status,
        "version": 2,
    }
    for name in ("projects", "funding", "volunteers"):
        with connect(urls[name], service_name=name) as db, db() as uow:
            apply_details(uow, fact)
            uow.commit()


def _figure_set(name: str, urls: dict[str, str], federation_id: str, actor: Actor) -> Any:
    """One service's figure set, by its use case over its own database."""
    from funding.context import database_context
    from funding.handlers import assessment as funding_assessment
    from projects.assessment_repository import AssessmentRepository as ProjectsAssessments
    from projects.context import Context as ProjectsContext
    from projects.handlers import assessment as projects_assessment
    from projects.repository import ProjectRepository
    from projects.sources import FundingSources
    from registry import assessment as registry_assessment
    from registry.assessment_repository import AssessmentRepository as RegistryAssessments
    from registry.context import Context as RegistryContext
    from registry.repository import OrganizationRepository
    from volunteers.context import Context as VolunteersContext
    from volunteers.handlers import assessment as volunteers_assessment

    clock = FixedClock(NOW)

    def context(uow: Any) -> Any:
        if name == "registry":
            return RegistryContext(
                uow,
                OrganizationRepository(uow.session),
                actor,
                clock,
                RegistryAssessments(uow.session),
            )
        if name == "projects":
            return ProjectsContext(
                uow=uow,
                repo=ProjectRepository(uow.session),
                sources=FundingSources(uow.session),
                directory=Directory(uow, lookup=lambda _: None),
                actor=actor,
                clock=clock,
                assessments=ProjectsAssessments(uow.session),
            )
        if name == "funding":
            return database_context(uow, actor, dual_approval_threshold=10_000_000, clock=clock)
        return VolunteersContext.over(uow, actor, None, None, clock=clock)  # type: ignore[arg-type]

    module = {
        "registry": registry_assessment,
        "projects": projects_assessment,
        "funding": funding_assessment,
        "volunteers": volunteers_assessment,
    }[name]
    with connect(urls[name], service_name=name) as db, db(readonly=True) as uow:
        return module.assessment_figures(
            context(uow), module.GetAssessmentFigures(federation_id, YEAR)
        )


def _figures(urls: dict[str, str], federation_id: str, actor: Actor = ADMIN) -> dict[str, Any]:
    return {name: _figure_set(name, urls, federation_id, actor) for name in SERVICES}


def _cells(answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The figure sets as {child: {figure: value}}, in the expectation's shape."""
    cells: dict[str, dict[str, Any]] = {}
    for child in answers["registry"]["children"]:
        cells[child["organization_id"]] = {
            "sectors": {
                line["sector"]: (line["host_units"], line["covered"])
                for line in child["coverage"]["sectors"]
            },
            "womens_organizations_founded": child["womens_organizations_founded"],
        }
    for name in ("projects", "funding", "volunteers"):
        for child in answers[name]["children"]:
            row = cells.setdefault(child["organization_id"], {})
            for key, value in child.items():
                if key not in ("organization_id", "on_time_share", "verified_hours"):
                    row[key] = value
    return cells


FIGURES = (
    "womens_organizations_founded",
    "projects_published",
    "projects_completed",
    "milestones_due",
    "milestones_on_time",
    "money_committed",
    "money_paid",
    "volunteers_registered",
    "verified_minutes",
    "activities_held",
)


def test_every_cell_matches_an_independent_count_after_a_move(urls):
    province = Province(SHAPE, YEAR, NOW)
    seed(province, urls)
    first, second, third = province.children
    township = next(
        o.id for o in province.orgs.values() if o.parent_id == first and o.kind == "federation"
    )
    hosts = [
        o.id
        for o in province.orgs.values()
        if o.parent_id == first and o.kind == "host_unit" and o.status != "deregistered"
    ]
    hosting = [t["host_id"] for t in province.teams if t["host_id"] in hosts]
    host = (hosting or hosts)[0]
    before = province.expected()
    _move(province, urls, township, second)
    _move(province, urls, host, third)
    expected = province.expected()
    # the moves matter: the first city lost figures the others gained
    assert expected[first] != before[first]
    assert (
        expected[first]["verified_minutes"] + expected[second]["verified_minutes"]
        == before[first]["verified_minutes"]
        + before[second]["verified_minutes"]
        + before[third]["verified_minutes"]
        - expected[third]["verified_minutes"]
    )

    cells = _cells(_figures(urls, province.root))
    assert sorted(cells) == sorted(province.children)
    wrong = []
    for child in province.children:
        for figure in FIGURES:
            want, got = expected[child].get(figure, 0), cells[child].get(figure)
            if want != got:
                wrong.append(f"{province.orgs[child].name} {figure}: expected {want}, got {got}")
        if cells[child]["sectors"] != expected[child]["sectors"]:
            wrong.append(
                f"{province.orgs[child].name} coverage: {cells[child]['sectors']} "
                f"!= {expected[child]['sectors']}"
            )
    assert not wrong, "\n".join(wrong)
    # every figure has something to count, so no cell matches by being zero everywhere
    for figure in FIGURES:
        assert sum(expected[c].get(figure, 0) for c in province.children) > 0, figure


def test_staff_of_the_federation_or_above_may_assess_others_are_refused(urls):
    from kit.errors import Forbidden

    province = Province(SHAPE, YEAR, NOW)
    seed(province, urls)
    first, second = province.children[:2]
    township = next(
        o.id for o in province.orgs.values() if o.parent_id == first and o.kind == "federation"
    )

    def staff(organization_id: str) -> Actor:
        return Actor(
            "b0000000-0000-4000-8000-000000000002", "staff", "federation_staff", organization_id
        )

    # the province's staff assess the province and a city; a city's staff their own city
    assert _figures(urls, province.root, staff(province.root))["registry"]["children"]
    assert _figures(urls, first, staff(province.root))["projects"]["children"]
    answers = _figures(urls, first, staff(first))
    assert [c["organization_id"] for c in answers["funding"]["children"]] == sorted(
        o.id for o in province.orgs.values() if o.parent_id == first and o.kind == "federation"
    )
    # a city's staff do not assess the province above, nor another city; a township's staff
    # not their city; a finance officer nothing
    refused = [
        (province.root, staff(first)),
        (second, staff(first)),
        (first, staff(township)),
        (
            first,
            Actor("c0000000-0000-4000-8000-000000000003", "fin", "finance_officer", province.root),
        ),
    ]
    for federation_id, actor in refused:
        for name in SERVICES:  # each service refuses on its own
            with pytest.raises(Forbidden):
                _figure_set(name, urls, federation_id, actor)
