"""The ops pages over HTTP with the real broker and services: a message parked behind one of
funding's event queues shows in the status and in a look (which leaves it parked); a replay
with a reason sends it back, funding applies it once, the queue is empty and the replay is on
record with who, when, which queue, why and how many. Unknown services and queues are 422s
naming the field, a replay with nothing parked says so, and no other role gets in."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from kit.db import connect
from kit.tables import inbox
from language import events as catalogue
from tests.support.deadletters import FUNDING_DIRECTORY_QUEUE as QUEUE
from tests.support.deadletters import organization_registered, park
from tests.support.waiting import eventually

PASSWORD = "Yunwei-2027-winter-duty"
REASON = "资金服务数据库连接池已扩容，重新处理积压的组织登记事件"


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code, response.text
    return response.json()


@pytest.fixture(scope="module")
def people(platform, admin):
    made = {}
    for username, role in (("zhao.yunwei", "ops"), ("qian.caiwu", "finance_officer")):
        organization = None
        if role == "finance_officer":
            organization = admin.create(
                "/organizations", {"name": "运维测试市妇联", "kind": "federation", "level": "city"}
            )["id"]
            made["city_id"] = organization
        admin.create(
            "/users",
            {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "organization_id": organization,
            },
        )
        made[role] = platform.client(platform.token(username, PASSWORD))
    return made


def parked_behind(status: dict, queue: str, service: str = "funding") -> int:
    found = [q for q in status["dead_letters"]["queues"] if q["queue"] == queue]
    assert [q["service"] for q in found] == [service], found
    return found[0]["parked"]


def applied(platform, event_id: str) -> int:
    url = platform.database_urls["funding"]
    with connect(url, service_name="funding") as db, db.begin(write=False) as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id == event_id)
        ).scalar_one()


def test_ops_see_a_parked_message_look_at_it_and_replay_it_on_record(platform, people):
    ops = people["ops"]
    event = organization_registered("乌兰浩特市启航社会工作服务中心")
    park(platform.amqp_uri, QUEUE, [event])

    status = expect(ops.get("/ops/status"), 200)
    assert status["status"] == "ok"
    names = [d["name"] for d in status["dependencies"]]
    assert names == [
        "gateway_database",
        "rabbitmq",
        "gateway_consumers",
        "registry",
        "projects",
        "funding",
        "volunteers",
    ]
    assert status["dependencies"][2] == {
        "name": "gateway_consumers",
        "status": "ok",
        "consumers": "ready",
    }
    funding = status["dependencies"][5]
    assert funding["status"] == "ok" and "oldest_pending_age_seconds" in funding["outbox"]
    assert parked_behind(status, QUEUE) == 1 and status["dead_letters"]["total"] >= 1
    assert status["dead_letters"]["unavailable"] == []
    assert status["links"] == {"grafana": None, "prometheus": None}

    look = expect(ops.get("/ops/dead-letters", params={"service": "funding", "queue": QUEUE}), 200)
    (message,) = look["messages"]
    assert look["parked"] == 1 and message["message_id"] == event["event_id"]
    assert message["reason"] == "delivery_limit" and event["organization_id"] in message["body"]
    assert parked_behind(expect(ops.get("/ops/status"), 200), QUEUE) == 1  # still parked
    assert applied(platform, event["event_id"]) == 0

    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"service": "funding", "queue": QUEUE, "reason": REASON, "limit": 1}
    replay = expect(ops.post("/ops/replays", body, headers=key), 201)
    assert (replay["outcome"], replay["replayed"], replay["requested"]) == ("done", 1, 1)
    assert replay["actor_username"] == "zhao.yunwei" and replay["reason"] == REASON
    assert replay["queue"] == QUEUE and replay["service"] == "funding"
    # the same submission again is the same replay, not a second one
    assert expect(ops.post("/ops/replays", body, headers=key), 201)["id"] == replay["id"]

    eventually(lambda: _assert(applied(platform, event["event_id"]) == 1))
    assert parked_behind(expect(ops.get("/ops/status"), 200), QUEUE) == 0
    again = {**body, "limit": None}
    refused = expect(ops.post("/ops/replays", again), 409, "NOTHING_PARKED")
    assert refused["error"]["details"]["parked"] == 0

    record = expect(ops.get("/ops/replays"), 200)
    assert record["items"][0]["id"] == replay["id"] and record["total"] == 1
    assert record["items"][0]["finished_at"] is not None


def _assert(condition: bool) -> None:
    assert condition


#: the gateway's own queue: a disbursement requested becomes a notice to finance officers
GATEWAY_QUEUE = "evt-funding-disbursement_requested--gateway.notify_disbursement_requested"


def test_the_gateways_own_queues_are_on_the_ops_pages_and_a_parked_notice_is_replayed(
    platform, people
):
    ops, officer = people["ops"], people["finance_officer"]
    event = catalogue.outgoing(
        "funding",
        "disbursement_requested",
        {
            "disbursement_id": str(uuid.uuid4()),
            "contract_id": str(uuid.uuid4()),
            "milestone_id": str(uuid.uuid4()),
            "amount": 250_000,
            "payee_id": str(uuid.uuid4()),
            "funding_source_id": str(uuid.uuid4()),
            "requested_by": "system",
            "owner_id": people["city_id"],
        },
    )
    park(platform.amqp_uri, GATEWAY_QUEUE, [event])

    status = expect(ops.get("/ops/status"), 200)
    mine = [q for q in status["dead_letters"]["queues"] if q["service"] == "gateway"]
    assert GATEWAY_QUEUE in {q["queue"] for q in mine} and len(mine) == 6
    assert parked_behind(status, GATEWAY_QUEUE, "gateway") == 1
    params = {"service": "gateway", "queue": GATEWAY_QUEUE}
    look = expect(ops.get("/ops/dead-letters", params=params), 200)
    assert look["service"] == "gateway" and look["parked"] == 1
    assert look["messages"][0]["message_id"] == event["event_id"]
    assert look["messages"][0]["event_type"] == "disbursement_requested"
    other = {"service": "gateway", "queue": QUEUE}
    expect(ops.get("/ops/dead-letters", params=other), 422, "VALIDATION_FAILED")
    assert officer.get("/notifications").json()["total"] == 0

    body = {"service": "gateway", "queue": GATEWAY_QUEUE, "reason": "网关数据库已恢复"}
    replay = expect(ops.post("/ops/replays", body), 201)
    assert (replay["outcome"], replay["replayed"], replay["service"]) == ("done", 1, "gateway")

    def told():
        items = officer.get("/notifications").json()["items"]
        assert len(items) == 1, items
        notice = items[0]
        assert notice["title"] == "拨付待审批" and "¥2,500.00" in notice["body"]

    eventually(told)
    assert parked_behind(expect(ops.get("/ops/status"), 200), GATEWAY_QUEUE, "gateway") == 0
    expect(ops.post("/ops/replays", body), 409, "NOTHING_PARKED")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"service": "payroll", "queue": QUEUE, "reason": "试一试"}, "service"),
        ({"service": "funding", "queue": "evt-nowhere", "reason": "试一试"}, "queue"),
        ({"service": "registry", "queue": QUEUE, "reason": "试一试"}, "queue"),
    ],
)
def test_a_replay_naming_an_unknown_service_or_queue_is_a_422_on_that_field(people, body, field):
    refused = expect(people["ops"].post("/ops/replays", body), 422, "VALIDATION_FAILED")
    assert refused["error"]["details"]["field"] == field


def test_a_replay_without_a_reason_is_refused_on_reason(people):
    refused = expect(
        people["ops"].post("/ops/replays", {"service": "funding", "queue": QUEUE, "reason": " "}),
        422,
    )
    assert "reason" in refused["error"]["details"]["fields"]


def test_a_look_at_an_unknown_queue_is_a_422_on_queue(people):
    refused = expect(
        people["ops"].get("/ops/dead-letters", params={"service": "funding", "queue": "evt-x"}),
        422,
    )
    assert refused["error"]["details"]["field"] == "queue"


def test_no_other_role_gets_in(people):
    finance = people["finance_officer"]
    for response in (
        finance.get("/ops/status"),
        finance.get("/ops/dead-letters", params={"service": "funding", "queue": QUEUE}),
        finance.post("/ops/replays", {"service": "funding", "queue": QUEUE, "reason": "x"}),
        finance.get("/ops/replays"),
    ):
        expect(response, 403, "ROLE_NOT_ALLOWED")
