"""The registry service in a real container, against a real broker and both databases."""

import eventlet
import pytest
import sqlalchemy as sa

from kit.db import connect
from kit.migrate import downgrade, drift, upgrade
from kit.outbox import outbox_status, requeue_unrouted
from kit.rpc import RemoteFailure
from kit.tables import outbox
from language import events as catalogue
from registry.models import metadata, organizations, status_changes
from registry.service import RegistryService
from tests.support.paging import walk
from tests.support.rpc import ServiceRpcProxy

ADMIN = {"user_id": "a0000000-0000-4000-8000-000000000001", "username": "admin", "role": "admin"}


@pytest.fixture
def registry(container_factory, registry_config):
    container = container_factory(RegistryService, registry_config)
    container.start()
    with ServiceRpcProxy("registry", registry_config) as proxy:
        yield proxy


def count_rows(url, table):
    with connect(url) as db, db.begin(write=False) as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_transitions_publish_events_in_order_with_versions(registry, tap_factory, registry_db):
    tap = tap_factory("registry")
    city = registry.register_organization(
        {"name": "杭州市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    org_id = city["id"]
    registry.change_status(org_id, "verify", {}, ADMIN)
    registry.change_status(org_id, "suspend", {"reason": "年检未通过"}, ADMIN)
    registry.change_status(org_id, "reinstate", {"reason": "已整改"}, ADMIN)

    events = tap.collect(4)

    assert [key for key, _ in events] == [
        "organization_registered",
        "organization_verified",
        "organization_suspended",
        "organization_reinstated",
    ]
    assert [body["version"] for _, body in events] == [1, 2, 3, 4]
    assert {body["organization_id"] for _, body in events} == {org_id}
    assert events[2][1]["reason"] == "年检未通过"
    for key, body in events:
        catalogue.incoming("registry", key, body)  # every published event matches the catalogue
    history = registry.status_history(org_id, {}, ADMIN)["items"]
    assert [(c["action"], c["from_status"], c["to_status"]) for c in history] == [
        ("register", None, "registered"),
        ("verify", "registered", "verified"),
        ("suspend", "verified", "suspended"),
        ("reinstate", "suspended", "reinstated"),
    ]
    assert all(c["actor_name"] == "admin" for c in history)


def test_rejected_requests_write_nothing(registry, registry_db):
    city = registry.register_organization(
        {"name": "市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    before = (
        count_rows(registry_db, organizations),
        count_rows(registry_db, outbox),
        count_rows(registry_db, status_changes),
    )
    bad_requests = [
        (
            {"name": "x", "kind": "federation", "level": "city", "uscc": "91350100M000100Y44"},
            "INVALID_USCC",
        ),
        (
            {"name": "x", "kind": "federation", "level": "province", "parent_id": city["id"]},
            "INVALID_PARENT",
        ),
        ({"name": "x", "kind": "host_unit", "parent_id": city["id"]}, "VALIDATION_FAILED"),
        ({"name": "x", "kind": "alien"}, "VALIDATION_FAILED"),
        (
            {"name": "x", "kind": "federation", "level": "city", "colour": "red"},
            "VALIDATION_FAILED",
        ),
    ]
    for payload, code in bad_requests:
        with pytest.raises(RemoteFailure) as failure:
            registry.register_organization(payload, ADMIN)
        assert failure.value.code == code, payload
    with pytest.raises(RemoteFailure) as failure:
        registry.change_status(city["id"], "reinstate", {}, ADMIN)
    assert failure.value.kind == "conflict"
    assert failure.value.details["current_status"] == "registered"

    after = (
        count_rows(registry_db, organizations),
        count_rows(registry_db, outbox),
        count_rows(registry_db, status_changes),
    )
    assert after == before


def test_event_without_a_bound_queue_is_kept_visible_and_does_not_block(
    registry, tap_factory, registry_db
):
    verified_tap = tap_factory("registry", "organization_verified")
    city = registry.register_organization(
        {"name": "市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    registry.change_status(city["id"], "verify", {}, ADMIN)

    # the verification (bound) arrives although the registration before it had no queue
    assert [key for key, _ in verified_tap.collect(1)] == ["organization_verified"]
    with connect(registry_db, service_name="registry") as db:
        expected = {"pending": 0, "unrouted": 1, "oldest_pending_age_seconds": 0.0}
        for _ in range(50):  # the relay marks rows a moment after the broker confirmed them
            if outbox_status(db) == expected:
                break
            eventlet.sleep(0.1)
        assert outbox_status(db) == expected
        with db.begin(write=False) as connection:
            row = connection.execute(sa.select(outbox).where(outbox.c.status == "unrouted")).one()
        assert row.event_type == "organization_registered"
        assert "NO_ROUTE" in row.last_error

        # once a consumer has bound its queue, ops put the event back in line
        registered_tap = tap_factory("registry", "organization_registered")
        assert requeue_unrouted(db) == 1
    ((key, body),) = registered_tap.collect(1)
    assert key == "organization_registered" and body["organization_id"] == city["id"]


def test_moving_a_subtree_rewrites_paths_and_refuses_cycles(registry):
    city = registry.register_organization(
        {"name": "甲市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    other_city = registry.register_organization(
        {"name": "乙市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    district = registry.register_organization(
        {"name": "甲区妇联", "kind": "federation", "level": "county", "parent_id": city["id"]},
        ADMIN,
    )
    street = registry.register_organization(
        {
            "name": "某街道妇联",
            "kind": "federation",
            "level": "township",
            "parent_id": district["id"],
        },
        ADMIN,
    )
    unit = registry.register_organization(
        {"name": "某社区", "kind": "host_unit", "sector": "community", "parent_id": street["id"]},
        ADMIN,
    )

    moved = registry.update_organization(district["id"], {"parent_id": other_city["id"]}, ADMIN)

    assert moved["ancestors"] == [other_city["id"]]
    assert registry.get_organization(unit["id"], ADMIN)["ancestors"] == [
        other_city["id"],
        district["id"],
        street["id"],
    ]
    in_other = {
        o["id"] for o in registry.list_organizations({"within": other_city["id"]}, ADMIN)["items"]
    }
    assert in_other == {district["id"], street["id"], unit["id"]}
    assert registry.list_organizations({"within": city["id"]}, ADMIN)["items"] == []

    with pytest.raises(RemoteFailure) as failure:
        registry.update_organization(district["id"], {"parent_id": unit["id"]}, ADMIN)
    assert failure.value.code in ("HIERARCHY_CYCLE", "INVALID_PARENT")
    with pytest.raises(RemoteFailure) as failure:
        registry.update_organization(district["id"], {"parent_id": district["id"]}, ADMIN)
    assert failure.value.code == "HIERARCHY_CYCLE"


def test_coverage_is_counted_over_the_whole_subtree(registry):
    def register(payload):
        return registry.register_organization(payload, ADMIN)

    city = register({"name": "市妇联", "kind": "federation", "level": "city"})
    districts = [
        register(
            {"name": f"{n}区妇联", "kind": "federation", "level": "county", "parent_id": city["id"]}
        )
        for n in ("东", "西")
    ]
    street = register(
        {
            "name": "街道妇联",
            "kind": "federation",
            "level": "township",
            "parent_id": districts[1]["id"],
        }
    )
    # 5 non-public enterprises: 3 covered (one of them twice), 1 whose women's org is suspended
    enterprises = [
        register(
            {
                "name": f"企业{i}",
                "kind": "host_unit",
                "sector": "non_public_enterprise",
                "parent_id": (districts[0] if i < 3 else street)["id"],
            }
        )
        for i in range(5)
    ]
    for i in (0, 1, 4):
        register(
            {
                "name": f"企业{i}妇委会",
                "kind": "womens_organization",
                "parent_id": enterprises[i]["id"],
            }
        )
    register(
        {
            "name": "企业1第二妇委会",
            "kind": "womens_organization",
            "parent_id": enterprises[1]["id"],
        }
    )
    lapsed = register(
        {"name": "企业2妇委会", "kind": "womens_organization", "parent_id": enterprises[2]["id"]}
    )
    registry.change_status(lapsed["id"], "verify", {}, ADMIN)
    registry.change_status(lapsed["id"], "suspend", {"reason": "停止活动"}, ADMIN)
    # a deregistered host unit no longer counts
    gone = register(
        {
            "name": "已注销企业",
            "kind": "host_unit",
            "sector": "non_public_enterprise",
            "parent_id": street["id"],
        }
    )
    registry.change_status(gone["id"], "deregister", {"reason": "企业注销"}, ADMIN)
    # 2 communities, both covered
    for i in range(2):
        community = register(
            {
                "name": f"社区{i}",
                "kind": "host_unit",
                "sector": "community",
                "parent_id": street["id"],
            }
        )
        register(
            {"name": f"社区{i}妇联", "kind": "womens_organization", "parent_id": community["id"]}
        )

    report = registry.coverage(city["id"], ADMIN)
    by_sector = {line["sector"]: line for line in report["sectors"]}
    assert by_sector["non_public_enterprise"] == {
        "sector": "non_public_enterprise",
        "host_units": 5,
        "covered": 3,
        "rate": 60.0,
    }
    assert by_sector["community"] == {
        "sector": "community",
        "host_units": 2,
        "covered": 2,
        "rate": 100.0,
    }
    assert by_sector["social_organization"]["rate"] is None
    assert report["total"] == {"host_units": 7, "covered": 5, "rate": 71.4}

    west = registry.coverage(districts[1]["id"], ADMIN)
    west_lines = {line["sector"]: (line["host_units"], line["covered"]) for line in west["sectors"]}
    assert west_lines["non_public_enterprise"] == (2, 1)


def test_search_finds_simplified_and_traditional_alike(registry):
    registry.register_organization(
        {"name": "西湖區婦女聯合會", "kind": "federation", "level": "county"}, ADMIN
    )
    registry.register_organization(
        {"name": "拱墅区妇女联合会", "kind": "federation", "level": "county"}, ADMIN
    )

    def names(q):
        return sorted(o["name"] for o in registry.list_organizations({"q": q}, ADMIN)["items"])

    assert names("西湖区妇女") == ["西湖區婦女聯合會"]
    assert names("拱墅區") == ["拱墅区妇女联合会"]
    assert names("妇女联合会") == ["拱墅区妇女联合会", "西湖區婦女聯合會"]
    assert names("100%") == []


def test_paging_walks_every_child_once(registry):
    city = registry.register_organization(
        {"name": "市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    ids = {
        registry.register_organization(
            {
                "name": f"单位{i:02d}",
                "kind": "host_unit",
                "sector": "public_institution",
                "parent_id": city["id"],
            },
            ADMIN,
        )["id"]
        for i in range(23)
    }
    seen, cursor, pages = [], None, 0
    while True:
        result = registry.list_organizations(
            {"parent_id": city["id"], "limit": 10, "cursor": cursor}, ADMIN
        )
        seen.extend(o["id"] for o in result["items"])
        pages += 1
        cursor = result["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 23 and set(seen) == ids


def test_migrations_match_the_models_and_roll_back(database_url):
    upgrade("registry", database_url)
    assert drift(database_url, metadata) == []
    downgrade("registry", database_url, "base")
    upgrade("registry", database_url)
    assert drift(database_url, metadata) == []


def test_racing_transitions_one_wins(registry, registry_config):
    org = registry.register_organization({"name": "服务社", "kind": "service_provider"}, ADMIN)
    registry.change_status(org["id"], "verify", {}, ADMIN)

    def suspend(_):
        # a standalone proxy is not shared across greenlets: one per racer
        with ServiceRpcProxy("registry", registry_config) as proxy:
            try:
                return proxy.change_status(org["id"], "suspend", {"reason": "投诉"}, ADMIN)[
                    "status"
                ]
            except RemoteFailure as failure:
                assert failure.code == "INVALID_TRANSITION"
                return "refused while " + failure.details["current_status"]

    outcomes = list(eventlet.GreenPool(5).imap(suspend, range(5)))

    assert sorted(outcomes) == ["refused while suspended"] * 4 + ["suspended"]
    history = registry.status_history(org["id"], {}, ADMIN)["items"]
    assert [c["action"] for c in history].count("suspend") == 1


def test_two_replicas_publish_one_entitys_events_in_order(
    container_factory, registry_config, tap_factory
):
    tap = tap_factory("registry")
    replicas = [container_factory(RegistryService, registry_config) for _ in range(2)]
    for replica in replicas:
        replica.start()
    with ServiceRpcProxy("registry", registry_config) as registry:
        org = registry.register_organization(
            {"name": "轮流处理社", "kind": "service_provider"}, ADMIN
        )
        registry.change_status(org["id"], "verify", {}, ADMIN)
        for round_ in range(15):  # RPCs alternate between the replicas (competing consumers)
            registry.change_status(org["id"], "suspend", {"reason": f"第{round_}次"}, ADMIN)
            registry.change_status(org["id"], "reinstate", {}, ADMIN)
    events = tap.collect(32)
    versions = [body["version"] for _, body in events]
    assert versions == list(range(1, 33))
    assert [key for key, _ in events][-2:] == ["organization_suspended", "organization_reinstated"]


def test_a_finance_officer_reads_only_her_federations_subtree(registry):
    """Finance staff belong to a federation (issue 11): a sibling city's organizations, their
    contacts and status history are, to her, not there; the installation-wide view is for
    admin and ops."""
    city = registry.register_organization(
        {"name": "丙市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    other_city = registry.register_organization(
        {"name": "丁市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    theirs = registry.register_organization(
        {
            "name": "丁市社工",
            "kind": "service_provider",
            "parent_id": other_city["id"],
            "contact": {"person": "王某", "phone": "13800138000"},
        },
        ADMIN,
    )
    ours = registry.register_organization(
        {"name": "丙市社工", "kind": "service_provider", "parent_id": city["id"]}, ADMIN
    )
    officer = {
        "user_id": "f0000000-0000-4000-8000-000000000009",
        "username": "丙市会计",
        "role": "finance_officer",
        "organization_id": city["id"],
    }
    assert registry.get_organization(ours["id"], officer)["id"] == ours["id"]
    for other in (other_city["id"], theirs["id"]):
        for read in (registry.get_organization, registry.coverage):
            with pytest.raises(RemoteFailure) as failure:
                read(other, officer)
            assert failure.value.code == "ORGANIZATION_NOT_FOUND"
    listed = {o["id"] for o in registry.list_organizations({"limit": 500}, officer)["items"]}
    assert listed == {city["id"], ours["id"]}
    with pytest.raises(RemoteFailure) as failure:
        registry.list_organizations({"within": other_city["id"]}, officer)
    assert failure.value.code == "ORGANIZATION_NOT_FOUND"
    # ops keeps the installation-wide view
    ops = {**officer, "role": "ops", "organization_id": None}
    assert registry.get_organization(theirs["id"], ops)["id"] == theirs["id"]


def test_organizations_count_and_sort_on_the_server(registry):
    city = registry.register_organization(
        {"name": "排序市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    names = ["丙单位", "甲单位", "乙单位", "丁单位", "戊单位"]
    for name in names:
        registry.register_organization(
            {"name": name, "kind": "host_unit", "sector": "village", "parent_id": city["id"]},
            ADMIN,
        )

    def by(sort):
        return walk(
            lambda q: registry.list_organizations(q, ADMIN),
            parent_id=city["id"],
            limit=2,
            sort=sort,
        )

    ascending, totals = by("name")
    assert [o["name"] for o in ascending] == sorted(names) and totals == {5}
    descending, totals = by("-name")
    assert [o["name"] for o in descending] == sorted(names, reverse=True) and totals == {5}
    newest, _ = by("-created_at")
    assert [o["name"] for o in newest] == list(reversed(names))
    first = registry.list_organizations({"parent_id": city["id"], "limit": 2}, ADMIN)
    assert first["total"] == 5 and len(first["items"]) == 2
    with pytest.raises(RemoteFailure) as failure:
        registry.list_organizations({"sort": "uscc"}, ADMIN)
    assert failure.value.kind == "invalid"
    assert failure.value.details == {"field": "sort", "rule": "one_of"}
