"""The gateway's audit keeper (``gateway.audit.keep_log``): the lease holder sends the log's
head to be anchored in another service's chain when it moved, and only then; another replica
sends nothing while the lease is held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway import audit as gateway_audit
from kit import anchoring, audit
from kit.db import connect
from kit.errors import Forbidden, InvalidInput
from kit.tables import outbox_lease

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ACTOR = {"user_id": "u-1", "username": "admin", "role": "admin", "organization_id": None}
OPTIONS = gateway_audit.KeeperOptions(anchor_interval=60, prune_interval=3600)


@pytest.fixture
def resource(tmp_path):
    with connect(f"sqlite:///{tmp_path / 'gateway.sqlite3'}") as db:
        with db.begin() as connection:
            audit.metadata.create_all(connection)
            outbox_lease.create(connection, checkfirst=True)
        yield db


def append(resource, number: int) -> None:
    with resource.begin() as connection:
        entry = audit.AuditEntry("login", "user", f"u-{number}")
        audit.append(connection, ACTOR, entry, NOW + timedelta(seconds=number))


def test_the_holder_sends_the_head_when_it_moved_and_another_replica_waits(resource):
    sent: list[dict] = []
    holder, other = gateway_audit.KeeperState(), gateway_audit.KeeperState()

    def keep(state, now):
        return gateway_audit.keep_log(
            resource, state, sent.append, now=now, options=OPTIONS, key=lambda: b"k" * 32
        )

    append(resource, 1)
    assert keep(holder, NOW) == (1, sent[0]["hash"]) and sent[0]["seq"] == 1
    assert keep(other, NOW + timedelta(seconds=10)) is None  # the lease is held
    assert keep(holder, NOW + timedelta(seconds=20)) is None and len(sent) == 1  # unchanged
    append(resource, 2)
    keep(holder, NOW + timedelta(seconds=30))
    with resource.begin(write=False) as connection:
        assert sent[-1] == dict(zip(("seq", "hash"), audit.head(connection), strict=True))
    assert len(sent) == 2


def test_the_gateway_anchor_is_taken_from_the_platform_only_and_checked():
    assert anchoring.gateway_anchor({"seq": 3, "hash": "a" * 64}) == {
        "service": "gateway",
        "seq": 3,
        "hash": "a" * 64,
    }
    for wrong in ({"seq": -1, "hash": "a" * 64}, {"seq": 1, "hash": "xyz"}, {"seq": True}):
        with pytest.raises(InvalidInput):
            anchoring.gateway_anchor(wrong)

    class Desk(anchoring.GatewayAnchors):
        db = None

    with pytest.raises(Forbidden):
        Desk().record_gateway_anchor(ACTOR, {"seq": 1, "hash": "a" * 64})


def test_the_holder_prunes_records_past_retention_behind_a_signed_checkpoint(resource):
    for number in range(3):
        append(resource, number)  # at NOW: 200 days before the round below
    append(resource, 200 * 24 * 3600)  # at the round: kept
    gateway_audit.keep_log(
        resource,
        gateway_audit.KeeperState(),
        lambda anchor: None,
        now=NOW + timedelta(days=200),
        options=OPTIONS,
        key=lambda: b"k" * 32,
    )
    with resource.begin(write=False) as connection:
        kept = connection.execute(audit.audit_records.select()).all()
        result = audit.verify(connection, key=b"k" * 32)
    assert [row.seq for row in kept] == [4]
    assert result.ok and result.start_seq == 3
