"""The ops pages' parts against the real things: the services' desk (``kit.deadletters.Desk``)
on a real broker — counting, looking without consuming, replaying at most the number confirmed,
nothing parked — and the replay audit in the gateway's database, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import kombu
import pytest
import sqlalchemy as sa

from funding.service import FundingService
from gateway import ops
from kit.db import connect
from kit.deadletters import Desk
from kit.errors import Conflict
from kit.migrate import downgrade, upgrade
from kit.paging import page_request
from kit.rpc import RemoteFailure
from kit.tables import inbox
from language.actor import Actor
from tests.integration.test_broker_permissions import BrokerUsers, service_config
from tests.support.deadletters import FUNDING_DIRECTORY_QUEUE, organization_registered, park
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import wait_until

QUEUE = "evt-registry-organization_registered--ledger.on_registered"
OTHER = "evt-registry-organization_verified--ledger.on_verified"
OPS = Actor(user_id=str(uuid.uuid4()), username="zhao.yunwei", role="ops")
T0 = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)


def queue_depth(amqp_uri: str, name: str) -> int:
    with kombu.Connection(amqp_uri) as connection:
        _, count, _ = connection.channel().queue_declare(name, passive=True)
        return int(count)


def test_the_desk_counts_looks_without_consuming_and_replays_at_most_what_was_confirmed(
    rabbit_config,
):
    uri = rabbit_config["AMQP_URI"]
    bodies = [{"event_id": str(uuid.uuid4()), "organization_id": str(n)} for n in range(3)]
    park(uri, QUEUE, bodies, at=T0)
    with kombu.Connection(uri) as connection:  # the work queue the replay returns them to
        kombu.Queue(QUEUE, durable=True)(connection.channel()).declare()
    desk = Desk(uri, [QUEUE, OTHER])

    assert desk.counts() == [{"queue": QUEUE, "parked": 3}, {"queue": OTHER, "parked": 0}]
    look = desk.look(QUEUE, 2)
    assert look["parked"] == 3 and len(look["messages"]) == 2
    first = look["messages"][0]
    assert first["message_id"] == bodies[0]["event_id"]
    assert (first["reason"], first["deaths"]) == ("delivery_limit", 20)
    assert first["event_type"] == "organization_registered"
    assert first["parked_at"] == T0.isoformat()
    assert json.loads(first["body"]) == bodies[0]
    assert desk.look(QUEUE)["parked"] == 3  # looking leaves them parked
    assert desk.look(OTHER) == {"queue": OTHER, "parked": 0, "messages": []}

    assert desk.replay(QUEUE, 2) == {"queue": QUEUE, "replayed": 2}
    assert desk.counts()[0] == {"queue": QUEUE, "parked": 1}
    assert queue_depth(uri, QUEUE) == 2
    assert desk.replay(QUEUE) == {"queue": QUEUE, "replayed": 1}
    with pytest.raises(Conflict) as nothing:
        desk.replay(QUEUE)
    assert nothing.value.code == "NOTHING_PARKED"
    assert nothing.value.details == {"queue": QUEUE, "parked": 0}


@pytest.fixture
def audit(database_url):
    upgrade("gateway", database_url)
    with connect(database_url, service_name="gateway") as resource:
        yield ops.ReplayAudit(resource)


def test_the_replay_audit_pages_newest_first_with_its_total(audit):
    for n in range(5):
        replay_id = audit.start(
            OPS,
            ops.ReplayRequest("funding", QUEUE, f"第 {n} 次：原因已排除", n + 1),
            T0 + timedelta(minutes=n // 2),  # two share each minute: ties go by id
        )
        audit.finish(replay_id, T0 + timedelta(minutes=n, seconds=1), outcome="done", replayed=n)

    seen, cursor = [], None
    while True:
        found = audit.list(page_request(2, cursor, arity=2))
        assert found["total"] == 5
        seen += found["items"]
        cursor = found["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == 5 and len({row["id"] for row in seen}) == 5
    keys = [(row["requested_at"], row["id"]) for row in seen]
    assert keys == sorted(keys, reverse=True)
    assert seen[0]["requested_at"] == T0 + timedelta(minutes=2)
    assert {row["actor_username"] for row in seen} == {"zhao.yunwei"}
    assert all(row["outcome"] == "done" and row["reason"].endswith("原因已排除") for row in seen)


def test_the_audit_table_rolls_back_with_its_migration(database_url):
    upgrade("gateway", database_url)
    downgrade("gateway", database_url, "0002")
    upgrade("gateway", database_url)


@pytest.fixture
def users(infra, rabbit_config):
    """The deployment's broker users (``deploy/rabbitmq/definitions.json``) in this vhost."""
    broker_users = BrokerUsers(
        infra.rabbit_api_uri, rabbit_config["AMQP_URI"], rabbit_config["vhost"]
    )
    yield broker_users
    broker_users.remove()


def test_a_service_under_its_own_broker_user_counts_shows_and_replays_its_dead_letters(
    users, container_factory, rabbit_config, tmp_path
):
    """The ops pages' path in production: the RPCs run in the service, as its broker user,
    which may read its ``.dead`` queues and publish through its return exchange but neither
    into the default exchange nor into another's queues."""
    config = service_config("funding", users.uri("funding"), tmp_path)
    container_factory(FundingService, config).start()
    event = organization_registered("兴安盟巾帼家政服务中心")
    park(rabbit_config["AMQP_URI"], FUNDING_DIRECTORY_QUEUE, [event])
    ops_actor = OPS.to_dict()
    with ServiceRpcProxy("funding", rabbit_config) as funding:
        counts = {q["queue"]: q["parked"] for q in funding.dead_letters(ops_actor)["queues"]}
        assert counts[FUNDING_DIRECTORY_QUEUE] == 1 and sum(counts.values()) == 1
        look = funding.peek_dead_letters({"queue": FUNDING_DIRECTORY_QUEUE}, ops_actor)
        assert look["messages"][0]["message_id"] == event["event_id"]
        with pytest.raises(RemoteFailure) as refused:
            funding.replay_dead_letters(
                {"queue": FUNDING_DIRECTORY_QUEUE}, {**ops_actor, "role": "finance_officer"}
            )
        assert refused.value.code == "ROLE_NOT_ALLOWED"

        moved = funding.replay_dead_letters({"queue": FUNDING_DIRECTORY_QUEUE}, ops_actor)

        assert moved == {"queue": FUNDING_DIRECTORY_QUEUE, "replayed": 1}
        wait_until(lambda: applied(config["DATABASE_URL"], event["event_id"]) == 1, timeout=20)
        counts = {q["queue"]: q["parked"] for q in funding.dead_letters(ops_actor)["queues"]}
        assert counts[FUNDING_DIRECTORY_QUEUE] == 0


def applied(url: str, event_id: str) -> int:
    with connect(url, service_name="funding") as db, db.begin(write=False) as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id == event_id)
        ).scalar_one()
