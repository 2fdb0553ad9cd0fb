"""The gateway's own audit log: logins, lockouts, passwords, users and roles, refused requests.

One chained record per act (``kit.audit``) in the gateway's database, written in the same
transaction as the act where there is one (a user's change, a login's throttling counters);
a request refused with 401 or 403 has no act of its own, so its record is a transaction of
its own. No password or token is ever written: a login records the username tried.

Who may read a record (the auditor of a federation's subtree) follows its ``scope_path``: the
materialised path of the organization the act concerns (the user's, or the user changed) as
the registry last told it when the user was created or moved; acts of users without an
organization (admins, ops, anybody not signed in) are platform-wide (None).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from kit import audit as trail
from kit.anchoring import DEFAULT_ANCHOR_INTERVAL, DEFAULT_PRUNE_INTERVAL, take_lease
from kit.audit import AuditEntry
from kit.clock import utcnow
from kit.db import DatabaseResource
from language.actor import Actor

log = logging.getLogger(__name__)

#: the name of this log among the five
LOG = "gateway"


@dataclass(frozen=True)
class Origin:
    """Where a request came from."""

    client_address: str
    request_id: str = ""

    @classmethod
    def of(cls, address: str | Origin) -> Origin:
        return address if isinstance(address, Origin) else cls(address)

    def as_request(self) -> dict[str, str]:
        return {"client_address": self.client_address, "request_id": self.request_id}


def who(
    actor: Actor | None,
    origin: Origin,
    *,
    username: str | None = None,
) -> dict[str, Any]:
    """The actor mapping of a record: the signed-in person (or, at a login, the user whose
    name was tried, or nobody but that name) and where the request came from."""
    mapping: dict[str, Any] = {
        "user_id": actor.user_id if actor else None,
        "username": actor.username if actor else username,
        "role": actor.role if actor else None,
        "organization_id": actor.organization_id if actor else None,
    }
    mapping["request"] = origin.as_request()
    return mapping


def who_acts(actor: Actor | None) -> dict[str, Any]:
    """The mapping of a signed-in request's actor (``RequestActor`` carries its origin)."""
    if actor is None:
        return who(None, Origin("unknown"))
    return actor.to_dict() if "request" in actor.to_dict() else who(actor, Origin("unknown"))


def changes_of(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """What changed, field by field (fields equal on both sides are left out)."""
    return tuple(
        {"field": name, "before": before.get(name), "after": after.get(name)}
        for name in after
        if before.get(name) != after.get(name)
    )


def write(
    connection: Any, actor: Mapping[str, Any], entry: AuditEntry, at: datetime | None = None
) -> None:
    """One record in the caller's transaction."""
    trail.append(connection, actor, entry, at or utcnow())


def write_alone(
    resource: DatabaseResource,
    actor: Mapping[str, Any],
    entries: Iterable[AuditEntry],
    at: datetime | None = None,
) -> None:
    """Records of an act that has no transaction of its own (a refused request)."""
    with resource.begin() as connection:
        for entry in entries:
            write(connection, actor, entry, at)


def refusal(method: str, path: str, status: int, code: str, actor: Actor | None) -> AuditEntry:
    """A request refused with 401 or 403: what was asked, and why not."""
    return AuditEntry(
        action="request_refused",
        object_type="request",
        object_id=f"{method} {path}",
        outcome="denied",
        changes=(
            {"field": "status", "before": None, "after": status},
            {"field": "reason", "before": None, "after": code},
        ),
        scope_path=None,
    )


def personal_export(
    what: str, file_name: str, filters: Mapping[str, Any], scope_path: str | None
) -> AuditEntry:
    """An export of personal data (a file of volunteers' names): what, which file, with
    which filters — never its content."""
    changes = [{"field": "file", "before": None, "after": file_name}]
    changes += [
        {"field": name, "before": None, "after": value}
        for name, value in sorted(filters.items())
        if value not in (None, "")
    ]
    return AuditEntry(
        action="export_personal_data",
        object_type=what,
        object_id=None,
        changes=tuple(changes),
        scope_path=scope_path,
    )


# --- keeping the log: anchored in the projects service's chain, pruned ---------------------
#
# The services anchor each other's heads through the event ``audit_anchor``; the gateway
# publishes no events the services hear (the broker lets it publish RPC requests only), but it
# already calls every service: its keeper sends its head by RPC to the projects service, which
# writes it into its own chain (``kit.anchoring.GatewayAnchors``), and ``jinguo-audit verify``
# checks that anchor like the others. One replica at a time (lease ``gateway.audit``).

#: the service whose chain keeps the gateway's anchors
ANCHORED_IN = "projects"


@dataclass
class KeeperState:
    """What one gateway process remembers between its keeper's rounds."""

    holder: str = field(default_factory=lambda: str(uuid.uuid4()))
    last_anchor: tuple[int, str] | None = None
    last_prune: datetime | None = None


@dataclass(frozen=True)
class KeeperOptions:
    anchor_interval: float = DEFAULT_ANCHOR_INTERVAL
    prune_interval: float = DEFAULT_PRUNE_INTERVAL
    retention_days: int = trail.DEFAULT_RETENTION_DAYS

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> KeeperOptions:
        options = dict(config.get("AUDIT") or {})
        return cls(
            float(options.get("anchor_interval") or DEFAULT_ANCHOR_INTERVAL),
            float(options.get("prune_interval") or DEFAULT_PRUNE_INTERVAL),
            int(options.get("retention_days") or trail.DEFAULT_RETENTION_DAYS),
        )


def keep_log(
    resource: DatabaseResource,
    state: KeeperState,
    send: Callable[[dict[str, Any]], Any],
    *,
    now: datetime,
    options: KeeperOptions,
    key: Callable[[], bytes],
) -> tuple[int, str] | None:
    """One round: holding the lease, send the log's head when it moved (``send({seq,
    hash})``), then prune when due. Returns the head sent (None: nothing sent)."""
    if not take_lease(resource, f"{LOG}.audit", state.holder, options.anchor_interval * 0.9, now):
        return None
    with resource.begin(write=False) as connection:
        current = trail.head(connection)
    sent = None
    if current != state.last_anchor:
        send({"seq": current[0], "hash": current[1]})
        state.last_anchor = sent = current
    due = state.last_prune is None or now - state.last_prune >= timedelta(
        seconds=options.prune_interval
    )
    if due:
        state.last_prune = now
        with resource.begin() as connection:
            pruned = trail.prune(
                connection, now=now, key=key(), retention_days=options.retention_days
            )
        if pruned:
            log.info("gateway: pruned the audit log up to record %s", pruned["seq"])
    return sent


class AuditKeeperState(DependencyProvider):
    """``audit_keeper = AuditKeeperState()``: the keeper's memory in this process."""

    def setup(self) -> None:
        self.state = KeeperState()

    def get_dependency(self, worker_ctx: Any) -> KeeperState:
        return self.state


class AuditTimer(Timer):
    """A timer whose interval is the config's ``AUDIT.anchor_interval``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(DEFAULT_ANCHOR_INTERVAL, **kwargs)

    def setup(self) -> None:
        self.interval = KeeperOptions.of(self.container.config).anchor_interval


audit_timer = AuditTimer.decorator
