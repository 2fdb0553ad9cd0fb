"""Registry events for tests of services that keep a directory: publish what the registry
would, straight onto ``registry.events``, with the same bodies the catalogue demands."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from tests.support.events import publish_event


@dataclass
class FakeRegistry:
    amqp_uri: str
    versions: dict[str, int] = field(default_factory=dict)

    def _publish(self, event_type: str, data: dict) -> dict:
        return publish_event(self.amqp_uri, "registry", event_type, data)

    def register(self, kind: str, name: str, parent_id: str | None = None, **extra) -> str:
        organization_id = str(uuid.uuid4())
        self.versions[organization_id] = 1
        self._publish(
            "organization_registered",
            {
                "organization_id": organization_id,
                "kind": kind,
                "version": 1,
                "status": "registered",
                "name": name,
                "parent_id": parent_id,
                "level": extra.get("level"),
                "sector": extra.get("sector"),
                "uscc": extra.get("uscc"),
            },
        )
        return organization_id

    def change(
        self,
        organization_id: str,
        kind: str,
        status: str,
        reason: str | None = None,
        actor_id: str | None = None,
    ) -> None:
        self.versions[organization_id] += 1
        event_type = {
            "verified": "organization_verified",
            "suspended": "organization_suspended",
            "reinstated": "organization_reinstated",
            "deregistered": "organization_deregistered",
        }[status]
        self._publish(
            event_type,
            {
                "organization_id": organization_id,
                "kind": kind,
                "version": self.versions[organization_id],
                "status": status,
                "reason": reason,
                "actor_id": actor_id,
            },
        )
