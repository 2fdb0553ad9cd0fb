"""An in-memory ``gateway.notices.NoticeStore``: users as (id, role, organization, email,
disabled), and what was added."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.notices import Audience, Delivery, Notice, Recipient


@dataclass(frozen=True)
class FakeUser:
    id: str
    role: str
    organization_id: str | None = None
    email: str | None = None
    disabled: bool = False


class FakeNoticeStore:
    def __init__(self, *users: FakeUser) -> None:
        self.users = list(users)
        self.notices: list[Notice] = []
        self.deliveries: list[Delivery] = []

    def recipients(self, audience: Audience) -> list[Recipient]:
        found = []
        for user in self.users:
            if user.disabled:
                continue
            if audience.user_id is not None:
                match = user.id == audience.user_id
            else:
                match = (user.role, user.organization_id) == (
                    audience.role,
                    audience.organization_id,
                )
            if match:
                found.append(Recipient(user.id, user.email))
        return found

    def add(self, notices: list[Notice], deliveries: list[Delivery]) -> None:
        self.notices.extend(notices)
        self.deliveries.extend(deliveries)

    def told(self) -> list[str]:
        return sorted(notice.user_id for notice in self.notices)
