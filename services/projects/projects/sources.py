"""Whose money a funding source is: projects' copy of funding's sources.

Funding announces each source it creates (``funding_source_created``: id, owner, version) and
projects keeps a row per source. A request may name a source created a second ago whose event
has not arrived yet (or one created before projects kept this copy): then projects asks
funding (``source_facts``) before refusing, and keeps the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kit.clock import utcnow
from kit.db import UnitOfWork
from projects.models import funding_sources

#: asks funding for a source's facts (``{"funding_source_id", "owner_id", "version"}``, or
#: None when funding has no such source)
AskFunding = Callable[[str], dict[str, Any] | None]


def _session(uow: UnitOfWork) -> Any:
    assert uow.session is not None
    return uow.session


def remember(uow: UnitOfWork, facts: dict[str, Any]) -> None:
    """Keep (or refresh, if newer) a source's owner; safe to apply twice or out of order."""
    session = _session(uow)
    source_id, version = str(facts["funding_source_id"]), int(facts["version"])
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(funding_sources)
    values = {
        "id": source_id,
        "owner_id": str(facts["owner_id"]),
        "version": version,
        "updated_at": utcnow(),
    }
    session.execute(
        insert.values(**values).on_conflict_do_update(
            index_elements=["id"],
            set_={k: v for k, v in values.items() if k != "id"},
            where=funding_sources.c.version < version,
        )
    )


def owner_of(uow: UnitOfWork, source_id: str, ask: AskFunding | None) -> str | None:
    """The owner of the source: from the copy, else from funding (then kept); None if funding
    has no such source (or nobody can ask)."""
    row = (
        _session(uow)
        .execute(sa.select(funding_sources.c.owner_id).where(funding_sources.c.id == source_id))
        .first()
    )
    if row is not None:
        return str(row.owner_id)
    if ask is None:
        return None
    facts = ask(str(source_id))
    if not facts:
        return None
    remember(uow, facts)
    return str(facts["owner_id"])
