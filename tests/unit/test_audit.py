"""The audit trail's core (``kit.audit``) over a SQLite file: records chain, ``verify`` names
the first record that breaks, pruning leaves a signed checkpoint the chain verifies from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kit import audit
from kit.db import create_engine

KEY = b"unit-test-audit-key"
START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
ACTOR = {
    "user_id": "u-1",
    "username": "city.staff",
    "role": "federation_staff",
    "organization_id": "org-1",
    "request": {"client_address": "10.0.0.7", "request_id": "req-1"},
}


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    with engine.begin() as connection:
        audit.metadata.create_all(connection)
        for statement in audit.protection_statements("sqlite"):
            connection.execute(sa.text(statement))
    yield engine
    engine.dispose()


def write(engine, count: int, *, days_apart: int = 0) -> list[dict]:
    records = []
    for number in range(count):
        entry = audit.AuditEntry(
            "update_project",
            "project",
            f"p-{number}",
            changes=(audit.change("title", "旧", f"新{number}"),),
            scope_path="/org-1/",
        )
        with engine.begin() as connection:
            at = START + timedelta(days=number * days_apart, seconds=number)
            records.append(audit.append(connection, ACTOR, entry, at))
    return records


def unprotect(connection) -> None:
    """What someone with the database password does first."""
    for statement in audit.unprotection_statements("sqlite"):
        connection.execute(sa.text(statement))


def check(engine) -> audit.VerifyResult:
    with engine.connect() as connection:
        return audit.verify(connection, key=KEY)


def test_records_carry_who_where_what_and_chain(engine):
    first, second = write(engine, 2)
    assert first["seq"] == 1 and first["prev_hash"] == audit.GENESIS
    assert second["seq"] == 2 and second["prev_hash"] == first["hash"]
    assert first["username"] == "city.staff" and first["role"] == "federation_staff"
    assert first["client_address"] == "10.0.0.7" and first["request_id"] == "req-1"
    assert first["changes"] == [{"field": "title", "before": "旧", "after": "新0"}]
    result = check(engine)
    assert result.ok and result.records == 2 and result.head_hash == second["hash"]


def test_personal_fields_are_masked():
    assert audit.change("phone", None, "13800000000") == {
        "field": "phone",
        "before": None,
        "after": audit.MASKED,
    }
    masked = audit.change("name", "王芳", "王芳芳", personal=("name",))
    assert "王芳" not in str(masked)


def test_a_changed_field_is_named(engine):
    write(engine, 5)
    with engine.begin() as connection:
        unprotect(connection)
        connection.execute(sa.text("UPDATE audit_records SET username = 'nobody' WHERE seq = 3"))
    result = check(engine)
    assert not result.ok and result.first_broken_seq == 3
    assert "altered" in result.reason


def test_a_deleted_record_is_named(engine):
    write(engine, 5)
    with engine.begin() as connection:
        unprotect(connection)
        connection.execute(sa.text("DELETE FROM audit_records WHERE seq = 2"))
    result = check(engine)
    assert not result.ok and result.first_broken_seq == 2
    assert "missing" in result.reason


def test_two_swapped_records_are_named(engine):
    write(engine, 5)
    with engine.begin() as connection:
        unprotect(connection)
        connection.execute(sa.text("UPDATE audit_records SET seq = -1 WHERE seq = 3"))
        connection.execute(sa.text("UPDATE audit_records SET seq = 3 WHERE seq = 4"))
        connection.execute(sa.text("UPDATE audit_records SET seq = 4 WHERE seq = -1"))
    result = check(engine)
    assert not result.ok and result.first_broken_seq == 3


def test_the_trigger_refuses_update_and_delete(engine):
    write(engine, 2)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_records SET action = 'x'"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM audit_records"))


def test_pruning_leaves_a_signed_checkpoint_the_chain_verifies_from(engine):
    records = write(engine, 6, days_apart=60)
    with engine.begin() as connection:
        checkpoint = audit.prune(connection, now=START + timedelta(days=400), key=KEY)
    assert checkpoint is not None and checkpoint["seq"] == 4  # days 0, 60, 120, 180 < 220
    assert checkpoint["hash"] == records[3]["hash"]
    result = check(engine)
    assert result.ok and result.start_seq == 4 and result.records == 2
    with engine.connect() as connection:
        assert audit.verify(connection, key=b"another key").ok is False


def test_pruning_never_removes_the_head(engine):
    write(engine, 2)
    with engine.begin() as connection:
        checkpoint = audit.prune(connection, now=START + timedelta(days=1000), key=KEY)
    assert checkpoint["seq"] == 1
    write(engine, 1)
    assert check(engine).ok


# --- what the hook in UseCases.execute records --------------------------------------------------


class Thing:
    def __init__(self, id: str, title: str, phone: str | None, owner_id: str | None) -> None:
        self.id, self.title, self.phone, self.owner_id = id, title, phone, owner_id


@pytest.fixture
def session(tmp_path):
    from sqlalchemy.orm import registry

    metadata = sa.MetaData()
    things = sa.Table(
        "things",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(100)),
        sa.Column("phone", sa.String(20)),
        sa.Column("owner_id", sa.String(36)),
    )
    mapper = registry()
    mapper.map_imperatively(Thing, things)
    engine = create_engine(f"sqlite:///{tmp_path / 'things.sqlite3'}")
    metadata.create_all(engine)
    sessions = sa.orm.sessionmaker(engine, expire_on_commit=False)  # as the services have it
    audit.track_changes(sessions)
    with sessions() as session:
        yield session
    mapper.dispose()
    engine.dispose()


def tracked(session) -> dict:
    session.flush()
    return session.info.pop("audit_changes", {})


def test_the_tracker_records_before_and_after_of_what_changed_and_masks_phones(session):
    thing = Thing("t-1", "旧名", "13800000000", "org-1")
    session.add(thing)
    entry, subject = audit.entry_for(
        "add_thing", None, thing, tracked(session), personal=frozenset({"thing.title"})
    )
    assert (entry.object_type, entry.object_id, subject) == ("thing", "t-1", thing)
    assert {c["field"]: c["after"] for c in entry.changes} == {
        "id": "t-1",
        "title": audit.MASKED,
        "phone": audit.MASKED,
        "owner_id": "org-1",
    }
    session.commit()
    thing.title = "新名"
    entry, _ = audit.entry_for("rename_thing", None, None, tracked(session))
    assert entry.object_id == "t-1"
    assert list(entry.changes) == [{"field": "title", "before": "旧名", "after": "新名"}]


def test_the_record_names_the_owners_line():
    class Directory:
        def get(self, organization_id):
            return {"path": f"/root/{organization_id}/"}

    class Context:
        directory = Directory()

    thing = Thing("t-1", "x", None, "org-1")
    assert audit.scope_of(Context(), thing, {"organization_id": "org-2"}) == "/root/org-1/"
    assert audit.scope_of(Context(), None, {"organization_id": "org-2"}) == "/root/org-2/"
    assert audit.scope_of(Context(), None, {"organization_id": None}) is None


def test_a_bulk_act_is_not_itemised_beyond_its_first_objects(session):
    session.add_all(Thing(f"t-{n}", "x", None, None) for n in range(audit.MAX_TRACKED + 30))
    assert len(tracked(session)) == audit.MAX_TRACKED


def test_the_auditor_at_the_top_reads_platform_wide_records_and_one_below_does_not(engine):
    lines = ["/top/", "/top/below/", None, "/other/"]
    with engine.begin() as connection:
        for number, line in enumerate(lines):
            entry = audit.AuditEntry("act", "thing", f"t-{number}", scope_path=line)
            audit.append(connection, ACTOR, entry, START + timedelta(seconds=number))

    def read(scope: str) -> list[str]:
        wide = audit.reads_platform_wide(scope)
        with engine.connect() as connection:
            found = audit.search(connection, {}, scope_path=scope, platform_wide=wide)
        return [r["object_id"] for r in found["items"]]

    assert audit.reads_platform_wide("/top/") and not audit.reads_platform_wide("/top/below/")
    assert not audit.reads_platform_wide(None)
    assert read("/top/") == ["t-2", "t-1", "t-0"]
    assert read("/top/below/") == ["t-1"]
