"""Registry rules on plain domain objects: placement, transitions, moves, scope, coverage."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from language import events
from language.actor import Actor
from registry.domain import coverage, hierarchy, scope
from registry.domain.lifecycle import StatusChange
from registry.domain.organization import Organization, register
from registry.exceptions import (
    HierarchyCycle,
    InvalidParent,
    InvalidPlacement,
    InvalidTransition,
    OrganizationNotFound,
    OutOfScope,
    ReasonRequired,
    VersionConflict,
)
from registry.uscc import InvalidUSCC

AT = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
LATER = AT + timedelta(hours=2)
ADMIN = Actor(user_id=str(uuid.uuid4()), username="admin", role="admin")
USCC = "91350100M000100Y43"


def node(kind, *, level=None, sector=None, status="registered", parent=None, name=None):
    """An organization built directly (no placement rules), in the status asked for."""
    organization = Organization(
        name=name or f"测试{kind}",
        kind=kind,
        parent=parent,
        level=level,
        sector=sector,
        created_by=ADMIN.user_id,
        created_at=AT,
    )
    organization.status = status
    return organization


def registered(kind, parent=None, **fields):
    """An organization registered through the domain, its registration event already taken."""
    organization, _ = register(
        name=fields.pop("name", f"测试{kind}"),
        kind=kind,
        parent=parent,
        actor=ADMIN,
        at=AT,
        **fields,
    )
    organization.pull_events()
    return organization


# --- placement ----------------------------------------------------------------------------

# parent specs: (kind, level, sector, status)
NATIONAL = ("federation", "national", None, "registered")
PROVINCE = ("federation", "province", None, "verified")
CITY = ("federation", "city", None, "verified")
COUNTY = ("federation", "county", None, "reinstated")
TOWNSHIP = ("federation", "township", None, "verified")
HOST = ("host_unit", None, "non_public_enterprise", "verified")
WOMENS = ("womens_organization", None, None, "verified")
PROVIDER = ("service_provider", None, None, "verified")

ALLOWED = [
    ("national federation at the top", "federation", "national", None, None),
    ("city federation at the top of an installation", "federation", "city", None, None),
    ("province under national", "federation", "province", None, NATIONAL),
    ("city under province", "federation", "city", None, PROVINCE),
    ("county under city", "federation", "county", None, CITY),
    ("township under county", "federation", "township", None, COUNTY),
    ("village under township", "federation", "village", None, TOWNSHIP),
    ("host unit under a city federation", "host_unit", None, "social_organization", CITY),
    ("host unit under a county federation", "host_unit", None, "village", COUNTY),
    ("women's organization under a host unit", "womens_organization", None, None, HOST),
    ("women's organization under a federation", "womens_organization", None, None, TOWNSHIP),
    ("service provider at the top", "service_provider", None, None, None),
    ("service provider under a federation", "service_provider", None, None, CITY),
]

REFUSED = [
    # (case, kind, level, sector, parent, error, details that must be present)
    ("federation without a level", "federation", None, None, None,
     InvalidPlacement, {"field": "level", "rule": "required"}),
    ("host unit with a level", "host_unit", "city", "village", CITY,
     InvalidPlacement, {"field": "level", "rule": "federations_only"}),
    ("women's organization with a level", "womens_organization", "village", None, HOST,
     InvalidPlacement, {"field": "level", "rule": "federations_only"}),
    ("service provider with a level", "service_provider", "city", None, None,
     InvalidPlacement, {"field": "level", "rule": "federations_only"}),
    ("host unit without a sector", "host_unit", None, None, CITY,
     InvalidPlacement, {"field": "sector", "rule": "required"}),
    ("federation with a sector", "federation", "city", "village", None,
     InvalidPlacement, {"field": "sector", "rule": "host_units_only"}),
    ("women's organization with a sector", "womens_organization", None, "village", HOST,
     InvalidPlacement, {"field": "sector", "rule": "host_units_only"}),
    ("service provider with a sector", "service_provider", None, "village", CITY,
     InvalidPlacement, {"field": "sector", "rule": "host_units_only"}),
    ("host unit without a parent", "host_unit", None, "village", None,
     InvalidPlacement, {"field": "parent_id", "rule": "required"}),
    ("women's organization without a parent", "womens_organization", None, None, None,
     InvalidPlacement, {"field": "parent_id", "rule": "required"}),
    ("county two levels under province", "federation", "county", None, PROVINCE,
     InvalidParent, {"field": "parent_id", "rule": "federation_one_level_up",
                     "parent_kind": "federation", "parent_level": "province"}),
    ("city under county (upside down)", "federation", "city", None, COUNTY,
     InvalidParent, {"rule": "federation_one_level_up", "parent_level": "county"}),
    ("city under city (same level)", "federation", "city", None, CITY,
     InvalidParent, {"rule": "federation_one_level_up", "parent_level": "city"}),
    ("national under anything", "federation", "national", None, NATIONAL,
     InvalidParent, {"rule": "federation_one_level_up"}),
    ("federation under a host unit", "federation", "village", None, HOST,
     InvalidParent, {"rule": "federation_one_level_up", "parent_kind": "host_unit"}),
    ("host unit under a host unit", "host_unit", None, "village", HOST,
     InvalidParent, {"rule": "host_unit_under_federation", "parent_kind": "host_unit"}),
    ("host unit under a provider", "host_unit", None, "village", PROVIDER,
     InvalidParent, {"rule": "host_unit_under_federation", "parent_kind": "service_provider"}),
    ("women's organization under a women's organization", "womens_organization", None, None,
     WOMENS, InvalidParent, {"rule": "womens_organization_under_host_or_federation",
                             "parent_kind": "womens_organization"}),
    ("women's organization under a provider", "womens_organization", None, None, PROVIDER,
     InvalidParent, {"rule": "womens_organization_under_host_or_federation",
                     "parent_kind": "service_provider"}),
    ("provider under a host unit", "service_provider", None, None, HOST,
     InvalidParent, {"rule": "service_provider_under_federation", "parent_kind": "host_unit"}),
    ("provider under a provider", "service_provider", None, None, PROVIDER,
     InvalidParent, {"rule": "service_provider_under_federation"}),
]  # fmt: skip


def parent_from(spec):
    if spec is None:
        return None
    kind, level, sector, status = spec
    return node(kind, level=level, sector=sector, status=status)


@pytest.mark.parametrize(
    "kind, level, sector, parent", [case[1:] for case in ALLOWED], ids=[case[0] for case in ALLOWED]
)
def test_placement_allowed(kind, level, sector, parent):
    hierarchy.check_placement(kind, level, sector, parent_from(parent))


@pytest.mark.parametrize(
    "kind, level, sector, parent, error, details",
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_placement_refused(kind, level, sector, parent, error, details):
    with pytest.raises(error) as failure:
        hierarchy.check_placement(kind, level, sector, parent_from(parent))

    assert failure.value.details.items() >= details.items()


def test_a_national_federation_is_told_it_has_no_parent():
    with pytest.raises(InvalidParent) as failure:
        hierarchy.check_placement("federation", "national", None, parent_from(NATIONAL))

    assert "no parent" in failure.value.message


@pytest.mark.parametrize("status", ["suspended", "deregistered"])
@pytest.mark.parametrize(
    "kind, level, sector, parent_spec",
    [
        ("federation", "county", None, CITY),
        ("host_unit", None, "village", CITY),
        ("womens_organization", None, None, HOST),
        ("service_provider", None, None, CITY),
    ],
)
def test_nothing_is_placed_under_an_inactive_parent(kind, level, sector, parent_spec, status):
    parent_kind, parent_level, parent_sector, _ = parent_spec
    parent = node(parent_kind, level=parent_level, sector=parent_sector, status=status)

    with pytest.raises(InvalidParent) as failure:
        hierarchy.check_placement(kind, level, sector, parent)

    assert failure.value.details == {
        "field": "parent_id",
        "rule": "parent_active",
        "parent_status": status,
    }


def test_register_applies_the_placement_rules():
    host = node("host_unit", sector="village")

    with pytest.raises(InvalidParent):
        register(name="某社工事务所", kind="service_provider", parent=host, actor=ADMIN, at=AT)


# --- registration -------------------------------------------------------------------------


def test_register_returns_a_registered_organization_and_its_first_status_change():
    city = registered("federation", level="city")

    host, change = register(
        name="福州某科技有限公司",
        kind="host_unit",
        parent=city,
        actor=ADMIN,
        at=AT,
        sector="non_public_enterprise",
        uscc="9135 0100 m000 100y 43",
        region_code="350100",
        contact={"person": "林女士"},
    )

    assert host.status == "registered"
    assert host.version == 1
    assert host.uscc == USCC
    assert host.parent_id == city.id
    assert host.path == f"/{city.id}/{host.id}/"
    assert host.depth == 1
    assert host.created_by == ADMIN.user_id
    assert host.created_at == host.updated_at == AT
    assert isinstance(change, StatusChange)
    assert (change.organization_id, change.action) == (host.id, "register")
    assert (change.from_status, change.to_status, change.reason) == (None, "registered", None)
    assert (change.actor_id, change.actor_name, change.at) == (ADMIN.user_id, "admin", AT)
    uuid.UUID(change.id)


def test_register_records_organization_registered():
    city = registered("federation", level="city")

    host, _ = register(
        name="某街道", kind="host_unit", parent=city, actor=ADMIN, at=AT, sector="community"
    )

    [event] = host.pull_events()
    assert event.name == "organization_registered"
    assert event.data == {
        "organization_id": host.id,
        "kind": "host_unit",
        "version": 1,
        "status": "registered",
        "name": "某街道",
        "parent_id": city.id,
        "level": None,
        "sector": "community",
        "uscc": None,
        "actor_id": ADMIN.user_id,
        "occurred_at": AT,
    }


def test_register_refuses_an_invalid_uscc():
    with pytest.raises(InvalidUSCC):
        register(
            name="某协会", kind="service_provider", parent=None, actor=ADMIN, at=AT, uscc="123"
        )


def test_the_search_key_folds_traditional_characters_and_case():
    organization = registered("federation", level="city", name="福州市婦女聯合會 YWCA")

    assert organization.name == "福州市婦女聯合會 YWCA"
    assert organization.search_name == "福州市妇女联合会 ywca"


# --- transitions --------------------------------------------------------------------------

STATUSES = ("registered", "verified", "suspended", "reinstated", "deregistered")
ACTIONS = ("verify", "suspend", "reinstate", "deregister")
#: (from status, action) -> (new status, event); every other pair is refused
ALLOWED_TRANSITIONS = {
    ("registered", "verify"): ("verified", "organization_verified"),
    ("verified", "suspend"): ("suspended", "organization_suspended"),
    ("reinstated", "suspend"): ("suspended", "organization_suspended"),
    ("suspended", "reinstate"): ("reinstated", "organization_reinstated"),
    ("registered", "deregister"): ("deregistered", "organization_deregistered"),
    ("verified", "deregister"): ("deregistered", "organization_deregistered"),
    ("suspended", "deregister"): ("deregistered", "organization_deregistered"),
    ("reinstated", "deregister"): ("deregistered", "organization_deregistered"),
}
PAIRS = list(itertools.product(STATUSES, ACTIONS))
STAFF = Actor(
    user_id=str(uuid.uuid4()), username="chen.li", role="federation_staff", organization_id=None
)


def provider_in(status):
    provider = registered("service_provider")
    provider.status = status
    return provider


@pytest.mark.parametrize("status, action", [pair for pair in PAIRS if pair in ALLOWED_TRANSITIONS])
def test_allowed_transition(status, action):
    provider = provider_in(status)
    new_status, event_name = ALLOWED_TRANSITIONS[(status, action)]

    change = provider.transition(action, STAFF, "  年检材料齐全  ", LATER)

    assert provider.status == new_status
    assert provider.version == 2
    assert provider.updated_at == LATER
    assert (change.action, change.from_status, change.to_status) == (action, status, new_status)
    assert (change.reason, change.actor_id, change.actor_name, change.at) == (
        "年检材料齐全",
        STAFF.user_id,
        "chen.li",
        LATER,
    )
    assert change.organization_id == provider.id
    [event] = provider.pull_events()
    assert event.name == event_name
    assert event.data == {
        "organization_id": provider.id,
        "kind": "service_provider",
        "version": 2,
        "status": new_status,
        "reason": "年检材料齐全",
        "actor_id": STAFF.user_id,
        "occurred_at": LATER,
    }


@pytest.mark.parametrize(
    "status, action", [pair for pair in PAIRS if pair not in ALLOWED_TRANSITIONS]
)
def test_refused_transition(status, action):
    provider = provider_in(status)

    with pytest.raises(InvalidTransition) as failure:
        provider.transition(action, STAFF, "原因", LATER)

    details = failure.value.details
    assert details["current_status"] == status
    assert details["action"] == action
    assert details["entity"] == "organization"
    assert details["organization_id"] == provider.id
    assert status not in details["allowed_from"]
    assert failure.value.code == "INVALID_TRANSITION"
    assert (provider.status, provider.version, provider.updated_at) == (status, 1, AT)
    assert provider.pull_events() == []


@pytest.mark.parametrize("action, status", [("suspend", "verified"), ("deregister", "registered")])
@pytest.mark.parametrize("reason", [None, "", "   \n"])
def test_suspend_and_deregister_need_a_reason(action, status, reason):
    provider = provider_in(status)

    with pytest.raises(ReasonRequired) as failure:
        provider.transition(action, STAFF, reason, LATER)

    assert failure.value.details == {"field": "reason", "rule": "required"}
    assert (provider.status, provider.version) == (status, 1)
    assert provider.pull_events() == []


@pytest.mark.parametrize("action, status", [("verify", "registered"), ("reinstate", "suspended")])
def test_verify_and_reinstate_need_no_reason(action, status):
    provider = provider_in(status)

    change = provider.transition(action, STAFF, "   ", LATER)

    assert change.reason is None
    assert provider.pull_events()[0].data["reason"] is None


@pytest.mark.parametrize(
    "status, active",
    [
        ("registered", True),
        ("verified", True),
        ("suspended", False),
        ("reinstated", True),
        ("deregistered", False),
    ],
)
def test_an_organization_is_active_unless_suspended_or_deregistered(status, active):
    assert provider_in(status).is_active is active


def test_recorded_events_match_the_event_catalogue():
    """What the domain records is what the outbox will publish: it must pass the catalogue."""
    provider, _ = register(
        name="某社工事务所", kind="service_provider", parent=None, actor=ADMIN, at=AT, uscc=USCC
    )
    provider.transition("verify", STAFF, None, LATER)
    provider.transition("suspend", STAFF, "违规", LATER)
    provider.transition("reinstate", STAFF, None, LATER)
    provider.transition("deregister", STAFF, "注销", LATER)

    recorded = provider.pull_events()

    assert [event.name for event in recorded] == [
        "organization_registered",
        "organization_verified",
        "organization_suspended",
        "organization_reinstated",
        "organization_deregistered",
    ]
    for event in recorded:
        events.outgoing("registry", event.name, event.data)
    assert [event.data["version"] for event in recorded] == [1, 2, 3, 4, 5]


# --- editing ------------------------------------------------------------------------------


def test_a_deregistered_organization_cannot_be_edited():
    provider = provider_in("deregistered")

    with pytest.raises(InvalidTransition) as failure:
        provider.ensure_editable()

    assert failure.value.details["current_status"] == "deregistered"
    assert failure.value.details["action"] == "update"


def test_editing_an_older_version_is_a_conflict():
    provider = provider_in("verified")
    provider.version = 4

    with pytest.raises(VersionConflict) as failure:
        provider.ensure_editable(expected_version=3)

    assert failure.value.details["expected_version"] == 3
    assert failure.value.details["current_version"] == 4
    provider.ensure_editable(expected_version=4)
    provider.ensure_editable()


def host_unit():
    city = registered("federation", level="city")
    return registered("host_unit", city, sector="non_public_enterprise", name="某公司")


def test_amend_changes_a_host_units_sector():
    host = host_unit()

    changed = host.amend({"sector": "social_organization"}, LATER)

    assert changed == ["sector"]
    assert host.sector == "social_organization"
    assert (host.version, host.updated_at) == (2, LATER)


@pytest.mark.parametrize("kind, level", [("federation", "city"), ("service_provider", None)])
def test_amend_refuses_a_sector_on_other_kinds(kind, level):
    organization = registered(kind, level=level)

    with pytest.raises(InvalidPlacement) as failure:
        organization.amend({"sector": "village"}, LATER)

    assert failure.value.details == {"field": "sector", "rule": "host_units_only"}
    assert organization.sector is None
    assert organization.version == 1


def test_amend_refuses_to_clear_a_host_units_sector():
    host = host_unit()

    with pytest.raises(InvalidPlacement) as failure:
        host.amend({"sector": None}, LATER)

    assert failure.value.details == {"field": "sector", "rule": "required"}
    assert host.sector == "non_public_enterprise"


def test_amend_validates_and_normalises_the_uscc():
    host = host_unit()

    assert host.amend({"uscc": "91110000-60003734-1l"}, LATER) == ["uscc"]
    assert host.uscc == "91110000600037341L"

    with pytest.raises(InvalidUSCC):
        host.amend({"uscc": "91110000600037341M"}, LATER)
    assert host.uscc == "91110000600037341L"


def test_amend_can_clear_the_uscc():
    host = host_unit()
    host.amend({"uscc": USCC}, AT)

    assert host.amend({"uscc": None}, LATER) == ["uscc"]
    assert host.uscc is None


def test_amend_without_a_real_change_keeps_the_version():
    host = host_unit()
    host.amend({"uscc": USCC, "contact": {"phone": "0591-12338"}}, AT)
    version = host.version

    changed = host.amend(
        {
            "name": "某公司",
            "sector": "non_public_enterprise",
            "uscc": USCC.lower(),
            "contact": {"phone": "0591-12338"},
        },
        LATER,
    )

    assert changed == []
    assert host.version == version
    assert host.updated_at == AT


def test_amend_reports_only_the_fields_that_changed_and_bumps_once():
    host = host_unit()

    changed = host.amend({"name": "某婦聯", "region_code": "350102", "sector": host.sector}, LATER)

    assert changed == ["name", "region_code"]
    assert host.version == 2
    assert host.search_name == "某妇联"


# --- moving -------------------------------------------------------------------------------


@pytest.fixture
def tree():
    city = registered("federation", level="city", name="福州市妇联")
    gulou = registered("federation", city, level="county", name="鼓楼区妇联")
    taijiang = registered("federation", city, level="county", name="台江区妇联")
    street = registered("federation", gulou, level="township", name="某街道妇联")
    company = registered("host_unit", gulou, sector="non_public_enterprise", name="某公司")
    committee = registered("womens_organization", company, name="某公司妇委会")
    provider = registered("service_provider", city, name="某社工事务所")
    other_city = registered("federation", level="city", name="厦门市妇联")
    return {
        "city": city,
        "gulou": gulou,
        "taijiang": taijiang,
        "street": street,
        "company": company,
        "committee": committee,
        "provider": provider,
        "other_city": other_city,
    }


def test_paths_and_depths_follow_the_hierarchy(tree):
    city, gulou, company, committee = (tree[k] for k in ("city", "gulou", "company", "committee"))

    assert committee.path == f"/{city.id}/{gulou.id}/{company.id}/{committee.id}/"
    assert committee.depth == 3
    assert hierarchy.ancestor_ids(committee.path) == [city.id, gulou.id, company.id, committee.id]
    assert committee.is_within(city.id)
    assert committee.is_within(committee.id)
    assert not gulou.is_within(committee.id)


def test_move_under_recomputes_path_and_depth(tree):
    company, taijiang = tree["company"], tree["taijiang"]
    old_path = company.path

    paths = company.move_under(taijiang, LATER)

    assert paths == (old_path, f"{taijiang.path}{company.id}/")
    assert company.parent_id == taijiang.id
    assert company.path == f"/{tree['city'].id}/{taijiang.id}/{company.id}/"
    assert company.depth == 2
    assert (company.version, company.updated_at) == (2, LATER)


def test_move_to_a_shallower_parent_changes_depth(tree):
    committee, city = tree["committee"], tree["city"]

    committee.move_under(city, LATER)

    assert committee.depth == 1
    assert committee.path == f"/{city.id}/{committee.id}/"


def test_move_to_the_top(tree):
    provider = tree["provider"]

    old, new = provider.move_under(None, LATER)

    assert new == f"/{provider.id}/"
    assert (provider.parent_id, provider.depth) == (None, 0)
    assert old != new


@pytest.mark.parametrize("target", ["gulou", "street", "company", "committee"])
def test_a_federation_cannot_move_under_itself_or_a_descendant(tree, target):
    gulou = tree["gulou"]
    before = (gulou.parent_id, gulou.path, gulou.depth, gulou.version)

    with pytest.raises(HierarchyCycle) as failure:
        gulou.move_under(tree[target], LATER)

    assert failure.value.details == {
        "field": "parent_id",
        "rule": "no_cycles",
        "organization_id": gulou.id,
        "parent_id": tree[target].id,
    }
    assert (gulou.parent_id, gulou.path, gulou.depth, gulou.version) == before


def test_move_applies_the_placement_rules(tree):
    company = tree["company"]

    with pytest.raises(InvalidParent):
        company.move_under(tree["provider"], LATER)
    with pytest.raises(InvalidPlacement):
        company.move_under(None, LATER)

    tree["taijiang"].status = "suspended"
    with pytest.raises(InvalidParent):
        company.move_under(tree["taijiang"], LATER)
    assert company.parent_id == tree["gulou"].id


# --- scope --------------------------------------------------------------------------------


def actor(role, organization=None):
    return Actor(
        user_id=str(uuid.uuid4()),
        username=f"{role}-user",
        role=role,
        organization_id=organization.id if organization else None,
    )


@pytest.mark.parametrize("role", ["admin", "ops"])
def test_roles_without_an_organization_read_everything(tree, role):
    for organization in tree.values():
        scope.ensure_can_read(actor(role), organization)


def test_admins_manage_everything_and_register_at_the_top(tree):
    admin = actor("admin")
    for organization in tree.values():
        scope.ensure_can_manage(admin, organization)
        scope.ensure_can_place_under(admin, organization)
    scope.ensure_can_place_under(admin, None)


@pytest.mark.parametrize("inside", ["gulou", "street", "company", "committee"])
def test_federation_staff_read_and_manage_their_subtree(tree, inside):
    staff = actor("federation_staff", tree["gulou"])

    scope.ensure_can_read(staff, tree[inside])
    scope.ensure_can_manage(staff, tree[inside])
    scope.ensure_can_place_under(staff, tree[inside])


@pytest.mark.parametrize("outside", ["city", "taijiang", "provider", "other_city"])
def test_federation_staff_are_kept_out_of_other_subtrees(tree, outside):
    staff = actor("federation_staff", tree["gulou"])
    organization = tree[outside]

    for check in (scope.ensure_can_read, scope.ensure_can_manage, scope.ensure_can_place_under):
        with pytest.raises(OutOfScope) as failure:
            check(staff, organization)
        assert failure.value.details == {
            "organization_id": organization.id,
            "your_federation_id": tree["gulou"].id,
        }
        assert failure.value.kind == "forbidden"


def test_federation_staff_without_a_federation_see_nothing(tree):
    staff = actor("federation_staff")

    with pytest.raises(OutOfScope):
        scope.ensure_can_read(staff, tree["gulou"])


def test_federation_staff_cannot_register_at_the_top(tree):
    staff = actor("federation_staff", tree["city"])

    with pytest.raises(OutOfScope) as failure:
        scope.ensure_can_place_under(staff, None)

    assert failure.value.details == {"field": "parent_id"}


def test_a_contractor_reads_only_its_own_organization(tree):
    contractor = actor("contractor", tree["provider"])

    scope.ensure_can_read(contractor, tree["provider"])
    for name in ("city", "gulou", "company", "other_city"):
        with pytest.raises(OrganizationNotFound) as failure:
            scope.ensure_can_read(contractor, tree[name])
        # told it does not exist, not that it is forbidden
        assert failure.value.kind == "not_found"
        assert failure.value.details == {"organization_id": tree[name].id}


def test_a_contractor_changes_nothing(tree):
    contractor = actor("contractor", tree["provider"])

    with pytest.raises(OutOfScope) as own:
        scope.ensure_can_manage(contractor, tree["provider"])
    assert own.value.details == {"role": "contractor"}
    with pytest.raises(OrganizationNotFound):
        scope.ensure_can_manage(contractor, tree["city"])
    with pytest.raises(OrganizationNotFound):
        scope.ensure_can_place_under(contractor, tree["city"])
    with pytest.raises(OutOfScope):
        scope.ensure_can_place_under(contractor, tree["provider"])
    with pytest.raises(OutOfScope) as top:
        scope.ensure_can_place_under(contractor, None)
    assert top.value.details == {"role": "contractor"}


@pytest.mark.parametrize("role", ["finance_officer", "ops"])
def test_finance_and_ops_read_but_change_nothing(tree, role):
    reader = actor(role, tree["city"] if role == "finance_officer" else None)

    for organization in (tree["city"], tree["company"]):
        with pytest.raises(OutOfScope) as failure:
            scope.ensure_can_manage(reader, organization)
        assert failure.value.details == {"role": role}
        with pytest.raises(OutOfScope):
            scope.ensure_can_place_under(reader, organization)
    with pytest.raises(OutOfScope):
        scope.ensure_can_place_under(reader, None)


def test_reading_scope_for_each_role(tree):
    gulou, provider = tree["gulou"], tree["provider"]

    assert scope.reading_scope(actor("admin")) == ("all", None)
    assert scope.reading_scope(actor("finance_officer", gulou)) == ("subtree", gulou.id)
    assert scope.reading_scope(actor("ops")) == ("all", None)
    assert scope.reading_scope(actor("federation_staff", gulou)) == ("subtree", gulou.id)
    assert scope.reading_scope(actor("contractor", provider)) == ("self", provider.id)


# --- coverage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "covered, host_units, rate",
    [
        (1281, 1348, Decimal("95.0")),
        (3, 6, Decimal("50.0")),
        (2, 3, Decimal("66.7")),
        (1, 3, Decimal("33.3")),
        (1, 8, Decimal("12.5")),
        (1, 16, Decimal("6.3")),  # 6.25: half up, not to even
        (1, 400, Decimal("0.3")),  # 0.25: half up, not to even
        (68, 68, Decimal("100.0")),
        (0, 46, Decimal("0.0")),
    ],
)
def test_coverage_rate_is_a_percentage_rounded_half_up(covered, host_units, rate):
    result = coverage.coverage_rate(covered, host_units)

    assert result == rate
    assert isinstance(result, Decimal)
    assert result.as_tuple().exponent == -1


def test_coverage_rate_is_none_without_host_units():
    assert coverage.coverage_rate(0, 0) is None


def test_coverage_report_lists_every_sector_and_a_total():
    city = registered("federation", level="city", name="某市妇联")
    counts = {
        "non_public_enterprise": (1348, 1281),
        "social_organization": (6, 3),
        "village": (68, 68),
        "community": (46, 46),
    }

    report = coverage.coverage_report(city, counts)

    assert report["organization_id"] == city.id
    assert report["name"] == "某市妇联"
    assert report["sectors"] == [
        {"sector": "government_agency", "host_units": 0, "covered": 0, "rate": None},
        {"sector": "public_institution", "host_units": 0, "covered": 0, "rate": None},
        {
            "sector": "non_public_enterprise",
            "host_units": 1348,
            "covered": 1281,
            "rate": Decimal("95.0"),
        },
        {"sector": "social_organization", "host_units": 6, "covered": 3, "rate": Decimal("50.0")},
        {"sector": "village", "host_units": 68, "covered": 68, "rate": Decimal("100.0")},
        {"sector": "community", "host_units": 46, "covered": 46, "rate": Decimal("100.0")},
    ]
    # 1,398 of 1,468 = 95.23...%
    assert report["total"] == {"host_units": 1468, "covered": 1398, "rate": Decimal("95.2")}


def test_an_empty_coverage_report_has_no_rates():
    report = coverage.coverage_report(registered("federation", level="village"), {})

    assert [line["sector"] for line in report["sectors"]] == list(hierarchy.SECTORS)
    assert all(line["rate"] is None for line in report["sectors"])
    assert report["total"] == {"host_units": 0, "covered": 0, "rate": None}


def test_a_finance_officer_reads_her_federations_subtree_only(tree):
    officer = actor("finance_officer", tree["gulou"])
    scope.ensure_can_read(officer, tree["company"])
    for outside in (tree["city"], tree["taijiang"]):
        with pytest.raises(OrganizationNotFound):
            scope.ensure_can_read(officer, outside)
    with pytest.raises(OrganizationNotFound):
        scope.ensure_can_read(actor("finance_officer"), tree["gulou"])
