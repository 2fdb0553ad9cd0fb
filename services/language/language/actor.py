"""Who is acting: the person behind a request, as the gateway vouches for them.

Plain Python. Every RPC that changes or reads protected data takes an ``actor`` mapping;
services check object-level rules against it (the gateway has already checked the role).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.errors import InvalidInput

#: ``volunteer``: a volunteer with an account, who sees only her own record, hours and certificates;
#: ``auditor``: the audit administrator (三员分立), who reads the audit trail of her federation's
#: subtree and nothing else
ROLES = (
    "admin",
    "federation_staff",
    "contractor",
    "finance_officer",
    "ops",
    "team_leader",
    "volunteer",
    "auditor",
)


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    role: str
    organization_id: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Actor:
        if not isinstance(data, dict):
            raise InvalidInput("every call names its actor", field="actor", rule="required")
        try:
            actor = cls(
                user_id=str(data["user_id"]),
                username=str(data["username"]),
                role=str(data["role"]),
                organization_id=str(data["organization_id"])
                if data.get("organization_id")
                else None,
            )
        except KeyError as exc:
            raise InvalidInput(
                f"actor lacks {exc.args[0]}", field=f"actor.{exc.args[0]}", rule="required"
            ) from None
        if actor.role not in ROLES:
            raise InvalidInput(f"unknown role {actor.role!r}", field="actor.role", rule="one_of")
        return actor

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "role": self.role,
            "organization_id": self.organization_id,
        }

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


SYSTEM = Actor(user_id="00000000-0000-0000-0000-000000000000", username="system", role="admin")
