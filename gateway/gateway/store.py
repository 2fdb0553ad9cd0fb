"""SQL for the gateway's tables (users, login throttling; idempotency keys live in
``gateway.idempotency``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.identity import User
from gateway.models import login_throttle, users
from gateway.throttle import Counter


class UserStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_username(self, username: str) -> User | None:
        row = self.session.execute(sa.select(users).where(users.c.username == username)).first()
        return _user(row)

    def by_volunteer(self, volunteer_id: str) -> User | None:
        row = self.session.execute(
            sa.select(users).where(users.c.volunteer_id == volunteer_id)
        ).first()
        return _user(row)

    def get(self, user_id: str, *, for_update: bool = False) -> User | None:
        query = sa.select(users).where(users.c.id == user_id)
        if for_update:
            query = query.with_for_update()
        return _user(self.session.execute(query).first())

    def add(self, user: User) -> None:
        self.session.execute(sa.insert(users).values(**_columns(user)))

    def update(self, user: User) -> None:
        values = _columns(user)
        del values["id"]
        self.session.execute(sa.update(users).where(users.c.id == user.id).values(**values))

    def other_active_admins(self, user_id: str) -> int:
        """Active admins besides ``user_id``, their rows locked until the transaction ends (two
        admins demoting each other at once must not leave none)."""
        query = (
            sa.select(users.c.id)
            .where(users.c.role == "admin", users.c.disabled == sa.false(), users.c.id != user_id)
            .with_for_update()
        )
        return len(self.session.execute(query).all())

    def list(self, limit: int, after: tuple[Any, ...] | None) -> list[User]:
        query = sa.select(users).order_by(users.c.username).limit(limit + 1)
        if after:
            query = query.where(users.c.username > after[0])
        return [_user(row) for row in self.session.execute(query)]  # type: ignore[misc]

    def delete(self, user_id: str) -> None:
        self.session.execute(sa.delete(users).where(users.c.id == user_id))

    def count(self) -> int:
        return int(self.session.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())


def _columns(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "password_hash": user.password_hash,
        "role": user.role,
        "organization_id": user.organization_id,
        "disabled": user.disabled,
        "token_version": user.token_version,
        "created_by": user.created_by,
        "created_at": user.created_at,
        "volunteer_id": user.volunteer_id,
        "scope_path": user.scope_path,
    }


def _user(row: Any) -> User | None:
    if row is None:
        return None
    return User(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=row.role,
        organization_id=row.organization_id,
        disabled=row.disabled,
        token_version=row.token_version,
        created_by=row.created_by,
        created_at=row.created_at,
        volunteer_id=row.volunteer_id,
        scope_path=row.scope_path,
    )


@dataclass(frozen=True)
class SessionState:
    """What a request's token is checked against: the user's token version, and whether she
    is disabled."""

    token_version: int
    disabled: bool


def session_state(connection: sa.Connection, user_id: str) -> SessionState | None:
    row = connection.execute(
        sa.select(users.c.token_version, users.c.disabled).where(users.c.id == user_id)
    ).first()
    return None if row is None else SessionState(row.token_version, bool(row.disabled))


class ThrottleStore:
    """Login throttling counters (``gateway.throttle``), read with a row lock so two gateway
    processes counting the same key take turns."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def get(self, keys: list[str]) -> dict[str, Counter]:
        table = login_throttle
        rows = self.connection.execute(
            sa.select(table).where(table.c.key.in_(keys)).order_by(table.c.key).with_for_update()
        )
        return {
            row.key: Counter(row.key, row.attempts, row.window_started, row.locked_until)
            for row in rows
        }

    def put(self, counter: Counter, expires_at: datetime, *, new: bool) -> None:
        table = login_throttle
        values = {
            "attempts": counter.attempts,
            "window_started": counter.window_started,
            "locked_until": counter.locked_until,
            "expires_at": expires_at,
        }
        if new:
            self.connection.execute(sa.insert(table).values(key=counter.key, **values))
        else:
            self.connection.execute(
                sa.update(table).where(table.c.key == counter.key).values(**values)
            )

    def delete(self, key: str) -> None:
        self.connection.execute(sa.delete(login_throttle).where(login_throttle.c.key == key))

    def purge(self, now: datetime) -> int:
        """Drop counters that no longer mean anything (the window and any lock are over)."""
        table = login_throttle
        return self.connection.execute(sa.delete(table).where(table.c.expires_at <= now)).rowcount
