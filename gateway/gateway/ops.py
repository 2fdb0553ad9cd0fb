"""The ops pages' logic: the system status as one report, and the replay of dead letters with
its audit.

The status puts together what the gateway already knows of each dependency (the ``/health``
report: databases, the broker, each service with its outbox backlog) and what each service
says is parked behind its event queues. A replay is ``jinguo-dlq replay`` for one queue, run
by the service that owns it (``kit.deadletters.Desk`` over RPC: only the service may read its
``.dead`` queues); the gateway records who asked, when, for which queue, why and how many
messages went back, in ``dead_letter_replays``. The row is written before the replay starts
and completed after, so no replay goes unrecorded, even one whose answer never came.

The gateway consumes events too (the notifications' queues, ``gateway.routes.notices``), so
it is one more owner of event queues here: ``OwnQueues`` answers for them in the gateway's
own process as a service answers over RPC (the gateway's broker user may read its own
``.dead`` queues and write its ``gateway.retry.back`` exchange), and its health says whether
they are consumed (``gateway_consumers``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider

from gateway.errors import HttpError, ServiceTimeout, ValidationFailed
from gateway.models import dead_letter_replays
from kit.clock import utcnow
from kit.consumer import BatchEventHandler
from kit.db import DatabaseResource
from kit.deadletters import Desk
from kit.health import consuming
from kit.paging import PageRequest, page
from kit.retry import return_exchange_name
from language.actor import Actor

#: the dependencies the gateway itself checks, shown before the services
OWN_DEPENDENCIES = ("gateway_database", "rabbitmq", "gateway_consumers")
#: the gateway as the owner of event queues on the ops pages (next to the services)
GATEWAY = "gateway"


@dataclass(frozen=True)
class OwnQueues:
    """The gateway's own event queues: whether they are consumed, and their dead letters
    answered as a service's ops RPCs are (``call``), so the ops pages treat them alike."""

    queues: tuple[str, ...]
    ready: bool
    desk: Desk

    def health(self) -> dict[str, Any]:
        """For ``/health``: ok once every queue of the gateway's consumers is consumed."""
        return {
            "status": "ok" if self.ready else "starting",
            "consumers": "ready" if self.ready else "starting",
        }

    def call(self, method: str, *args: Any, timeout: float | None = None) -> dict[str, Any]:
        """``dead_letters`` / ``peek_dead_letters`` / ``replay_dead_letters``, the services'
        ops RPCs (the route checked the role; the errors are the Desk's, as a service's)."""
        if method == "dead_letters":
            return {"queues": self.desk.counts()}
        payload = args[0] if args else {}
        if method == "peek_dead_letters":
            return self.desk.look(payload.get("queue"), payload.get("limit"))
        if method == "replay_dead_letters":
            return self.desk.replay(payload.get("queue"), payload.get("limit"))
        raise ValueError(f"not an ops call: {method}")


class OwnQueuesProvider(DependencyProvider):
    """``self.own_queues`` in a worker: ``OwnQueues`` of this container's event handlers."""

    def get_dependency(self, worker_ctx: Any) -> OwnQueues:
        container = self.container
        queues = tuple(
            sorted(
                entrypoint.queue.name
                for entrypoint in container.entrypoints
                if isinstance(entrypoint, BatchEventHandler)
            )
        )
        desk = Desk(
            container.config["AMQP_URI"],
            list(queues),
            exchange=return_exchange_name(container.service_name),
        )
        return OwnQueues(queues, consuming(container), desk)


@dataclass(frozen=True)
class ReplayRequest:
    service: str
    queue: str
    reason: str
    #: at most this many messages (what the person saw and confirmed); None: all parked
    requested: int | None = None


def links(config: dict[str, Any]) -> dict[str, str | None]:
    """Grafana's and Prometheus's addresses from configuration; None when not set (or not an
    http(s) address: a link the console shows must not run script)."""

    def address(key: str) -> str | None:
        value = str(config.get(key) or "").strip()
        return value if value.startswith(("http://", "https://")) else None

    return {"grafana": address("GRAFANA_URL"), "prometheus": address("PROMETHEUS_URL")}


def status_report(
    health: dict[str, Any],
    services: list[str],
    dead_letters: dict[str, dict[str, Any] | BaseException],
    config: dict[str, Any],
) -> dict[str, Any]:
    """One report for the status page: ``health`` (the ``/health`` body) as a list in a fixed
    order, every queue with parked messages per service and the gateway's own (``GATEWAY``
    in ``dead_letters``; one that did not answer is named with why), the links."""
    found = health.get("dependencies") or {}
    order = [*OWN_DEPENDENCIES, *services]
    order += sorted(name for name in found if name not in order)
    dependencies = [{"name": name, **found[name]} for name in order if name in found]
    queues: list[dict[str, Any]] = []
    unavailable: list[dict[str, Any]] = []
    # the gateway's own queues first when it answered for them, then each service's
    owners = [GATEWAY, *services] if GATEWAY in dead_letters else services
    for service in owners:
        answer = dead_letters.get(service)
        if isinstance(answer, BaseException) or answer is None:
            unavailable.append({"service": service, "error": _code_of(answer)})
            continue
        queues += [{"service": service, **queue} for queue in answer.get("queues", [])]
    return {
        "status": health.get("status", "degraded"),
        "checked_at": health.get("checked_at"),
        "dependencies": dependencies,
        "dead_letters": {
            "total": sum(queue["parked"] for queue in queues),
            "queues": queues,
            "unavailable": unavailable,
        },
        "links": links(config),
    }


def _code_of(exc: BaseException | None) -> str:
    if exc is None:
        return "NO_ANSWER"
    return str(getattr(exc, "code", None) or type(exc).__name__)


def parked_in(counts: dict[str, Any], queue: str) -> int:
    """How many messages the service says are parked behind ``queue`` (422 on ``queue`` when
    it is not one of that service's event queues)."""
    for known in counts.get("queues", []):
        if known["queue"] == queue:
            return int(known["parked"])
    raise ValidationFailed(
        "not an event queue of this service", field="queue", rule="one_of", queue=queue
    )


def nothing_parked(service: str, queue: str) -> HttpError:
    return HttpError(
        "nothing is parked in this queue: there is nothing to replay",
        code="NOTHING_PARKED",
        status=409,
        service=service,
        queue=queue,
        parked=0,
    )


class ReplayAudit:
    """``dead_letter_replays``: one row per replay asked for, newest first."""

    def __init__(self, resource: DatabaseResource) -> None:
        self.resource = resource

    def start(self, actor: Actor, request: ReplayRequest, now: datetime) -> str:
        replay_id = str(uuid.uuid4())
        with self.resource.begin() as connection:
            connection.execute(
                sa.insert(dead_letter_replays).values(
                    id=replay_id,
                    service=request.service,
                    queue=request.queue,
                    reason=request.reason,
                    requested=request.requested,
                    outcome="started",
                    actor_id=actor.user_id,
                    actor_username=actor.username,
                    requested_at=now,
                )
            )
        return replay_id

    def finish(
        self,
        replay_id: str,
        now: datetime,
        *,
        outcome: str,
        replayed: int | None = None,
        error: str | None = None,
    ) -> None:
        with self.resource.begin() as connection:
            connection.execute(
                sa.update(dead_letter_replays)
                .where(dead_letter_replays.c.id == replay_id)
                .values(outcome=outcome, replayed=replayed, error=error, finished_at=now)
            )

    def get(self, replay_id: str) -> dict[str, Any]:
        with self.resource.begin(write=False) as connection:
            row = connection.execute(
                sa.select(dead_letter_replays).where(dead_letter_replays.c.id == replay_id)
            ).one()
        return dict(row._mapping)

    def list(self, request: PageRequest) -> dict[str, Any]:
        """Newest first (ties by id), with the total."""
        table = dead_letter_replays
        query = (
            sa.select(table)
            .order_by(table.c.requested_at.desc(), table.c.id.desc())
            .limit(request.limit + 1)
        )
        if request.after:
            at, replay_id = datetime.fromisoformat(request.after[0]), request.after[1]
            query = query.where(
                sa.or_(
                    table.c.requested_at < at,
                    sa.and_(table.c.requested_at == at, table.c.id < replay_id),
                )
            )
        with self.resource.begin(write=False) as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
            total = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        return page(
            rows,
            request,
            key_of=lambda row: (row["requested_at"].isoformat(), row["id"]),
            total=int(total),
        )


def replay_audited(
    audit: ReplayAudit,
    client: Any,
    actor: Actor,
    request: ReplayRequest,
    clock: Callable[[], datetime] = utcnow,
) -> dict[str, Any]:
    """Check the queue is the service's and something is parked (neither is recorded: nothing
    was moved), record the replay, have the service move the messages, record how many."""
    counts = client.call("dead_letters", actor.to_dict())
    if parked_in(counts, request.queue) == 0:
        raise nothing_parked(request.service, request.queue)
    replay_id = audit.start(actor, request, clock())
    try:
        answer = client.call(
            "replay_dead_letters",
            {"queue": request.queue, "limit": request.requested},
            actor.to_dict(),
        )
    except ServiceTimeout:
        # the service may have moved them after all: the count is not known
        audit.finish(replay_id, clock(), outcome="unknown", error=ServiceTimeout.code)
        raise
    except Exception as exc:
        audit.finish(replay_id, clock(), outcome="failed", error=_code_of(exc)[:64])
        raise
    audit.finish(replay_id, clock(), outcome="done", replayed=int(answer["replayed"]))
    return audit.get(replay_id)
