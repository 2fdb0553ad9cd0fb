"""SQL for the gateway's tables (users, idempotency keys)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.identity import User
from gateway.models import users


class UserStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_username(self, username: str) -> User | None:
        row = self.session.execute(sa.select(users).where(users.c.username == username)).first()
        return _user(row)

    def get(self, user_id: str) -> User | None:
        row = self.session.execute(sa.select(users).where(users.c.id == user_id)).first()
        return _user(row)

    def add(self, user: User) -> None:
        self.session.execute(sa.insert(users).values(**_columns(user)))

    def list(self, limit: int, after: tuple[Any, ...] | None) -> list[User]:
        query = sa.select(users).order_by(users.c.username).limit(limit + 1)
        if after:
            query = query.where(users.c.username > after[0])
        return [_user(row) for row in self.session.execute(query)]  # type: ignore[misc]


def _columns(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "password_hash": user.password_hash,
        "role": user.role,
        "organization_id": user.organization_id,
        "disabled": user.disabled,
        "created_by": user.created_by,
        "created_at": user.created_at,
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
        created_by=row.created_by,
        created_at=row.created_at,
    )
