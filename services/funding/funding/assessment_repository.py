"""SQL of the annual assessment (目标考核) in funding: per child federation of a federation, the
money committed and paid in the year from sources its subtree owns — each an aggregate query
grouped by the child's segment of the source owner's path in the directory copy."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from funding.models import commitments, disbursements, funding_sources
from language.directory import organizations as directory
from language.subtrees import child_column, child_federations, within


class AssessmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def children(self, federation_id: str) -> list[str]:
        return child_federations(self.session, federation_id)

    def _by_child(
        self, table: sa.Table, amount: sa.ColumnElement, path: str, *where: object
    ) -> dict[str, int]:
        child = child_column(directory.c.path, path)
        rows = self.session.execute(
            sa.select(child, sa.func.coalesce(sa.func.sum(amount), 0))
            .select_from(
                table.join(funding_sources, funding_sources.c.id == table.c.source_id).join(
                    directory, directory.c.id == funding_sources.c.owner_id
                )
            )
            .where(within(directory.c.path, path), *where)
            .group_by(child)
        )
        return {child_id: int(total) for child_id, total in rows}

    def committed(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        """Per child, fen: contracts' amounts committed in [start, end)."""
        return self._by_child(
            commitments,
            commitments.c.amount,
            path,
            commitments.c.created_at >= start,
            commitments.c.created_at < end,
        )

    def paid(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        """Per child, fen: disbursements paid in [start, end)."""
        return self._by_child(
            disbursements,
            disbursements.c.amount,
            path,
            disbursements.c.status == "paid",
            disbursements.c.paid_at >= start,
            disbursements.c.paid_at < end,
        )
