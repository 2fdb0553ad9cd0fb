"""The annual assessment (目标考核) over fakes: the shared rules (year, scope, weights, score),
each service's use case (its figures per child, and whom it refuses), the registry's weights
with their history, and the gateway's merged table and spreadsheet rows."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.assessment import HEADER, merge, sheet_rows
from kit.errors import Forbidden, InvalidInput, NotFound
from kit.usecase import FixedClock
from language.actor import Actor
from language.assessment import (
    INDICATOR_CODES,
    AssessmentOutOfScope,
    FederationNotFound,
    child_of,
    default_weights,
    ensure_can_assess,
    ensure_year,
    merged_weights,
    scores,
    year_window,
)
from registry import assessment as registry_assessment
from registry import handlers
from registry.commands import (
    ChangeAssessmentWeights,
    GetAssessmentFigures,
    GetAssessmentWeights,
    RegisterOrganization,
)
from registry.context import Context as RegistryContext
from tests.unit.fakes import FakeDirectory, FakeUnitOfWork
from tests.unit.fakes.assessment import FakeRegistryAssessments, FakeSubtreeFigures
from tests.unit.fakes.registry import FakeOrganizationRepository

AT = datetime(2026, 6, 30, 2, 0, tzinfo=UTC)
ADMIN = Actor(str(uuid.uuid4()), "admin", "admin")


def staff(organization_id: str | None, role: str = "federation_staff") -> Actor:
    return Actor(str(uuid.uuid4()), f"{role}.user", role, organization_id)


# --- the shared rules -----------------------------------------------------------------------


def test_the_year_is_china_time_and_checked():
    start, end = year_window(2026)
    assert start == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert ensure_year("2026") == 2026
    for bad, rule in (("x", "integer"), (1999, "range"), (2101, "range")):
        with pytest.raises(InvalidInput) as refused:
            ensure_year(bad)
        assert refused.value.details["field"] == "year" and refused.value.details["rule"] == rule


def test_who_may_assess_a_federation():
    province, city = str(uuid.uuid4()), str(uuid.uuid4())
    entry = {"kind": "federation", "path": f"/{province}/{city}/"}
    assert ensure_can_assess(ADMIN, city, entry) == entry["path"]
    assert ensure_can_assess(staff(province), city, entry) == entry["path"]
    assert ensure_can_assess(staff(city), city, entry) == entry["path"]
    for actor in (
        staff(str(uuid.uuid4())),  # another line
        staff(None),
        staff(province, "finance_officer"),
        staff(province, "ops"),
        staff(province, "team_leader"),
        staff(city, "contractor"),
    ):
        with pytest.raises(AssessmentOutOfScope):
            ensure_can_assess(actor, city, entry)
    with pytest.raises(FederationNotFound):
        ensure_can_assess(ADMIN, city, None)
    with pytest.raises(FederationNotFound):
        ensure_can_assess(ADMIN, city, {"kind": "host_unit", "path": entry["path"]})


def test_child_of_a_path():
    assert child_of("/p/c/t/h/", "/p/") == "c"
    assert child_of("/p/", "/p/") is None
    assert child_of("/q/c/", "/p/") is None


def test_weights_are_checked_and_merged():
    weights = merged_weights(default_weights(), {"money_paid": 30, "coverage_rate": 0})
    assert weights["money_paid"] == 30 and weights["coverage_rate"] == 0
    assert weights["projects_published"] == 10
    cases = (
        ({"nope": 1}, "weights.nope", "one_of"),
        ({"money_paid": 101}, "weights.money_paid", "range"),
        ({"money_paid": -1}, "weights.money_paid", "range"),
        ({"money_paid": 1.5}, "weights.money_paid", "range"),
        ({"money_paid": True}, "weights.money_paid", "range"),
        ({code: 0 for code in INDICATOR_CODES}, "weights", "not_all_zero"),
    )
    for change, field, rule in cases:
        with pytest.raises(InvalidInput) as refused:
            merged_weights(default_weights(), change)
        assert (refused.value.details["field"], refused.value.details["rule"]) == (field, rule)


def test_the_score_scales_each_indicator_to_the_best_child():
    rows = [
        {"coverage_rate": 50.0, "money_paid": 100, "on_time_share": None},
        {"coverage_rate": 100.0, "money_paid": 300, "on_time_share": 80.0},
        {"coverage_rate": None, "money_paid": 0, "on_time_share": 40.0},
    ]
    weights = {code: 0 for code in INDICATOR_CODES}
    weights.update(coverage_rate=2, money_paid=1, on_time_share=1)
    scored = scores(rows, weights)
    assert [s["scaled"]["coverage_rate"] for s in scored] == [50.0, 100.0, 0.0]
    assert [s["scaled"]["money_paid"] for s in scored] == [33.3, 100.0, 0.0]
    assert [s["scaled"]["on_time_share"] for s in scored] == [0.0, 100.0, 50.0]
    # (2 × 50 + 33.33… + 0) / 4, (2 × 100 + 100 + 100) / 4, (0 + 0 + 50) / 4
    assert [s["score"] for s in scored] == [33.3, 100.0, 12.5]
    # nobody has any: every scaled value is 0, not a division by zero
    assert scores([{"money_paid": 0}], weights)[0]["score"] == 0.0


# --- the registry: figures and weights ------------------------------------------------------


class Registry:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWork("registry")
        self.organizations = FakeOrganizationRepository(self.uow)
        self.assessments = FakeRegistryAssessments(self.organizations)
        self.clock = FixedClock(AT)

    def context(self, actor: Actor) -> RegistryContext:
        return RegistryContext(self.uow, self.organizations, actor, self.clock, self.assessments)

    def register(self, **fields):
        result = handlers.register_organization(self.context(ADMIN), RegisterOrganization(**fields))
        self.uow.commit()
        return result


@pytest.fixture
def registry():
    return Registry()


@pytest.fixture
def cities(registry):
    """A province with two cities; the first has a county, host units (one covered) and a
    women's organization registered this year; the second a host unit only."""
    province = registry.register(name="某省妇联", kind="federation", level="province")
    first = registry.register(
        name="甲市妇联", kind="federation", level="city", parent_id=province.id
    )
    second = registry.register(
        name="乙市妇联", kind="federation", level="city", parent_id=province.id
    )
    county = registry.register(
        name="丙县妇联", kind="federation", level="county", parent_id=first.id
    )
    covered = registry.register(
        name="某企业", kind="host_unit", sector="non_public_enterprise", parent_id=county.id
    )
    registry.register(name="某企业妇委会", kind="womens_organization", parent_id=covered.id)
    registry.register(name="某村", kind="host_unit", sector="village", parent_id=first.id)
    registry.register(name="某社区", kind="host_unit", sector="community", parent_id=second.id)
    registry.clock.advance(days=400)  # registered last year, seen from the next
    registry.register(
        name="某社区妇代会",
        kind="womens_organization",
        parent_id=registry.organizations.organizations[
            next(o.id for o in registry.organizations.organizations.values() if o.name == "某社区")
        ].id,
    )
    registry.clock = FixedClock(AT)
    return province, first, second, county


def test_the_registry_figures_per_child(registry, cities):
    province, _first, _second, _ = cities
    answer = registry_assessment.assessment_figures(
        registry.context(staff(province.id)), GetAssessmentFigures(province.id, 2026)
    )
    rows = {row["name"]: row for row in answer["children"]}
    assert list(rows) == ["乙市妇联", "甲市妇联"]  # by name
    first_total = rows["甲市妇联"]["coverage"]["total"]
    assert (first_total["host_units"], first_total["covered"]) == (2, 1)
    assert str(first_total["rate"]) == "50.0"
    assert rows["甲市妇联"]["womens_organizations_founded"] == 1
    # the second city's women's organization was registered in 2027
    assert rows["乙市妇联"]["womens_organizations_founded"] == 0
    assert rows["乙市妇联"]["coverage"]["total"]["covered"] == 1
    sectors = {line["sector"]: line for line in rows["甲市妇联"]["coverage"]["sectors"]}
    assert sectors["non_public_enterprise"]["covered"] == 1
    assert sectors["government_agency"]["rate"] is None
    assert registry.uow.commit() == []


def test_the_registry_refuses_those_outside_the_line(registry, cities):
    province, first, second, county = cities
    refused = [
        (province.id, staff(first.id)),
        (second.id, staff(first.id)),
        (first.id, staff(county.id)),
        (first.id, staff(province.id, "finance_officer")),
        (first.id, staff(province.id, "ops")),
    ]
    for federation_id, actor in refused:
        for use_case, command in (
            (registry_assessment.assessment_figures, GetAssessmentFigures(federation_id, 2026)),
            (registry_assessment.assessment_weights, GetAssessmentWeights(federation_id, 2026)),
            (
                registry_assessment.change_assessment_weights,
                ChangeAssessmentWeights(federation_id, 2026, {"money_paid": 1}),
            ),
        ):
            with pytest.raises(Forbidden):
                use_case(registry.context(actor), command)
    assert registry.assessments.history == []
    with pytest.raises(NotFound):
        registry_assessment.assessment_figures(
            registry.context(ADMIN), GetAssessmentFigures(str(uuid.uuid4()), 2026)
        )


def test_weights_default_then_set_then_carried_with_every_change_recorded(registry, cities):
    province, first, *_ = cities
    city_staff = staff(first.id)
    read = registry_assessment.assessment_weights(
        registry.context(city_staff), GetAssessmentWeights(first.id, 2026)
    )
    assert read["source"] == "default" and read["version"] == 0 and read["history"] == []
    assert read["weights"] == default_weights()

    changed = registry_assessment.change_assessment_weights(
        registry.context(city_staff),
        ChangeAssessmentWeights(first.id, 2026, {"money_paid": 30}, reason="  资金优先  "),
    )
    assert changed["source"] == "set" and changed["version"] == 1
    assert changed["weights"]["money_paid"] == 30
    [change] = changed["history"]
    assert change["before"]["money_paid"] == 10 and change["after"]["money_paid"] == 30
    assert change["reason"] == "资金优先"
    assert (change["actor_id"], change["actor_name"]) == (city_staff.user_id, city_staff.username)
    assert change["at"] == AT

    # staff above change it too; a change that changes nothing records nothing
    registry.clock.advance(hours=1)
    above = staff(province.id)
    again = registry_assessment.change_assessment_weights(
        registry.context(above), ChangeAssessmentWeights(first.id, 2026, {"coverage_rate": 0})
    )
    same = registry_assessment.change_assessment_weights(
        registry.context(above), ChangeAssessmentWeights(first.id, 2026, {"coverage_rate": 0})
    )
    assert again["version"] == same["version"] == 2
    assert [c["after"]["coverage_rate"] for c in same["history"]] == [0, 10]  # newest first
    assert same["history"][0]["before"]["money_paid"] == 30
    assert same["history"][0]["reason"] is None

    # the next year starts from this year's weights, until it has its own
    carried = registry_assessment.assessment_weights(
        registry.context(city_staff), GetAssessmentWeights(first.id, 2027)
    )
    assert carried["source"] == "carried" and carried["weights"]["money_paid"] == 30
    assert carried["history"] == []

    with pytest.raises(InvalidInput) as refused:
        registry_assessment.change_assessment_weights(
            registry.context(city_staff), ChangeAssessmentWeights(first.id, 2026, {"x": 1})
        )
    assert refused.value.details["field"] == "weights.x"
    assert len(registry.assessments.history) == 2


# --- projects, funding, volunteers ----------------------------------------------------------


@pytest.fixture
def copy():
    """A directory copy: a province, two cities, a county under the first, a host unit under
    the county, one under the second city; another province elsewhere."""
    directory = FakeDirectory()
    directory.add("P")
    directory.add("A", parent_id="P", name="甲市")
    directory.add("B", parent_id="P", name="乙市")
    directory.add("A1", parent_id="A")
    directory.add("H", kind="host_unit", parent_id="A1")
    directory.add("HB", kind="host_unit", parent_id="B")
    directory.add("Q")
    return directory


def _in(days: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=days)


def test_projects_figures(copy):
    from projects.commands import GetAssessmentFigures as Ask
    from projects.context import Context
    from projects.handlers.assessment import assessment_figures

    figures = FakeSubtreeFigures(copy)
    figures.rows["projects"] += [
        {
            "organization_id": "A1",
            "published_at": _in(10),
            "status": "closed",
            "closed_at": _in(100),
        },
        {"organization_id": "A", "published_at": _in(-30), "status": "awarded", "closed_at": None},
        {"organization_id": "B", "published_at": _in(5), "status": "published", "closed_at": None},
        {"organization_id": "P", "published_at": _in(5), "status": "published", "closed_at": None},
    ]
    figures.rows["milestones"] += [
        {
            "organization_id": "A1",
            "due_on": date(2026, 3, 1),
            "accepted_on_time": True,
            "contract_status": "active",
        },
        {
            "organization_id": "A",
            "due_on": date(2026, 4, 1),
            "accepted_on_time": False,
            "contract_status": "active",
        },
        {
            "organization_id": "A",
            "due_on": date(2026, 5, 1),
            "accepted_on_time": None,
            "contract_status": "cancelled",
        },
        {
            "organization_id": "A",
            "due_on": date(2026, 9, 1),
            "accepted_on_time": None,
            "contract_status": "active",
        },  # not due yet on 30 June
    ]

    def context(actor):
        return Context(
            uow=None,
            repo=None,
            sources=None,
            directory=copy,
            actor=actor,
            clock=FixedClock(AT),
            assessments=figures,
        )

    answer = assessment_figures(context(staff("P")), Ask("P", 2026))
    rows = {row["organization_id"]: row for row in answer["children"]}
    assert rows["A"] == {
        "organization_id": "A",
        "projects_published": 1,
        "projects_completed": 1,
        "milestones_due": 2,
        "milestones_on_time": 1,
        "on_time_share": 50.0,
    }
    assert rows["B"]["projects_published"] == 1 and rows["B"]["on_time_share"] is None
    for actor, federation in ((staff("A"), "P"), (staff("B"), "A"), (staff("P", "ops"), "A")):
        with pytest.raises(Forbidden):
            assessment_figures(context(actor), Ask(federation, 2026))
    # the next year has not begun on 30 June 2026: nothing is due yet
    later = assessment_figures(context(ADMIN), Ask("P", 2027))
    assert all(row["milestones_due"] == 0 for row in later["children"])


def test_funding_figures(copy):
    from funding.commands import GetAssessmentFigures as Ask
    from funding.context import Context
    from funding.handlers.assessment import assessment_figures

    figures = FakeSubtreeFigures(copy)
    figures.rows["commitments"] += [
        {"organization_id": "A1", "amount": 500_00, "created_at": _in(3)},
        {"organization_id": "B", "amount": 200_00, "created_at": _in(-3)},
    ]
    figures.rows["disbursements"] += [
        {"organization_id": "A", "amount": 100_00, "status": "paid", "paid_at": _in(50)},
        {"organization_id": "A", "amount": 999_00, "status": "approved", "paid_at": None},
        {"organization_id": "B", "amount": 70_00, "status": "paid", "paid_at": _in(20)},
    ]

    def context(actor):
        return Context(
            uow=None,
            repo=None,
            directory=copy,
            actor=actor,
            clock=FixedClock(AT),
            dual_approval_threshold=1,
            assessments=figures,
        )

    answer = assessment_figures(context(staff("P")), Ask("P", 2026))
    assert answer["children"] == [
        {"organization_id": "A", "money_committed": 500_00, "money_paid": 100_00},
        {"organization_id": "B", "money_committed": 0, "money_paid": 70_00},
    ]
    with pytest.raises(Forbidden):
        assessment_figures(context(staff("Q")), Ask("P", 2026))
    with pytest.raises(Forbidden):
        assessment_figures(context(staff("P", "finance_officer")), Ask("P", 2026))


def test_volunteers_figures(copy):
    from volunteers.commands import GetAssessmentFigures as Ask
    from volunteers.context import Context
    from volunteers.handlers.assessment import assessment_figures

    figures = FakeSubtreeFigures(copy)
    figures.rows["volunteers"] += [
        {"organization_id": "H", "created_at": _in(1)},
        {"organization_id": "A", "created_at": _in(2)},
        {"organization_id": None, "created_at": _in(2)},
        {"organization_id": "HB", "created_at": _in(-2)},
    ]
    figures.rows["hours"] += [
        {"organization_id": "H", "minutes": 90, "status": "verified", "started_at": _in(4)},
        {"organization_id": "H", "minutes": 45, "status": "pending", "started_at": _in(4)},
        {"organization_id": "HB", "minutes": 30, "status": "verified", "started_at": _in(40)},
    ]
    figures.rows["activities"] += [
        {"organization_id": "HB", "starts_at": _in(40), "ends_at": _in(40) + timedelta(hours=2)},
        {
            "organization_id": "HB",
            "starts_at": AT - timedelta(hours=1),
            "ends_at": AT + timedelta(hours=1),
        },  # still going on
    ]

    def context(actor):
        return Context(
            uow=None,
            repo=None,
            directory=copy,
            actor=actor,
            clock=FixedClock(AT),
            personal_data=None,
            projects=None,
            assessments=figures,
        )

    answer = assessment_figures(context(ADMIN), Ask("P", 2026))
    assert answer["children"] == [
        {
            "organization_id": "A",
            "volunteers_registered": 2,
            "verified_minutes": 90,
            "verified_hours": 1.5,
            "activities_held": 0,
        },
        {
            "organization_id": "B",
            "volunteers_registered": 0,
            "verified_minutes": 30,
            "verified_hours": 0.5,
            "activities_held": 1,
        },
    ]
    with pytest.raises(Forbidden):
        assessment_figures(context(staff("A", "team_leader")), Ask("A", 2026))


# --- the gateway's table ----------------------------------------------------------------------


def _registry_figures():
    def child(child_id, name, units, covered, founded):
        rate = round(covered * 100 / units, 1) if units else None
        return {
            "organization_id": child_id,
            "name": name,
            "coverage": {
                "sectors": [
                    {"sector": "village", "host_units": units, "covered": covered, "rate": rate}
                ],
                "total": {"host_units": units, "covered": covered, "rate": rate},
            },
            "womens_organizations_founded": founded,
        }

    return {
        "federation_id": "P",
        "name": "某省妇联",
        "year": 2026,
        "children": [
            child("A", "甲市", 10, 5, 2),
            child("B", "乙市", 4, 4, 1),
            child("C", "丙市", 0, 0, 0),
        ],
    }


def test_the_table_merges_by_child_scores_and_ranks():
    others = {
        "projects": {
            "children": [
                {
                    "organization_id": "A",
                    "projects_published": 4,
                    "on_time_share": 50.0,
                    "milestones_due": 2,
                }
            ]
        },
        "funding": {
            "children": [{"organization_id": "B", "money_committed": 300_00, "money_paid": 123_45}]
        },
        "volunteers": {"children": []},  # its copy has not heard of the children yet
    }
    weights = {code: 0 for code in INDICATOR_CODES}
    weights.update(coverage_rate=1, money_paid=1)
    table = merge(_registry_figures(), others, {"weights": weights, "source": "set"})
    rows = {row["organization_id"]: row for row in table["rows"]}
    assert [row["name"] for row in table["rows"]] == ["甲市", "乙市", "丙市"]
    assert rows["A"]["projects_published"] == 4 and rows["B"]["projects_published"] == 0
    assert rows["C"]["on_time_share"] is None and rows["C"]["activities_held"] == 0
    assert rows["B"]["money_paid"] == 123_45
    # A: coverage 50 of 100 → 50, paid 0 → (50 + 0) / 2; B: 100 and 100 → 100; C: 0
    assert [rows[c]["score"] for c in "ABC"] == [25.0, 100.0, 0.0]
    assert [rows[c]["rank"] for c in "ABC"] == [2, 1, 3]
    assert {i["code"]: i["weight"] for i in table["indicators"]}["money_paid"] == 1
    assert "最高值为 100 分" in table["scoring_rule"]

    sheet = list(sheet_rows(table))
    assert len(sheet[0]) == len(HEADER)
    assert sheet[0][:3] == [1, "乙市", 100.0]
    paid = HEADER.index("资金支付(元)")
    assert str(sheet[0][paid]) == "123.45"
    assert next(iter(sheet_rows(table, as_text=True)))[paid] == "123.45"
