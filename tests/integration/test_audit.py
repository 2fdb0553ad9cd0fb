"""The audit trail on both databases: a service's acts leave chained records in the act's
transaction; ``verify`` names a tampered, deleted or reordered record; pruning keeps the chain
verifiable; 50 concurrent writers on PostgreSQL leave one unbroken chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kit import audit
from kit.db import connect, create_engine
from kit.migrate import upgrade
from kit.rpc import RemoteFailure
from registry.service import RegistryService
from tests.support.rpc import ServiceRpcProxy

KEY = b"integration-audit-key"
ADMIN = {
    "user_id": "a0000000-0000-4000-8000-000000000001",
    "username": "admin",
    "role": "admin",
    "request": {"client_address": "203.0.113.9", "request_id": "req-audit-1"},
}
AT = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def registry(container_factory, registry_config):
    container = container_factory(RegistryService, registry_config)
    container.start()
    with ServiceRpcProxy("registry", registry_config) as proxy:
        yield proxy


def records(url: str) -> list[dict]:
    with connect(url) as db, db.begin(write=False) as connection:
        rows = connection.execute(sa.select(audit.audit_records).order_by("seq")).mappings()
        return [dict(row) for row in rows]


def verify(url: str, key: bytes | None = KEY) -> audit.VerifyResult:
    with connect(url) as db, db.begin(write=False) as connection:
        return audit.verify(connection, key=key)


def write(url: str, count: int, *, start: datetime = AT, days_apart: int = 0) -> None:
    with connect(url) as db:
        for number in range(count):
            entry = audit.AuditEntry("act", "thing", f"t-{number}", scope_path="/x/")
            with db.begin() as connection:
                at = start + timedelta(days=number * days_apart, seconds=number)
                audit.append(connection, ADMIN, entry, at)


def tamper(url: str, *statements: str) -> None:
    """As someone with the database password: the triggers dropped, then the SQL."""
    with connect(url) as db, db.begin() as connection:
        for statement in audit.unprotection_statements(connection.dialect.name):
            connection.execute(sa.text(statement))
        for statement in statements:
            connection.execute(sa.text(statement))


def test_an_act_leaves_one_record_with_who_where_what(registry, registry_db):
    city = registry.register_organization(
        {"name": "审计市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    registry.change_status(city["id"], "verify", {}, ADMIN)
    written = records(registry_db)
    assert [r["action"] for r in written] == ["register_organization", "change_status"]
    first = written[0]
    assert (first["object_type"], first["object_id"]) == ("organization", city["id"])
    assert (first["user_id"], first["username"], first["role"]) == (
        ADMIN["user_id"],
        "admin",
        "admin",
    )
    assert (first["client_address"], first["request_id"]) == ("203.0.113.9", "req-audit-1")
    assert first["scope_path"] == f"/{city['id']}/"
    assert {"field": "name", "before": None, "after": "审计市妇联"} in first["changes"]
    status = [c for c in written[1]["changes"] if c["field"] == "status"]
    assert status == [{"field": "status", "before": "registered", "after": "verified"}]
    assert written[1]["prev_hash"] == first["hash"]
    assert verify(registry_db).ok


def test_a_refused_act_is_recorded_as_denied_and_its_changes_are_not(registry, registry_db):
    with pytest.raises(RemoteFailure):
        registry.change_status("00000000-0000-4000-8000-00000000dead", "verify", {}, ADMIN)
    (denied,) = records(registry_db)
    assert (denied["action"], denied["outcome"]) == ("change_status", "denied")
    assert denied["object_id"] == "00000000-0000-4000-8000-00000000dead"


def test_the_auditor_searches_and_verifies_the_log_and_nobody_else(registry, registry_db):
    city = registry.register_organization(
        {"name": "甲市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    other = registry.register_organization(
        {"name": "乙市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    auditor = {"user_id": "u-aud", "username": "aud", "role": "auditor"}
    local = {**auditor, "organization_id": city["id"]}
    assert [r["object_id"] for r in registry.audit_search(local, {})["items"]] == [city["id"]]
    assert registry.audit_search(local, {"object_id": other["id"]})["items"] == []
    page = registry.audit_search({**auditor, "organization_id": other["id"]}, {"limit": 1})
    assert page["items"][0]["seq"] == 2 and page["next_cursor"] is None
    assert registry.audit_verify(local)["ok"] is True
    with pytest.raises(RemoteFailure) as refused:
        registry.audit_search(ADMIN, {})
    assert refused.value.kind == "forbidden"


def test_the_auditor_at_the_top_reads_platform_wide_records_and_nobody_below_does(
    registry, registry_db
):
    city = registry.register_organization(
        {"name": "甲市妇联", "kind": "federation", "level": "city"}, ADMIN
    )
    district = registry.register_organization(
        {"name": "甲区妇联", "kind": "federation", "level": "county", "parent_id": city["id"]},
        ADMIN,
    )
    # an admin's act on no organization: a platform-wide record (no line)
    with pytest.raises(RemoteFailure):
        registry.change_status("00000000-0000-4000-8000-00000000dead", "verify", {}, ADMIN)
    assert records(registry_db)[-1]["scope_path"] is None
    auditor = {"user_id": "u-aud", "username": "aud", "role": "auditor"}
    top = registry.audit_search({**auditor, "organization_id": city["id"]}, {})["items"]
    assert [r["seq"] for r in top] == [3, 2, 1]
    below = registry.audit_search({**auditor, "organization_id": district["id"]}, {})["items"]
    assert [r["object_id"] for r in below] == [district["id"]]
    # the gateway creates no auditor without a federation: one is refused, not the whole log
    with pytest.raises(RemoteFailure) as refused:
        registry.audit_search(auditor, {})
    assert refused.value.kind == "forbidden"


def test_an_untouched_log_verifies(database_url):
    upgrade("registry", database_url)
    write(database_url, 20)
    result = verify(database_url)
    assert result.ok and result.records == 20 and result.head_seq == 20


def test_the_triggers_refuse_update_and_delete(database_url):
    upgrade("registry", database_url)
    write(database_url, 3)
    for statement in ("UPDATE audit_records SET action = 'x'", "DELETE FROM audit_records"):
        with (
            pytest.raises(sa.exc.DatabaseError, match="append-only"),
            connect(database_url) as db,
            db.begin() as connection,
        ):
            connection.execute(sa.text(statement))
    assert len(records(database_url)) == 3


@pytest.mark.parametrize(
    ("statements", "broken", "words"),
    [
        (["UPDATE audit_records SET object_id = 'forged' WHERE seq = 7"], 7, "altered"),
        (["DELETE FROM audit_records WHERE seq = 4"], 4, "missing"),
        (
            [
                "UPDATE audit_records SET seq = -1 WHERE seq = 5",
                "UPDATE audit_records SET seq = 5 WHERE seq = 6",
                "UPDATE audit_records SET seq = 6 WHERE seq = -1",
            ],
            5,
            "",
        ),
    ],
    ids=["changed-field", "deleted-record", "swapped-records"],
)
def test_verify_names_the_first_broken_record(database_url, statements, broken, words):
    upgrade("registry", database_url)
    write(database_url, 10)
    tamper(database_url, *statements)
    result = verify(database_url)
    assert not result.ok
    assert result.first_broken_seq == broken
    assert words in result.reason


def test_pruning_keeps_the_chain_verifiable(database_url):
    upgrade("registry", database_url)
    write(database_url, 10, start=AT - timedelta(days=300), days_apart=30)
    with connect(database_url) as db, db.begin() as connection:
        checkpoint = audit.prune(connection, now=AT, key=KEY)
    assert checkpoint is not None and checkpoint["seq"] == 4  # days -300..-210 < -180
    assert min(r["seq"] for r in records(database_url)) == 5
    write(database_url, 2)
    result = verify(database_url)
    assert result.ok and result.start_seq == 4 and result.records == 8
    # a forged checkpoint (signed with another key) does not pass
    assert not verify(database_url, key=b"another key").ok


def test_fifty_concurrent_writers_leave_one_unbroken_chain(postgres_admin_url):
    from tests.support.infra import scratch_postgres_database

    with scratch_postgres_database(postgres_admin_url) as url:
        upgrade("registry", url)
        engine = create_engine(url, pool_size=50)
        start = threading.Barrier(50)
        failures: list[BaseException] = []

        def writer(number: int) -> None:
            try:
                start.wait()
                for round_ in range(4):
                    with engine.begin() as connection:
                        entry = audit.AuditEntry("act", "thing", f"{number}-{round_}")
                        audit.append(connection, ADMIN, entry, AT)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        engine.dispose()
        assert failures == []
        result = verify(url)
        assert result.ok and result.records == 200 and result.head_seq == 200


def test_two_replicas_and_a_rolled_back_act_leave_one_chain_and_one_statement_per_append(
    database_url,
):
    """Each process appends after the head it wrote last in one statement (lock included on
    PostgreSQL); when another replica moved the head, or the act that wrote it rolled back,
    the guarded insert writes nothing and the head is read again."""
    upgrade("registry", database_url)
    one, two = create_engine(database_url), create_engine(database_url)
    seen: list[str] = []
    sa.event.listen(one, "before_cursor_execute", lambda *a: seen.append(a[2]))
    try:

        def act(engine: sa.Engine, name: str, *, roll_back: bool = False) -> None:
            connection = engine.connect()
            transaction = connection.begin()
            audit.append(connection, ADMIN, audit.AuditEntry(name, "thing", name), AT)
            (transaction.rollback if roll_back else transaction.commit)()
            connection.close()

        act(one, "a")  # no guess yet: head read, then insert
        seen.clear()
        act(one, "b")  # its own head: one statement
        assert len([s for s in seen if "audit_records" in s]) == 1
        act(two, "c")  # another replica moves the head
        act(one, "d")  # one's guess (b) is stale: nothing inserted, head read again
        act(one, "e", roll_back=True)  # one's guess is now a record that never committed
        act(one, "f")
        act(two, "g")
    finally:
        one.dispose()
        two.dispose()
    assert [r["action"] for r in records(database_url)] == ["a", "b", "c", "d", "f", "g"]
    assert [r["seq"] for r in records(database_url)] == [1, 2, 3, 4, 5, 6]
    result = verify(database_url)
    assert result.ok and result.records == 6


# --- anchoring: each log's head written into the others -------------------------------------


@pytest.fixture
def two_logs(request, database_url, tmp_path):
    """A database each for the registry and projects, of the kind the test runs on."""
    if database_url.startswith("sqlite"):
        yield {
            name: f"sqlite:///{tmp_path / f'{name}.sqlite3'}" for name in ("registry", "projects")
        }
        return
    from tests.support.infra import scratch_postgres_database

    admin_url = request.getfixturevalue("postgres_admin_url")
    with (
        scratch_postgres_database(admin_url) as registry_url,
        scratch_postgres_database(admin_url) as projects_url,
    ):
        yield {"registry": registry_url, "projects": projects_url}


def service_config(service: str, rabbit_config, url: str) -> dict:
    from kit.config import load_config
    from tests.conftest import free_port
    from tests.integration.conftest import ROOT

    upgrade(service, url)
    return load_config(
        ROOT / f"services/{service}/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=url,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        JINGUO_ENV="test",
        OUTBOX={"poll_interval": 0.2, "lease_ttl": 3, "confirm_timeout": 5},
        AUDIT={"anchor_interval": 0.3, "prune_interval": 3600, "retention_days": 180},
    )


def test_a_rewritten_log_is_caught_by_the_anchor_another_log_holds(
    container_factory, rabbit_config, two_logs
):
    from kit import anchoring
    from projects.service import ProjectsService
    from tests.support.waiting import wait_until

    registry_config = service_config("registry", rabbit_config, two_logs["registry"])
    projects_config = service_config("projects", rabbit_config, two_logs["projects"])
    container_factory(ProjectsService, projects_config).start()
    container_factory(RegistryService, registry_config).start()
    with ServiceRpcProxy("registry", registry_config) as registry:
        registry.register_organization(
            {"name": "锚市妇联", "kind": "federation", "level": "city"}, ADMIN
        )

    def anchored() -> list[dict]:
        held = [r for r in records(two_logs["projects"]) if r["action"] == "audit_anchor"]
        return [r for r in held if r["object_id"] == "registry" and r["changes"][0]["after"] >= 1]

    wait_until(anchored, timeout=20)
    assert anchoring.verify_all(two_logs, key=None) == []

    # someone with the registry database's password rewrites its whole log: a chain that is
    # consistent in itself, with the first record's content changed
    (original,) = [r for r in records(two_logs["registry"]) if r["seq"] == 1]
    forged = audit.build_record(
        {"user_id": "nobody", "username": "nobody", "role": "admin"},
        audit.AuditEntry("register_organization", "organization", original["object_id"]),
        original["at"],
        seq=1,
        prev_hash=audit.GENESIS,
    )
    tamper(two_logs["registry"], "DELETE FROM audit_records")
    with connect(two_logs["registry"]) as db, db.begin() as connection:
        connection.execute(audit.audit_records.insert(), forged)
    assert verify(two_logs["registry"], key=None).ok  # the rewritten chain holds in itself
    problems = anchoring.verify_all(two_logs, key=None)
    assert problems and problems[0].startswith("registry: record 1 is not the one anchored")
    assert "anchored in projects" in problems[0]
