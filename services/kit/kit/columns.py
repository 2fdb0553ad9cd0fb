"""Portable column types and constraint names, shared by the kit's tables and every service's.

Plain SQLAlchemy, no engine: the tables of the outbox and the inbox (``kit.tables``) and each
service's models import these without pulling in the unit of work. ``kit.db`` re-exports them,
where services and their migrations have always found them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry

ID_LENGTH = 36

#: constraint names Alembic can find again on every backend (SQLite batch moves need them)
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def Id(**kwargs: Any) -> sa.Column:  # noqa: N802 - reads like a column type
    """A UUID kept as its canonical 36-character string: identical on SQLite and PostgreSQL."""
    return sa.Column(sa.String(ID_LENGTH), **kwargs)


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC and given its zone back on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Jinguo keeps every moment in aware UTC")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def mapping_once(metadata: sa.MetaData, map_all: Callable[[registry], None]) -> Callable[[], None]:
    """A service's ``start_mappers``: ``map_all`` maps the domain classes onto ``metadata``'s
    tables (classical mapping keeps the domain free of SQLAlchemy), once per process however
    often it is called."""
    mapper_registry = registry(metadata=metadata)
    done: list[bool] = []

    def start_mappers() -> None:
        if not done:
            map_all(mapper_registry)
            done.append(True)

    return start_mappers
