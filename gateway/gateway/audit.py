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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kit import audit as trail
from kit.audit import AuditEntry
from kit.clock import utcnow
from kit.db import DatabaseResource
from language.actor import Actor

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
