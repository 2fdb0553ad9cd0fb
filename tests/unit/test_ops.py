"""The ops pages' logic without a broker: the status report, the links, the replay's checks and
its audit (which outcome is recorded when), and the services' guard on who may handle dead
letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway import ops
from gateway.errors import HttpError, ServiceTimeout, ValidationFailed
from kit.deadletters import Desk
from kit.errors import Forbidden, InvalidInput
from kit.operations import ops_only
from kit.rpc import RemoteFailure
from language.actor import Actor

OPS = Actor(user_id="u-ops", username="zhao.yunwei", role="ops")
T0 = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
QUEUE = "evt-registry-organization_registered--funding.on_organization_registered"
HEALTH = {
    "status": "ok",
    "checked_at": T0.isoformat(),
    "dependencies": {
        "funding": {"status": "ok", "outbox": {"pending": 2, "oldest_pending_age_seconds": 4.5}},
        "rabbitmq": {"status": "ok"},
        "registry": {"status": "ok"},
        "gateway_database": {"status": "ok", "backend": "sqlite"},
    },
}


def test_the_status_lists_the_gateways_own_dependencies_first_then_the_services_in_order():
    report = ops.status_report(HEALTH, ["registry", "funding"], {}, {})

    assert [d["name"] for d in report["dependencies"]] == [
        "gateway_database",
        "rabbitmq",
        "registry",
        "funding",
    ]
    assert report["dependencies"][3]["outbox"]["oldest_pending_age_seconds"] == 4.5
    assert report["status"] == "ok" and report["checked_at"] == T0.isoformat()


def test_the_status_adds_up_parked_messages_and_names_a_service_that_did_not_answer():
    answers: dict[str, Any] = {
        "registry": {"queues": []},
        "funding": {"queues": [{"queue": QUEUE, "parked": 3}, {"queue": "evt-b", "parked": 0}]},
        "projects": RemoteFailure("unavailable", "DATABASE_UNAVAILABLE", "down", {}),
        "volunteers": ServiceTimeout("volunteers", 3),
    }
    services = ["registry", "funding", "projects", "volunteers"]

    dead = ops.status_report(HEALTH, services, answers, {})["dead_letters"]

    assert dead["total"] == 3
    assert dead["queues"] == [
        {"service": "funding", "queue": QUEUE, "parked": 3},
        {"service": "funding", "queue": "evt-b", "parked": 0},
    ]
    assert dead["unavailable"] == [
        {"service": "projects", "error": "DATABASE_UNAVAILABLE"},
        {"service": "volunteers", "error": "SERVICE_TIMEOUT"},
    ]


@pytest.mark.parametrize(
    "config, expected",
    [
        ({}, {"grafana": None, "prometheus": None}),
        ({"GRAFANA_URL": "", "PROMETHEUS_URL": "  "}, {"grafana": None, "prometheus": None}),
        (
            {
                "GRAFANA_URL": "https://grafana.example.org/d/jinguo",
                "PROMETHEUS_URL": "http://p:9090",
            },
            {"grafana": "https://grafana.example.org/d/jinguo", "prometheus": "http://p:9090"},
        ),
        ({"GRAFANA_URL": "javascript:alert(1)"}, {"grafana": None, "prometheus": None}),
    ],
)
def test_links_are_shown_only_when_configured_with_a_web_address(config, expected):
    assert ops.links(config) == expected


class FakeAudit:
    """``ReplayAudit``'s methods over a dict: same answers, no database."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def start(self, actor: Actor, request: ops.ReplayRequest, now: datetime) -> str:
        replay_id = f"r{len(self.rows) + 1}"
        self.rows[replay_id] = {
            "id": replay_id,
            "service": request.service,
            "queue": request.queue,
            "reason": request.reason,
            "requested": request.requested,
            "replayed": None,
            "outcome": "started",
            "error": None,
            "actor_id": actor.user_id,
            "actor_username": actor.username,
            "requested_at": now,
            "finished_at": None,
        }
        return replay_id

    def finish(self, replay_id: str, now: datetime, *, outcome: str, replayed=None, error=None):
        self.rows[replay_id].update(
            outcome=outcome, replayed=replayed, error=error, finished_at=now
        )

    def get(self, replay_id: str) -> dict[str, Any]:
        return dict(self.rows[replay_id])


class FakeService:
    """A service's ops RPCs: its queues with their counts, and what a replay does."""

    def __init__(self, parked: dict[str, int], replay: Any = None) -> None:
        self.parked = parked
        self.replay = replay
        self.calls: list[tuple[str, tuple]] = []

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, args))
        if method == "dead_letters":
            return {"queues": [{"queue": q, "parked": n} for q, n in self.parked.items()]}
        if isinstance(self.replay, BaseException):
            raise self.replay
        payload = args[0]
        moved = min(self.parked[payload["queue"]], payload["limit"] or 10**9)
        self.parked[payload["queue"]] -= moved
        return {"queue": payload["queue"], "replayed": moved}


def clock():
    ticks = iter(T0 + timedelta(seconds=n) for n in range(100))
    return lambda: next(ticks)


def request(queue: str = QUEUE, requested: int | None = 2) -> ops.ReplayRequest:
    return ops.ReplayRequest("funding", queue, "资金来源已补录，重新处理", requested)


def test_a_replay_is_recorded_with_who_when_the_queue_the_reason_and_how_many_went_back():
    audit, service = FakeAudit(), FakeService({QUEUE: 3})

    row = ops.replay_audited(audit, service, OPS, request(requested=2), clock())

    assert row == {
        "id": "r1",
        "service": "funding",
        "queue": QUEUE,
        "reason": "资金来源已补录，重新处理",
        "requested": 2,
        "replayed": 2,
        "outcome": "done",
        "error": None,
        "actor_id": "u-ops",
        "actor_username": "zhao.yunwei",
        "requested_at": T0,
        "finished_at": T0 + timedelta(seconds=1),
    }
    assert service.calls[1] == (
        "replay_dead_letters",
        ({"queue": QUEUE, "limit": 2}, OPS.to_dict()),
    )
    assert service.parked[QUEUE] == 1


def test_an_unknown_queue_is_a_422_on_queue_and_nothing_is_recorded():
    audit, service = FakeAudit(), FakeService({QUEUE: 3})

    with pytest.raises(ValidationFailed) as refused:
        ops.replay_audited(audit, service, OPS, request(queue="evt-nowhere"), clock())

    assert refused.value.status == 422
    assert refused.value.details["field"] == "queue" and refused.value.details["rule"] == "one_of"
    assert audit.rows == {} and [c[0] for c in service.calls] == ["dead_letters"]


def test_a_replay_with_nothing_parked_says_so_and_moves_nothing():
    audit, service = FakeAudit(), FakeService({QUEUE: 0})

    with pytest.raises(HttpError) as refused:
        ops.replay_audited(audit, service, OPS, request(), clock())

    assert (refused.value.status, refused.value.code) == (409, "NOTHING_PARKED")
    assert refused.value.details == {"service": "funding", "queue": QUEUE, "parked": 0}
    assert audit.rows == {}


def test_a_refused_replay_stays_recorded_as_failed_with_the_services_code():
    failure = RemoteFailure("conflict", "NOTHING_PARKED", "nothing is parked", {})
    audit, service = FakeAudit(), FakeService({QUEUE: 1}, replay=failure)

    with pytest.raises(RemoteFailure):
        ops.replay_audited(audit, service, OPS, request(), clock())

    (row,) = audit.rows.values()
    assert (row["outcome"], row["error"], row["replayed"]) == ("failed", "NOTHING_PARKED", None)


def test_a_replay_without_an_answer_in_time_is_recorded_as_unknown_not_failed():
    audit, service = FakeAudit(), FakeService({QUEUE: 1}, replay=ServiceTimeout("funding", 10))

    with pytest.raises(ServiceTimeout):
        ops.replay_audited(audit, service, OPS, request(), clock())

    (row,) = audit.rows.values()
    assert (row["outcome"], row["error"]) == ("unknown", "SERVICE_TIMEOUT")


# --- the services' side (kit) ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["ops", "admin"])
def test_ops_and_admins_may_handle_dead_letters(role):
    ops_only({"user_id": "u", "username": "u", "role": role})


@pytest.mark.parametrize("actor", [{"role": "finance_officer"}, {"role": "team_leader"}, None, {}])
def test_any_other_actor_is_refused_by_the_service_too(actor):
    with pytest.raises(Forbidden) as refused:
        ops_only(actor)
    assert refused.value.code == "ROLE_NOT_ALLOWED"


def test_the_desk_refuses_a_queue_that_is_not_the_services_before_touching_the_broker():
    desk = Desk("amqp://nobody@192.0.2.1:1/", [QUEUE])
    for method in (desk.look, desk.replay):
        with pytest.raises(InvalidInput) as refused:
            method("evt-registry-organization_registered--projects.on_registered")
        assert refused.value.details["field"] == "queue"
        assert refused.value.details["rule"] == "one_of"


@pytest.mark.parametrize(
    "limit, rule", [(0, "range"), (51, "range"), ("5", "number"), (True, "number")]
)
def test_the_desk_refuses_a_look_limit_out_of_range(limit, rule):
    with pytest.raises(InvalidInput) as refused:
        Desk("amqp://nobody@192.0.2.1:1/", [QUEUE]).look(QUEUE, limit)
    assert refused.value.details["field"] == "limit" and refused.value.details["rule"] == rule


def test_a_desk_with_no_event_queues_counts_nothing_without_the_broker():
    assert Desk("amqp://nobody@192.0.2.1:1/", []).counts() == []


GATEWAY_QUEUE = "evt-projects-milestone_due--gateway.notify_milestone_due"


def test_the_gateways_own_queues_come_first_in_the_dead_letters_and_its_silence_is_named():
    answers: dict[str, Any] = {
        ops.GATEWAY: {"queues": [{"queue": GATEWAY_QUEUE, "parked": 2}]},
        "funding": {"queues": [{"queue": QUEUE, "parked": 1}]},
    }
    dead = ops.status_report(HEALTH, ["funding"], answers, {})["dead_letters"]
    assert dead["total"] == 3
    assert [q["service"] for q in dead["queues"]] == ["gateway", "funding"]
    silent = {**answers, ops.GATEWAY: RuntimeError("broker away")}
    dead = ops.status_report(HEALTH, ["funding"], silent, {})["dead_letters"]
    assert dead["unavailable"] == [{"service": "gateway", "error": "RuntimeError"}]
    health = {**HEALTH, "dependencies": {**HEALTH["dependencies"], "gateway_consumers": {}}}
    names = [d["name"] for d in ops.status_report(health, ["registry"], {}, {})["dependencies"]]
    assert names[:3] == ["gateway_database", "rabbitmq", "gateway_consumers"]


class _Desk:
    def __init__(self) -> None:
        self.asked: list[tuple[str, Any, Any]] = []

    def counts(self) -> list[dict[str, Any]]:
        return [{"queue": GATEWAY_QUEUE, "parked": 1}]

    def look(self, queue: Any, limit: Any = None) -> dict[str, Any]:
        self.asked.append(("look", queue, limit))
        return {"queue": queue, "parked": 1, "messages": []}

    def replay(self, queue: Any, limit: Any = None) -> dict[str, Any]:
        self.asked.append(("replay", queue, limit))
        return {"queue": queue, "replayed": 1}


def test_the_gateways_queues_answer_as_a_services_ops_calls_and_say_whether_consumed():
    desk = _Desk()
    own = ops.OwnQueues((GATEWAY_QUEUE,), True, desk)  # type: ignore[arg-type]
    assert own.call("dead_letters", {"role": "ops"}, timeout=3) == {
        "queues": [{"queue": GATEWAY_QUEUE, "parked": 1}]
    }
    own.call("peek_dead_letters", {"queue": GATEWAY_QUEUE, "limit": 5}, {"role": "ops"})
    own.call("replay_dead_letters", {"queue": GATEWAY_QUEUE, "limit": None}, {"role": "ops"})
    assert desk.asked == [("look", GATEWAY_QUEUE, 5), ("replay", GATEWAY_QUEUE, None)]
    with pytest.raises(ValueError, match="not an ops call"):
        own.call("health")
    assert own.health() == {"status": "ok", "consumers": "ready"}
    starting = ops.OwnQueues((GATEWAY_QUEUE,), False, desk)  # type: ignore[arg-type]
    assert starting.health() == {"status": "starting", "consumers": "starting"}
