"""An organization's statuses, the transitions between them, and the record each one leaves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

STATUSES = ("registered", "verified", "suspended", "reinstated", "deregistered")
#: statuses in which an organization is in good standing (counts for coverage, can be a parent)
ACTIVE_STATUSES = ("registered", "verified", "reinstated")


@dataclass(frozen=True)
class Transition:
    allowed_from: tuple[str, ...]
    to: str
    event: str
    reason_required: bool


TRANSITIONS: dict[str, Transition] = {
    "verify": Transition(("registered",), "verified", "organization_verified", False),
    "suspend": Transition(("verified", "reinstated"), "suspended", "organization_suspended", True),
    "reinstate": Transition(("suspended",), "reinstated", "organization_reinstated", False),
    "deregister": Transition(
        ("registered", "verified", "suspended", "reinstated"),
        "deregistered",
        "organization_deregistered",
        True,
    ),
}


class StatusChange:
    """One transition of an organization's status: who, when, why. Never edited."""

    def __init__(
        self,
        *,
        organization_id: str,
        action: str,
        from_status: str | None,
        to_status: str,
        reason: str | None,
        actor_id: str,
        actor_name: str,
        at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.organization_id = organization_id
        self.action = action
        self.from_status = from_status
        self.to_status = to_status
        self.reason = reason
        self.actor_id = actor_id
        self.actor_name = actor_name
        self.at = at
