"""A service's own copy of the registry's organizations, kept from registry events.

Services never call the registry to ask who an organization is (no RPC on a request's path):
they keep ``directory_organizations`` up to date from ``organization_*`` events and ask it
locally — is this provider verified, is this federation inside that one's subtree, what is its
name and USCC.

Events of different types travel on different queues, and replicas consume concurrently, so
facts may arrive out of order. Each fact is applied so that order does not matter:

* status facts (verified, suspended, ...) apply only if their ``version`` is newer than the
  status kept; descriptive facts (registered, updated: name, parent, USCC) likewise, with their
  own version — a registration arriving after a suspension still fills in the name;
* a child whose parent is not known yet hangs under a placeholder row for the parent; when the
  parent's registration arrives, the paths of everything under it are rewritten.

A service includes ``metadata`` in its Alembic target (see ``kit.migrate``) and mixes
``DirectoryConsumer`` into its service class.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kit.clock import utcnow
from kit.consumer import on_event
from kit.db import NAMING_CONVENTION, UnitOfWork, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

organizations = sa.Table(
    "directory_organizations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("uscc", sa.String(18), nullable=True),
    sa.Column("parent_id", sa.String(36), nullable=True),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("status_version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("details_version", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index(
        "ix_directory_organizations_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}
    ),
)

ACTIVE_STATUSES = ("registered", "verified", "reinstated")
#: a service provider may apply, be awarded and be paid only in these statuses
GOOD_STANDING = ("verified", "reinstated")


def path_of(organization_id: str, parent_path: str | None) -> str:
    return f"{parent_path or '/'}{organization_id}/"


def is_within(path: str | None, ancestor_id: str) -> bool:
    """Whether the organization with materialised ``path`` is ``ancestor_id`` or under it."""
    return path is not None and f"/{ancestor_id}/" in path


_ENTRY_BY_ID = sa.select(organizations).where(organizations.c.id == sa.bindparam("id"))


class Directory:
    """Reading the copy: one row per organization, as a plain mapping."""

    def __init__(self, uow: UnitOfWork) -> None:
        assert uow.session is not None
        self.session = uow.session

    def get(self, organization_id: str) -> dict[str, Any] | None:
        # one statement built once: building it again costs more than running it on SQLite
        row = self.session.execute(_ENTRY_BY_ID, {"id": str(organization_id)}).first()
        return dict(row._mapping) if row is not None else None

    def many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        rows = self.session.execute(
            sa.select(organizations).where(organizations.c.id.in_(sorted(set(ids))))
        )
        return {row.id: dict(row._mapping) for row in rows}


# --- applying facts ----------------------------------------------------------------------
#
# Every write is a compare-and-set (``WHERE version < :new``) or an insert that ignores a
# duplicate: two facts about one organization applied at once, by two workers or replicas,
# cannot undo each other the way a read-then-write would.


def _session(uow: UnitOfWork) -> Any:
    assert uow.session is not None
    return uow.session


def _insert_ignoring_duplicate(uow: UnitOfWork, **values: Any) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    session = _session(uow)
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(organizations)
    session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["id"]))


def _ensure_row(uow: UnitOfWork, organization_id: str) -> Any:
    """The row for ``organization_id``, created as a placeholder (a root) if unknown."""
    _insert_ignoring_duplicate(
        uow, id=organization_id, path=path_of(organization_id, None), updated_at=utcnow()
    )
    return (
        _session(uow)
        .execute(sa.select(organizations).where(organizations.c.id == organization_id))
        .first()
    )


def _place(uow: UnitOfWork, organization_id: str, parent_id: str | None) -> None:
    """Put the organization (and its subtree) under ``parent_id``."""
    parent_path = _ensure_row(uow, parent_id).path if parent_id else None
    current = _ensure_row(uow, organization_id)
    new_path = path_of(organization_id, parent_path)
    if current.path == new_path:
        return
    column = organizations.c.path
    _session(uow).execute(
        sa.update(organizations)
        .where(column.like(current.path + "%"))
        .values(path=sa.literal(new_path) + sa.func.substr(column, len(current.path) + 1))
    )


def apply_details(uow: UnitOfWork, event: dict[str, Any]) -> None:
    """organization_registered / organization_updated: name, kind, parent, USCC."""
    organization_id = str(event["organization_id"])
    _ensure_row(uow, organization_id)
    parent_id = str(event["parent_id"]) if event.get("parent_id") else None
    newer = (
        _session(uow)
        .execute(
            sa.update(organizations)
            .where(organizations.c.id == organization_id)
            .where(organizations.c.details_version < event["version"])
            .values(
                kind=event["kind"],
                name=event["name"],
                uscc=event.get("uscc"),
                parent_id=parent_id,
                details_version=event["version"],
                updated_at=utcnow(),
            )
        )
        .rowcount
    )
    if newer:
        _place(uow, organization_id, parent_id)
    apply_status(uow, event)


def apply_status(uow: UnitOfWork, event: dict[str, Any]) -> None:
    """Any organization event: its status, if newer than the status kept."""
    organization_id = str(event["organization_id"])
    _ensure_row(uow, organization_id)
    _session(uow).execute(
        sa.update(organizations)
        .where(organizations.c.id == organization_id)
        .where(organizations.c.status_version < event["version"])
        .values(
            kind=event["kind"],
            status=event["status"],
            status_version=event["version"],
            updated_at=utcnow(),
        )
    )


class DirectoryConsumer:
    """Mix into a service class (with a ``db`` Database) to keep its directory up to date."""

    @on_event("registry", "organization_registered")
    def directory_registered(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        apply_details(uow, event)

    @on_event("registry", "organization_updated")
    def directory_updated(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        apply_details(uow, event)

    @on_event("registry", "organization_verified")
    def directory_verified(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        apply_status(uow, event)

    @on_event("registry", "organization_suspended")
    def directory_suspended(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        apply_status(uow, event)

    @on_event("registry", "organization_reinstated")
    def directory_reinstated(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        apply_status(uow, event)

    @on_event("registry", "organization_deregistered")
    def directory_deregistered(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        apply_status(uow, event)
