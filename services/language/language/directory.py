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

What was just created can be used at once: when the copy has not heard of an organization yet
(its event is still on its way), ``Directory.get`` asks the registry (one RPC, ``ask_registry``)
before answering "unknown", and records the answer — with the ancestors the copy lacks — as if
the events had arrived (their versions keep later events in order). Only a miss asks; a known
organization is answered from the copy alone.

A service includes ``metadata`` in its Alembic target (``kit.migrate.run_env(models.metadata,
include=[directory.metadata])``, and ``INCLUDE_METADATA`` in its models for ``--check``) and
mixes ``DirectoryConsumer`` into its service class (which also gives its workers the registry
to ask).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from nameko.exceptions import RpcTimeout

from kit.calls import SystemRpc
from kit.clock import utcnow
from kit.consumer import on_event
from kit.db import NAMING_CONVENTION, UnitOfWork, UTCDateTime
from language.actor import SYSTEM

log = logging.getLogger(__name__)

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


#: asks the registry about one organization: its facts as the registry's events carry them
#: (``organization_id``, ``kind``, ``name``, ``uscc``, ``parent_id``, ``status``, ``version``),
#: or None when the registry does not know it (or cannot be asked)
Lookup = Callable[[str], "dict[str, Any] | None"]
#: the lookup of the worker running on this (green) thread, set by ``RegistryLookup``
_worker = threading.local()
#: the deepest chain of unknown ancestors one miss learns
MAX_DEPTH = 16
#: seconds the registry has to answer before the organization counts as unknown
ASK_TIMEOUT = 3.0


def current_lookup() -> Lookup | None:
    return getattr(_worker, "lookup", None)


def _known(entry: Any) -> bool:
    """Whether the copy has heard the organization's details (not just seen it as a parent)."""
    return entry is not None and entry.details_version > 0


class Directory:
    """Reading the copy: one row per organization, as a plain mapping.

    ``lookup`` (by default the one of the worker on this thread, if any) is asked about an
    organization the copy has not heard of; its answer is recorded before it is returned.
    """

    def __init__(self, uow: UnitOfWork, lookup: Lookup | None = None) -> None:
        assert uow.session is not None
        self.uow = uow
        self.session = uow.session
        self.lookup = lookup if lookup is not None else current_lookup()

    def get(self, organization_id: str) -> dict[str, Any] | None:
        # one statement built once: building it again costs more than running it on SQLite
        row = self.session.execute(_ENTRY_BY_ID, {"id": str(organization_id)}).first()
        if not _known(row) and self.lookup is not None:
            learned = learn(self.uow, str(organization_id), self.lookup)
            if learned is not None:
                return learned
        return dict(row._mapping) if row is not None else None

    def many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        rows = self.session.execute(
            sa.select(organizations).where(organizations.c.id.in_(sorted(set(ids))))
        )
        found = {row.id: dict(row._mapping) for row in rows}
        if self.lookup is not None:
            for organization_id in sorted(set(ids)):
                entry = found.get(organization_id)
                if entry is None or not entry["details_version"]:
                    learned = self.get(organization_id)
                    if learned is not None:
                        found[organization_id] = learned
        return found


def learn(uow: UnitOfWork, organization_id: str, lookup: Lookup) -> dict[str, Any] | None:
    """Ask about an organization (and each ancestor the copy has not heard of), record the
    answers as facts, and return its entry; None if the registry does not know it.

    A read-only unit of work records them in a unit of work of its own (committed at once,
    so the next request finds them) and returns the entry read there.
    """
    session = _session(uow)
    facts: list[dict[str, Any]] = []
    current: str | None = organization_id
    while (
        current and len(facts) < MAX_DEPTH and current not in {f["organization_id"] for f in facts}
    ):
        # an ancestor: the chain stops at the first one the copy has heard of
        if facts and _known(session.execute(_ENTRY_BY_ID, {"id": current}).first()):
            break
        fact = lookup(current)
        if fact is None:
            break
        facts.append(fact)
        current = str(fact["parent_id"]) if fact.get("parent_id") else None
    if not facts:
        return None

    def record(target: UnitOfWork) -> dict[str, Any] | None:
        for fact in reversed(facts):  # parents first: each child lands under its parent's path
            apply_details(target, fact)
        row = _session(target).execute(_ENTRY_BY_ID, {"id": organization_id}).first()
        return dict(row._mapping) if row is not None else None

    if not uow.readonly:
        return record(uow)
    with uow.resource.unit_of_work() as writer:
        entry = record(writer)
        writer.commit()
    return entry


def as_fact(organization: dict[str, Any]) -> dict[str, Any]:
    """The registry's answer about an organization, as the facts its events carry."""
    return {
        "organization_id": str(organization["id"]),
        "kind": organization["kind"],
        "name": organization["name"],
        "uscc": organization.get("uscc"),
        "parent_id": organization.get("parent_id"),
        "status": organization["status"],
        "version": int(organization["version"]),
    }


def ask_registry(registry: Any, organization_id: str) -> dict[str, Any] | None:
    """The one place a service asks the registry about an organization, for itself: a signed
    call as the system actor (``kit.calls``). ``registry`` is a ``SystemRpc`` client of the
    registry service."""
    try:
        organization = registry.call("get_organization", organization_id, timeout=ASK_TIMEOUT)
    except RpcTimeout:
        log.warning("the registry did not answer about %s in %ss", organization_id, ASK_TIMEOUT)
        return None
    except Exception as exc:  # noqa: BLE001 - not found, or unreachable: unknown, as before
        if getattr(exc, "code", None) != "ORGANIZATION_NOT_FOUND":
            log.warning("could not ask the registry about %s: %s", organization_id, exc)
        return None
    return as_fact(organization)


class RegistryLookup(SystemRpc):
    """Gives each worker of the service a lookup that asks the registry (``ask_registry``);
    ``Directory`` finds it on the worker's thread."""

    def __init__(self) -> None:
        super().__init__("registry", actor=SYSTEM.to_dict(), timeout=ASK_TIMEOUT)

    def worker_setup(self, worker_ctx: Any) -> None:
        registry = self.get_dependency(worker_ctx)
        _worker.lookup = lambda organization_id: ask_registry(registry, organization_id)

    def worker_teardown(self, worker_ctx: Any) -> None:
        _worker.lookup = None


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
    """Mix into a service class (with a ``db`` Database) to keep its directory up to date;
    its workers also ask the registry about organizations the copy has not heard of yet."""

    registry_lookup = RegistryLookup()

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
