"""The ops pages: system status, the dead letters of each service's event queues, a look at
the parked messages, and their replay, audited (``gateway.ops``)."""

from __future__ import annotations

from typing import Any

import eventlet
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from gateway import ops
from gateway.errors import ValidationFailed
from gateway.http import Call, api
from gateway.routes.operations import _services
from gateway.schemas import DependencyHealth, PageQuery
from kit.deadletters import PEEK_LIMIT, REPLAY_LIMIT
from kit.fields import Text
from kit.paging import page_request, page_schema

#: who runs the platform: ops, and admins
OPS = ("ops", "admin")
QUEUE = fields.String(
    required=True,
    validate=validate.Length(min=1, max=255),
    metadata={"description": "an event queue of the service (as `GET /ops/status` lists them)"},
)
SERVICE = fields.String(
    required=True,
    validate=validate.Length(min=1, max=32),
    metadata={
        "description": "registry, projects, funding or volunteers, or gateway (its own "
        "queues: the notifications')",
        "example": "funding",
    },
)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class PeekQuery(Strict):
    service = SERVICE
    queue = QUEUE
    limit = fields.Integer(
        validate=validate.Range(min=1, max=PEEK_LIMIT),
        metadata={
            "description": f"how many parked messages to show (default 20, at most {PEEK_LIMIT})"
        },
    )


class ReplayCreate(Strict):
    service = SERVICE
    queue = QUEUE
    reason = Text(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "why the messages may go back now (the cause that was fixed)"},
    )
    limit = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=REPLAY_LIMIT),
        metadata={
            "description": "at most this many messages (the count the person confirmed); "
            "none: every parked message"
        },
    )


class OpsDependency(DependencyHealth):
    name = fields.String(
        metadata={
            "description": "gateway_database, rabbitmq, gateway_consumers (its own event "
            "queues consumed), or a service",
            "example": "funding",
        }
    )


class ParkedQueue(Schema):
    service = fields.String()
    queue = fields.String()
    parked = fields.Integer(metadata={"description": "messages parked in `<queue>.dead`"})


class UnansweredService(Schema):
    service = fields.String()
    error = fields.String(metadata={"description": "why its dead letters could not be counted"})


class DeadLetterSummary(Schema):
    total = fields.Integer()
    queues = fields.List(fields.Nested(ParkedQueue))
    unavailable = fields.List(fields.Nested(UnansweredService))


class OpsLinks(Schema):
    grafana = fields.String(allow_none=True, metadata={"description": "GRAFANA_URL, if set"})
    prometheus = fields.String(allow_none=True, metadata={"description": "PROMETHEUS_URL, if set"})


class OpsStatusOut(Schema):
    status = fields.String(metadata={"description": "ok when every dependency is ok"})
    checked_at = fields.DateTime(metadata={"description": "when the health part was checked"})
    dependencies = fields.List(fields.Nested(OpsDependency))
    dead_letters = fields.Nested(DeadLetterSummary)
    links = fields.Nested(OpsLinks)


class ParkedMessage(Schema):
    queue = fields.String()
    message_id = fields.String(allow_none=True)
    event_type = fields.String(allow_none=True)
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "delivery_limit (failed again and again), rejected (retries ran "
            "out), expired"
        },
    )
    deaths = fields.Integer(allow_none=True)
    parked_at = fields.String(allow_none=True, metadata={"description": "ISO-8601, UTC"})
    body = fields.String(metadata={"description": "the event's body, its first 500 characters"})


class ParkedMessagesOut(Schema):
    service = fields.String()
    queue = fields.String()
    parked = fields.Integer()
    messages = fields.List(fields.Nested(ParkedMessage))


class ReplayOut(Schema):
    id = fields.String()
    service = fields.String()
    queue = fields.String()
    reason = fields.String()
    requested = fields.Integer(allow_none=True)
    replayed = fields.Integer(allow_none=True)
    outcome = fields.String(
        metadata={"description": "started, done, failed, or unknown (no answer in time)"}
    )
    error = fields.String(allow_none=True)
    actor_id = fields.String()
    actor_username = fields.String()
    requested_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)


ReplayPage = page_schema(ReplayOut)
REPLAY = ReplayOut()


def _load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(schema.load(data))
    except ValidationError as exc:
        raise ValidationFailed(
            "the request does not match the schema", fields=exc.messages
        ) from None


class OpsRoutes:
    def _ops_client(self, service: str) -> Any:
        """The RPC client of a service the gateway knows, or the gateway's own queues (422 on
        ``service`` otherwise)."""
        if service == ops.GATEWAY:
            return self.own_queues
        if service not in _services(self.config) or getattr(self, service, None) is None:
            raise ValidationFailed(
                "not one of the platform's services", field="service", rule="one_of"
            )
        return getattr(self, service)

    @api(
        "GET",
        "/ops/status",
        summary="System status: dependencies, outbox backlogs, dead letters",
        tag="Operations",
        roles=OPS,
        response=OpsStatusOut,
    )
    def ops_status(self, call: Call) -> Any:
        """Each dependency's health (as `GET /health`, kept a few seconds), each service's
        outbox backlog and the age of its oldest pending event, the messages parked behind
        each event queue (counted now), and the Grafana and Prometheus links when configured."""
        _, health = self.health_cache.get(self._check_health)
        services = _services(self.config)
        owners = [ops.GATEWAY, *services]
        actor = call.actor.to_dict()

        def count(name: str) -> Any:
            try:
                return self._ops_client(name).call("dead_letters", actor, timeout=3)
            except Exception as exc:  # noqa: BLE001 - shown as that service's error
                return exc

        pool = eventlet.GreenPool(len(owners))
        answers = dict(zip(owners, pool.imap(count, owners), strict=True))
        return ops.status_report(health, services, answers, self.config)

    @api(
        "GET",
        "/ops/dead-letters",
        summary="Look at the messages parked behind an event queue",
        tag="Operations",
        roles=OPS,
        query=PeekQuery,
        response=ParkedMessagesOut,
    )
    def peek_dead_letters(self, call: Call) -> Any:
        """The first parked messages, oldest first, left where they are (as `jinguo-dlq show`)."""
        query = _load(PeekQuery(), call.query)
        client = self._ops_client(query["service"])
        found = client.call(
            "peek_dead_letters",
            {"queue": query["queue"], "limit": query.get("limit")},
            call.actor.to_dict(),
        )
        return {"service": query["service"], **found}

    @api(
        "POST",
        "/ops/replays",
        summary="Replay the messages parked behind an event queue",
        tag="Operations",
        roles=OPS,
        body=ReplayCreate,
        response=ReplayOut,
        status=201,
        idempotent=True,
        validate_body=True,
        statuses={
            409: "Nothing is parked in this queue (NOTHING_PARKED)",
        },
    )
    def replay_dead_letters(self, call: Call) -> Any:
        """As `jinguo-dlq replay`: the parked messages go back onto their queue and are handled
        again (consumers are idempotent: one already applied changes nothing). Recorded with
        who, when, the queue, the reason and how many went back (`GET /ops/replays`)."""
        body = call.body or {}
        request = ops.ReplayRequest(
            service=body["service"],
            queue=body["queue"],
            reason=body["reason"],
            requested=body.get("limit"),
        )
        client = self._ops_client(request.service)
        replay = ops.replay_audited(ops.ReplayAudit(self.db), client, call.actor, request)
        return 201, REPLAY.dump(replay)

    @api(
        "GET",
        "/ops/replays",
        summary="The record of dead-letter replays",
        tag="Operations",
        roles=OPS,
        query=PageQuery,
        response=ReplayPage,
    )
    def list_replays(self, call: Call) -> Any:
        """Newest first: who replayed which queue, when, why, and how many messages went back."""
        query = _load(PageQuery(), call.query)
        request = page_request(query.get("limit"), query.get("cursor"), arity=2)
        return ReplayPage().dump(ops.ReplayAudit(self.db).list(request))
