"""Whose money a funding source is: projects' copy of funding's sources.

Funding announces each source it creates (``funding_source_created``: id, owner, version) and
projects keeps a row per source. A request may name a source created a second ago whose event
has not arrived yet (or one created before projects kept this copy): then projects asks
funding (``source_facts``, the context's ``ask_funding`` port) before refusing, and keeps the
answer (``Context.source_owner``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from projects.models import funding_sources

#: asks funding for a source's facts (``{"funding_source_id", "owner_id", "version"}``, or
#: None when funding has no such source)
AskFunding = Callable[[str], dict[str, Any] | None]


class FundingSources:
    """The copy's rows: a source's owner, kept from funding's facts."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def remember(self, source_id: str, owner_id: str, version: int, at: datetime) -> None:
        """Keep (or refresh, if newer) a source's owner; safe to apply twice or out of order."""
        dialect = self.session.get_bind().dialect.name
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(funding_sources)
        values = {"id": source_id, "owner_id": owner_id, "version": version, "updated_at": at}
        self.session.execute(
            insert.values(**values).on_conflict_do_update(
                index_elements=["id"],
                set_={k: v for k, v in values.items() if k != "id"},
                where=funding_sources.c.version < version,
            )
        )

    def owner(self, source_id: str) -> str | None:
        """The source's owner as the copy knows it (None: not heard of)."""
        row = self.session.execute(
            sa.select(funding_sources.c.owner_id).where(funding_sources.c.id == source_id)
        ).first()
        return None if row is None else str(row.owner_id)
