"""Every registry use case, run as the service runs it but over in-memory fakes: the state it
leaves, the events it commits, the errors it raises and whom it refuses. No broker, no
database: the integration tests check the real repository and the service's wiring."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kit import audit
from kit.errors import InvalidTransition
from kit.paging import PageRequest, page_request
from kit.usecase import FixedClock
from language.actor import Actor
from registry import handlers, uscc
from registry.commands import (
    ChangeStatus,
    GetCoverage,
    GetOrganization,
    ListOrganizations,
    ListStatusHistory,
    RegisterOrganization,
    UpdateOrganization,
)
from registry.context import Context
from registry.domain.organization import Organization
from registry.exceptions import (
    DuplicateUSCC,
    HasActiveChildren,
    HierarchyCycle,
    InvalidParent,
    InvalidPlacement,
    OrganizationNotFound,
    OutOfScope,
    ReasonRequired,
    VersionConflict,
)
from registry.repository import HISTORY_ORDER, ORGANIZATION_ORDER
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.fakes.registry import FakeOrganizationRepository

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
ADMIN = Actor(user_id=str(uuid.uuid4()), username="admin", role="admin")


def a_uscc(serial: int) -> str:
    """A valid USCC (GB 32100-2015), one per serial."""
    first17 = f"91330100MA{serial:07d}"
    return first17 + uscc.check_character(first17)


def person(role: str, organization: Organization | None = None) -> Actor:
    organization_id = organization.id if organization is not None else None
    return Actor(str(uuid.uuid4()), f"{role}.user", role, organization_id)


def organizations_page(limit: int = 50, cursor: str | None = None, sort: str | None = None):
    return page_request(limit, cursor, ordering=ORGANIZATION_ORDER, sort=sort)


class Registry:
    """The registry's use cases over fakes: ``execute`` commits as ``UseCases.execute`` does
    (not when the use case fails), ``query`` never commits."""

    def __init__(self) -> None:
        self.uow = FakeUnitOfWork("registry")
        self.organizations = FakeOrganizationRepository(self.uow)
        self.clock = FixedClock(AT)

    def context(self, actor: Actor) -> Context:
        return Context(self.uow, self.organizations, actor, self.clock)

    def execute(self, actor, use_case, command):
        ctx = self.context(actor)
        result = use_case(ctx, command)
        audit.record_act(self.uow, ctx, actor.to_dict(), use_case, command, result)
        self.uow.commit()
        return result

    def query(self, actor, use_case, command):
        committed = list(self.uow.events)
        result = use_case(self.context(actor), command)
        assert self.uow.commit() == [] and self.uow.events == committed  # a read records nothing
        return result

    def register(self, actor=ADMIN, **fields):
        return self.execute(actor, handlers.register_organization, RegisterOrganization(**fields))

    def status(self, organization, action, reason=None, actor=ADMIN):
        command = ChangeStatus(organization.id, action, reason)
        return self.execute(actor, handlers.change_status, command)


@pytest.fixture
def registry():
    return Registry()


@pytest.fixture
def tree(registry):
    """A city federation with one district; under it two host units (one with a women's
    organization), a service provider under the city, and another city outside it all."""
    city = registry.register(name="杭州市妇联", kind="federation", level="city")
    district = registry.register(
        name="西湖区妇联", kind="federation", level="county", parent_id=city.id
    )
    company = registry.register(
        name="某科技有限公司",
        kind="host_unit",
        sector="non_public_enterprise",
        parent_id=district.id,
    )
    committee = registry.register(
        name="某科技妇委会", kind="womens_organization", parent_id=company.id
    )
    community = registry.register(
        name="文新社区", kind="host_unit", sector="community", parent_id=district.id
    )
    provider = registry.register(name="阳光社工", kind="service_provider", parent_id=city.id)
    other = registry.register(name="宁波市妇联", kind="federation", level="city")
    return {
        "city": city,
        "district": district,
        "company": company,
        "committee": committee,
        "community": community,
        "provider": provider,
        "other": other,
    }


# --- register_organization -------------------------------------------------------------------


def test_register_organization_stores_it_with_its_first_status_change_and_event(registry):
    city = registry.register(name="杭州市妇联", kind="federation", level="city")

    assert registry.organizations.get(city.id) is city
    assert (city.status, city.version, city.path, city.depth) == (
        "registered",
        1,
        f"/{city.id}/",
        0,
    )
    assert (city.created_by, city.created_at, city.updated_at) == (ADMIN.user_id, AT, AT)
    [change] = registry.organizations.changes
    assert (change.organization_id, change.action, change.to_status, change.at) == (
        city.id,
        "register",
        "registered",
        AT,
    )
    assert registry.uow.event_types == ["organization_registered"]
    [event] = registry.uow.events
    assert (event["organization_id"], event["kind"], event["level"], event["name"]) == (
        city.id,
        "federation",
        "city",
        "杭州市妇联",
    )


def test_register_organization_places_a_child_under_its_parent(registry, tree):
    registry.clock.advance(hours=1)
    staff = person("federation_staff", tree["city"])

    unit = registry.register(
        staff,
        name="某机关",
        kind="host_unit",
        sector="government_agency",
        parent_id=tree["district"].id,
        uscc=a_uscc(1).lower(),
        contact={"person": "王红"},
    )

    assert unit.path == f"{tree['district'].path}{unit.id}/" and unit.depth == 2
    assert (unit.uscc, unit.contact, unit.created_by) == (
        a_uscc(1),
        {"person": "王红"},
        staff.user_id,
    )
    assert unit.created_at == registry.clock.now() != AT
    assert registry.uow.events[-1]["parent_id"] == tree["district"].id


def test_register_organization_refuses_an_unknown_parent(registry):
    missing = str(uuid.uuid4())
    with pytest.raises(InvalidParent) as failure:
        registry.register(name="某单位", kind="host_unit", sector="village", parent_id=missing)
    assert (failure.value.details["rule"], failure.value.details["parent_id"]) == (
        "exists",
        missing,
    )
    assert registry.organizations.organizations == {} and registry.uow.events == []


def test_register_organization_applies_the_placement_rules(registry, tree):
    with pytest.raises(InvalidParent) as failure:
        registry.register(
            name="某单位", kind="host_unit", sector="village", parent_id=tree["provider"].id
        )
    assert failure.value.details["rule"] == "host_unit_under_federation"
    with pytest.raises(InvalidPlacement) as failure:
        registry.register(name="某单位", kind="host_unit", parent_id=tree["district"].id)
    assert (failure.value.details["field"], failure.value.details["rule"]) == ("sector", "required")


def test_register_organization_refuses_a_suspended_parent(registry, tree):
    registry.status(tree["district"], "verify")
    registry.status(tree["district"], "suspend", "整改")
    with pytest.raises(InvalidParent) as failure:
        registry.register(
            name="某单位", kind="host_unit", sector="village", parent_id=tree["district"].id
        )
    assert failure.value.details["rule"] == "parent_active"


def test_register_organization_refuses_a_uscc_already_registered(registry):
    first = registry.register(name="甲", kind="service_provider", uscc=a_uscc(2))
    with pytest.raises(DuplicateUSCC) as failure:
        registry.register(name="乙", kind="service_provider", uscc=f" {a_uscc(2).lower()} ")
    assert failure.value.code == "DUPLICATE_USCC"
    assert failure.value.details["organization_id"] == first.id
    assert len(registry.organizations.organizations) == 1


def test_register_organization_refuses_an_invalid_uscc(registry):
    with pytest.raises(uscc.InvalidUSCC) as failure:
        registry.register(name="甲", kind="service_provider", uscc=a_uscc(3)[:17] + "0")
    assert failure.value.details["rule"] == "check_character"


def test_register_organization_is_for_admins_and_staff_inside_their_subtree(registry, tree):
    staff = person("federation_staff", tree["district"])
    with pytest.raises(OutOfScope) as failure:
        registry.register(staff, name="某市妇联", kind="federation", level="city")
    assert failure.value.details["field"] == "parent_id"
    with pytest.raises(OutOfScope):
        registry.register(staff, name="某社工", kind="service_provider", parent_id=tree["city"].id)
    contractor = person("contractor", tree["provider"])
    with pytest.raises(OutOfScope) as failure:
        registry.register(contractor, name="某社工", kind="service_provider")
    assert failure.value.details["role"] == "contractor"


# --- update_organization ---------------------------------------------------------------------


def update(registry, organization, actor=ADMIN, version=None, **changes):
    command = UpdateOrganization(organization.id, changes, version)
    return registry.execute(actor, handlers.update_organization, command)


def test_update_organization_changes_fields_and_announces_them(registry, tree):
    registry.clock.advance(days=1)
    company = update(registry, tree["company"], version=1, name="某科技集团", sector="community")

    assert (company.name, company.search_name, company.sector) == (
        "某科技集团",
        "某科技集团",
        "community",
    )
    assert (company.version, company.updated_at) == (2, registry.clock.now())
    assert registry.uow.event_types[-1] == "organization_updated"
    event = registry.uow.events[-1]
    assert (event["changed"], event["name"], event["version"]) == (
        ["name", "sector"],
        "某科技集团",
        2,
    )


def test_update_organization_with_nothing_new_changes_nothing(registry, tree):
    before = len(registry.uow.events)
    company = update(registry, tree["company"], name=tree["company"].name)
    assert company.version == 1 and len(registry.uow.events) == before


def test_update_organization_refuses_a_stale_version(registry, tree):
    update(registry, tree["company"], name="新名称")
    with pytest.raises(VersionConflict) as failure:
        update(registry, tree["company"], version=1, name="另一个名称")
    details = failure.value.details
    assert (details["expected_version"], details["current_version"]) == (1, 2)
    assert tree["company"].name == "新名称"


def test_update_organization_moves_the_whole_subtree(registry, tree):
    other_district = registry.register(
        name="上城区妇联", kind="federation", level="county", parent_id=tree["city"].id
    )
    company, committee = tree["company"], tree["committee"]

    update(registry, company, parent_id=other_district.id)

    assert company.parent_id == other_district.id
    assert company.path == f"{other_district.path}{company.id}/"
    assert committee.path == f"{company.path}{committee.id}/" and committee.depth == 3
    assert registry.uow.events[-1]["changed"] == ["parent_id"]
    assert registry.uow.events[-1]["parent_id"] == other_district.id


def test_update_organization_refuses_a_move_under_its_own_subtree(registry, tree):
    with pytest.raises(HierarchyCycle) as failure:
        update(registry, tree["city"], parent_id=tree["company"].id)
    assert failure.value.details["rule"] == "no_cycles"
    with pytest.raises(HierarchyCycle):
        update(registry, tree["district"], parent_id=tree["district"].id)
    assert (tree["city"].parent_id, tree["district"].parent_id) == (None, tree["city"].id)


def test_update_organization_keeps_the_uscc_unique(registry, tree):
    update(registry, tree["provider"], uscc=a_uscc(4))
    update(registry, tree["provider"], uscc=a_uscc(4).lower())  # its own: no conflict
    with pytest.raises(DuplicateUSCC) as failure:
        update(registry, tree["company"], uscc=a_uscc(4))
    assert failure.value.details["organization_id"] == tree["provider"].id
    assert tree["company"].uscc is None


def test_update_organization_refuses_a_deregistered_organization(registry, tree):
    registry.status(tree["provider"], "deregister", "注销")
    with pytest.raises(InvalidTransition):
        update(registry, tree["provider"], name="新名称")


def test_update_organization_is_refused_outside_the_staff_subtree(registry, tree):
    staff = person("federation_staff", tree["district"])
    update(registry, tree["company"], staff, name="新名称")
    with pytest.raises(OutOfScope):
        update(registry, tree["provider"], staff, name="新名称")
    with pytest.raises(OutOfScope):  # nor moved out of it
        update(registry, tree["company"], staff, parent_id=tree["city"].id)
    assert tree["company"].parent_id == tree["district"].id


# --- change_status ---------------------------------------------------------------------------


def test_change_status_moves_the_status_records_it_and_announces_it(registry, tree):
    registry.clock.advance(hours=3)
    provider = registry.status(tree["provider"], "verify")
    provider = registry.status(provider, "suspend", "  资质过期  ")

    assert (provider.status, provider.version, provider.updated_at) == (
        "suspended",
        3,
        registry.clock.now(),
    )
    history = [c for c in registry.organizations.changes if c.organization_id == provider.id]
    assert [(c.action, c.from_status, c.to_status, c.reason) for c in history] == [
        ("register", None, "registered", None),
        ("verify", "registered", "verified", None),
        ("suspend", "verified", "suspended", "资质过期"),
    ]
    assert registry.uow.event_types[-2:] == ["organization_verified", "organization_suspended"]
    assert registry.uow.events[-1]["reason"] == "资质过期"


def test_change_status_needs_a_reason_to_suspend(registry, tree):
    registry.status(tree["provider"], "verify")
    with pytest.raises(ReasonRequired) as failure:
        registry.status(tree["provider"], "suspend", "  ")
    assert failure.value.details["field"] == "reason"
    assert tree["provider"].status == "verified"


def test_change_status_refuses_a_transition_from_the_wrong_status(registry, tree):
    with pytest.raises(InvalidTransition) as failure:
        registry.status(tree["provider"], "reinstate")
    assert failure.value.details["allowed_from"] == ["suspended"]


def test_change_status_deregisters_only_without_active_children(registry, tree):
    with pytest.raises(HasActiveChildren) as failure:
        registry.status(tree["district"], "deregister", "撤并")
    assert failure.value.details["active_children"] == 2
    registry.status(tree["committee"], "deregister", "撤并")
    registry.status(tree["company"], "deregister", "撤并")
    registry.status(tree["community"], "deregister", "撤并")
    district = registry.status(tree["district"], "deregister", "撤并")
    assert district.status == "deregistered"


def test_change_status_is_for_managers_in_scope(registry, tree):
    contractor = person("contractor", tree["provider"])
    with pytest.raises(OutOfScope):
        registry.status(tree["provider"], "verify", actor=contractor)
    with pytest.raises(OrganizationNotFound):  # another organization is not even there
        registry.status(tree["city"], "verify", actor=contractor)
    staff = person("federation_staff", tree["district"])
    with pytest.raises(OutOfScope):
        registry.status(tree["other"], "verify", actor=staff)
    assert registry.status(tree["company"], "verify", actor=staff).status == "verified"


def test_change_status_of_an_unknown_organization(registry):
    missing = str(uuid.uuid4())
    with pytest.raises(OrganizationNotFound) as failure:
        registry.execute(ADMIN, handlers.change_status, ChangeStatus(missing, "verify"))
    assert failure.value.details["organization_id"] == missing


# --- get_organization ------------------------------------------------------------------------


def get(registry, actor, organization):
    return registry.query(actor, handlers.get_organization, GetOrganization(organization.id))


def test_get_organization_answers_whoever_may_read_it(registry, tree):
    assert get(registry, ADMIN, tree["other"]) is tree["other"]
    assert get(registry, person("ops"), tree["committee"]) is tree["committee"]
    assert get(registry, person("federation_staff", tree["city"]), tree["committee"])
    assert get(registry, person("finance_officer", tree["city"]), tree["provider"])
    assert get(registry, person("contractor", tree["provider"]), tree["provider"])


def test_get_organization_hides_or_refuses_the_rest(registry, tree):
    with pytest.raises(OutOfScope):
        get(registry, person("federation_staff", tree["district"]), tree["city"])
    with pytest.raises(OrganizationNotFound):
        get(registry, person("finance_officer", tree["district"]), tree["provider"])
    with pytest.raises(OrganizationNotFound):
        get(registry, person("contractor", tree["provider"]), tree["company"])
    with pytest.raises(OrganizationNotFound):
        registry.query(ADMIN, handlers.get_organization, GetOrganization(str(uuid.uuid4())))


# --- list_organizations ----------------------------------------------------------------------


def listed(registry, actor, page: PageRequest | None = None, **filters):
    command = ListOrganizations(page=page or organizations_page(), **filters)
    result = registry.query(actor, handlers.list_organizations, command)
    return result, [o.name for o in result["items"]]


def test_list_organizations_shows_each_reader_their_part(registry, tree):
    everything, names = listed(registry, ADMIN)
    assert everything["total"] == 7 and names == sorted(names)
    _, names = listed(registry, person("federation_staff", tree["district"]))
    assert names == sorted(["西湖区妇联", "某科技有限公司", "某科技妇委会", "文新社区"])
    _, names = listed(registry, person("finance_officer", tree["city"]))
    assert len(names) == 6 and "宁波市妇联" not in names
    _, names = listed(registry, person("contractor", tree["provider"]))
    assert names == ["阳光社工"]
    lost = Actor(str(uuid.uuid4()), "lost", "federation_staff", str(uuid.uuid4()))
    assert listed(registry, lost)[0] == {"items": [], "next_cursor": None, "total": 0}


def test_list_organizations_filters(registry, tree):
    registry.status(tree["company"], "verify")
    _, names = listed(registry, ADMIN, kind="host_unit")
    assert sorted(names) == sorted(["某科技有限公司", "文新社区"])
    assert listed(registry, ADMIN, status="verified")[1] == ["某科技有限公司"]
    assert listed(registry, ADMIN, parent_id=tree["city"].id)[1] == sorted(
        ["西湖区妇联", "阳光社工"]
    )
    assert sorted(listed(registry, ADMIN, within=tree["district"].id)[1]) == sorted(
        ["某科技有限公司", "某科技妇委会", "文新社区"]
    )
    assert sorted(listed(registry, ADMIN, q="某科技")[1]) == ["某科技妇委会", "某科技有限公司"]
    assert listed(registry, ADMIN, q="杭州市婦聯")[1] == ["杭州市妇联"]  # 繁 finds 简


def test_list_organizations_within_is_read_under_the_readers_scope(registry, tree):
    staff = person("federation_staff", tree["district"])
    with pytest.raises(OutOfScope):
        listed(registry, staff, within=tree["city"].id)


@pytest.mark.parametrize("sort", ["name", "-name", "-created_at"])
def test_list_organizations_pages_with_a_cursor(registry, tree, sort):
    registry.clock.advance(minutes=5)
    registry.register(name="最后一个社工", kind="service_provider", parent_id=tree["city"].id)
    _, everything = listed(registry, ADMIN, organizations_page(sort=sort))
    seen, cursor, pages = [], None, 0
    while True:
        page, names = listed(registry, ADMIN, organizations_page(3, cursor, sort=sort))
        assert page["total"] == 8 and len(names) <= 3
        seen, cursor, pages = seen + names, page["next_cursor"], pages + 1
        if cursor is None:
            break
    assert (seen, pages) == (everything, 3)
    by_name = sorted(o.name for o in registry.organizations.organizations.values())
    if sort == "-created_at":
        assert everything[0] == "最后一个社工"  # the newest; the others tie on time, by id
    else:
        assert everything == (by_name if sort == "name" else by_name[::-1])


# --- status_history --------------------------------------------------------------------------


def history(registry, actor, organization, limit=50, cursor=None):
    request = page_request(limit, cursor, ordering=HISTORY_ORDER)
    command = ListStatusHistory(organization.id, request)
    return registry.query(actor, handlers.status_history, command)


def test_status_history_lists_changes_oldest_first_in_pages(registry, tree):
    provider = tree["provider"]
    registry.clock.advance(hours=1)
    registry.status(provider, "verify")
    registry.clock.advance(hours=1)
    registry.status(provider, "suspend", "投诉")
    registry.clock.advance(hours=1)
    registry.status(provider, "reinstate")

    first = history(registry, ADMIN, provider, limit=2)
    assert [c.action for c in first["items"]] == ["register", "verify"] and first["total"] == 4
    rest = history(registry, ADMIN, provider, limit=2, cursor=first["next_cursor"])
    assert [c.action for c in rest["items"]] == ["suspend", "reinstate"]
    assert rest["next_cursor"] is None


def test_status_history_is_read_under_the_readers_scope(registry, tree):
    assert history(registry, person("contractor", tree["provider"]), tree["provider"])["total"] == 1
    with pytest.raises(OrganizationNotFound):
        history(registry, person("contractor", tree["provider"]), tree["city"])


# --- coverage --------------------------------------------------------------------------------


def coverage(registry, actor, organization):
    return registry.query(actor, handlers.coverage, GetCoverage(organization.id))


def test_coverage_counts_host_units_with_an_active_womens_organization(registry, tree):
    district = tree["district"]
    village = registry.register(
        name="某村", kind="host_unit", sector="village", parent_id=district.id
    )
    registry.register(name="某村妇联", kind="womens_organization", parent_id=village.id)
    closed = registry.register(
        name="已注销单位", kind="host_unit", sector="community", parent_id=district.id
    )
    registry.status(closed, "deregister", "关闭")
    suspended = registry.register(
        name="某社区妇联", kind="womens_organization", parent_id=tree["community"].id
    )
    registry.status(suspended, "verify")
    registry.status(suspended, "suspend", "整改")

    report = coverage(registry, person("federation_staff", tree["city"]), tree["city"])

    by_sector = {line["sector"]: line for line in report["sectors"]}
    assert (report["organization_id"], report["name"]) == (tree["city"].id, "杭州市妇联")
    assert len(by_sector) == 6
    assert by_sector["non_public_enterprise"] == {
        "sector": "non_public_enterprise",
        "host_units": 1,
        "covered": 1,
        "rate": 100,
    }
    assert (by_sector["community"]["host_units"], by_sector["community"]["covered"]) == (1, 0)
    assert (by_sector["village"]["covered"], by_sector["government_agency"]["rate"]) == (1, None)
    assert report["total"] == {"host_units": 3, "covered": 2, "rate": Decimal("66.7")}


def test_coverage_of_a_part_of_the_tree_and_who_may_read_it(registry, tree):
    assert coverage(registry, ADMIN, tree["other"])["total"]["host_units"] == 0
    assert coverage(registry, ADMIN, tree["company"])["total"] == {
        "host_units": 1,
        "covered": 1,
        "rate": 100,
    }
    with pytest.raises(OutOfScope):
        coverage(registry, person("federation_staff", tree["district"]), tree["city"])
    with pytest.raises(OrganizationNotFound):
        coverage(registry, person("contractor", tree["provider"]), tree["city"])
