"""SQL for the notifications (``gateway.notices``): recipients from ``users``, the notices and
their deliveries, a user's own list, and the mail relay's queue (``gateway.mail``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.models import notice_deliveries, notifications, users
from gateway.notices import FINISHED, Audience, Delivery, Notice, Recipient


class SqlNoticeStore:
    """The ``NoticeStore`` of the consumers, in the unit of work the consumer opened."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def recipients(self, audience: Audience) -> list[Recipient]:
        query = sa.select(users.c.id, users.c.email).where(users.c.disabled == sa.false())
        if audience.user_id is not None:
            query = query.where(users.c.id == audience.user_id)
        else:
            query = query.where(
                users.c.role == audience.role,
                users.c.organization_id == audience.organization_id,
            )
        rows = self.session.execute(query.order_by(users.c.username))
        return [Recipient(row.id, row.email) for row in rows]

    def add(self, notices: list[Notice], deliveries: list[Delivery]) -> None:
        if notices:
            self.session.execute(
                sa.insert(notifications),
                [
                    {
                        "id": n.id,
                        "user_id": n.user_id,
                        "kind": n.kind,
                        "title": n.title,
                        "body": n.body,
                        "link": n.link,
                        "event_id": n.event_id,
                        "created_at": n.created_at,
                        "read_at": None,
                    }
                    for n in notices
                ],
            )
        if deliveries:
            self.session.execute(
                sa.insert(notice_deliveries),
                [
                    {
                        "notification_id": d.notification_id,
                        "channel": d.channel,
                        "address": d.address,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": d.next_attempt_at,
                        "created_at": d.next_attempt_at,
                    }
                    for d in deliveries
                ],
            )


def _notice(row: Any) -> Notice:
    return Notice(
        id=row.id,
        user_id=row.user_id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        link=row.link,
        event_id=row.event_id,
        created_at=row.created_at,
        read_at=row.read_at,
    )


class InboxOfUser:
    """One user's own notifications: nobody reaches another's (it is simply not found)."""

    def __init__(self, session: Session, user_id: str) -> None:
        self.session = session
        self.user_id = user_id

    def _mine(self, unread: bool = False) -> Any:
        query = sa.select(notifications).where(notifications.c.user_id == self.user_id)
        if unread:
            query = query.where(notifications.c.read_at.is_(None))
        return query

    def list(
        self, limit: int, after: tuple[Any, ...] | None, *, unread: bool = False
    ) -> list[Notice]:
        """Newest first; ``after`` is the (created_at, id) of the last one of the page before."""
        query = self._mine(unread)
        if after is not None:
            created_at, notice_id = datetime.fromisoformat(str(after[0])), str(after[1])
            query = query.where(
                sa.or_(
                    notifications.c.created_at < created_at,
                    sa.and_(
                        notifications.c.created_at == created_at, notifications.c.id < notice_id
                    ),
                )
            )
        query = query.order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
        return [_notice(row) for row in self.session.execute(query.limit(limit + 1))]

    def count(self, *, unread: bool = False) -> int:
        counted = sa.select(sa.func.count()).select_from(self._mine(unread).subquery())
        return int(self.session.execute(counted).scalar_one())

    def get(self, notice_id: str) -> Notice | None:
        row = self.session.execute(self._mine().where(notifications.c.id == notice_id)).first()
        return None if row is None else _notice(row)

    def mark_read(self, notice_id: str, now: datetime) -> Notice | None:
        """Mark one read (reading it again keeps the first time); None if she has none such."""
        self.session.execute(
            sa.update(notifications)
            .where(
                notifications.c.id == notice_id,
                notifications.c.user_id == self.user_id,
                notifications.c.read_at.is_(None),
            )
            .values(read_at=now)
        )
        return self.get(notice_id)

    def mark_all_read(self, now: datetime) -> int:
        return int(
            self.session.execute(
                sa.update(notifications)
                .where(notifications.c.user_id == self.user_id, notifications.c.read_at.is_(None))
                .values(read_at=now)
            ).rowcount
        )


def get_email(session: Session, user_id: str) -> tuple[bool, str | None]:
    """(whether the user exists, her e-mail address)."""
    row = session.execute(sa.select(users.c.email).where(users.c.id == user_id)).first()
    return (row is not None, None if row is None else row.email)


def set_email(session: Session, user_id: str, email: str | None) -> bool:
    updated = session.execute(
        sa.update(users).where(users.c.id == user_id).values(email=email)
    ).rowcount
    return bool(updated)


# --- the mail relay's queue ----------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A pending e-mail: its delivery's key, where it goes, and what it says."""

    notification_id: str
    address: str
    attempts: int
    title: str
    body: str
    link: str | None


def due_mail(connection: sa.Connection, now: datetime, limit: int) -> list[Outgoing]:
    query = (
        sa.select(
            notice_deliveries.c.notification_id,
            notice_deliveries.c.address,
            notice_deliveries.c.attempts,
            notifications.c.title,
            notifications.c.body,
            notifications.c.link,
        )
        .join(notifications, notifications.c.id == notice_deliveries.c.notification_id)
        .where(
            notice_deliveries.c.channel == "email",
            notice_deliveries.c.status == "pending",
            notice_deliveries.c.next_attempt_at <= now,
        )
        .order_by(notice_deliveries.c.next_attempt_at, notice_deliveries.c.notification_id)
        .limit(limit)
    )
    return [Outgoing(*row) for row in connection.execute(query)]


def mark_sent(connection: sa.Connection, notification_id: str, now: datetime) -> None:
    connection.execute(
        sa.update(notice_deliveries)
        .where(
            notice_deliveries.c.notification_id == notification_id,
            notice_deliveries.c.channel == "email",
        )
        .values(
            status="sent",
            sent_at=now,
            attempts=notice_deliveries.c.attempts + 1,
            last_error=None,
        )
    )


def mark_failed(
    connection: sa.Connection,
    notification_id: str,
    now: datetime,
    error: str,
    *,
    retry_in: timedelta | None,
) -> None:
    """Record a failed attempt: retried after ``retry_in``, or failed for good (None)."""
    values: dict[str, Any] = {
        "attempts": notice_deliveries.c.attempts + 1,
        "last_error": error[:500],
    }
    if retry_in is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = now + retry_in
    connection.execute(
        sa.update(notice_deliveries)
        .where(
            notice_deliveries.c.notification_id == notification_id,
            notice_deliveries.c.channel == "email",
        )
        .values(**values)
    )


# --- retention (``gateway.notices.Retention``) --------------------------------------------


def purge(connection: sa.Connection, cutoff: datetime) -> dict[str, int]:
    """Delete the read notices created before ``cutoff`` with their deliveries, and the
    finished deliveries created before it; how many of each went."""
    expired = sa.select(notifications.c.id).where(
        notifications.c.read_at.is_not(None), notifications.c.created_at < cutoff
    )
    deliveries = connection.execute(
        sa.delete(notice_deliveries).where(
            sa.or_(
                notice_deliveries.c.notification_id.in_(expired),
                sa.and_(
                    notice_deliveries.c.status.in_(FINISHED),
                    notice_deliveries.c.created_at < cutoff,
                ),
            )
        )
    ).rowcount
    notices = connection.execute(
        sa.delete(notifications).where(
            notifications.c.read_at.is_not(None), notifications.c.created_at < cutoff
        )
    ).rowcount
    return {"notifications": int(notices), "deliveries": int(deliveries)}
