"""SQL of the annual assessment (目标考核) in the registry: the child federations, coverage and
new women's organizations per child in one aggregate query, and the weights with their history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from language.assessment import ID_LENGTH
from registry.domain.lifecycle import ACTIVE_STATUSES
from registry.models import assessment_weight_changes, assessment_weights, organizations

#: per child and sector: host units, of which covered, women's organizations founded
ChildCounts = dict[str, dict[str | None, tuple[int, int, int]]]


class AssessmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def children(self, federation_id: str) -> list[dict[str, Any]]:
        """The child federations (not deregistered), by name."""
        table = organizations
        rows = self.session.execute(
            sa.select(table.c.id, table.c.name)
            .where(table.c.parent_id == federation_id)
            .where(table.c.kind == "federation")
            .where(table.c.status != "deregistered")
            .order_by(table.c.name, table.c.id)
        )
        return [{"organization_id": row.id, "name": row.name} for row in rows]

    def counts_by_child(self, path: str, start: datetime, end: datetime) -> ChildCounts:
        """One aggregate query over the subtree under ``path``, grouped by the child's segment
        of each organization's path and by sector: host units (not deregistered), how many of
        them have an active women's organization as a child, and women's organizations
        registered in [start, end) and not deregistered."""
        table = organizations
        child = sa.func.substr(table.c.path, len(path) + 1, ID_LENGTH).label("child")
        women = organizations.alias("women")
        covered_hosts = (
            sa.select(women.c.parent_id)
            .where(women.c.kind == "womens_organization")
            .where(women.c.status.in_(ACTIVE_STATUSES))
            .where(women.c.path.like(path + "%"))
        )
        host = sa.and_(table.c.kind == "host_unit", table.c.status != "deregistered")
        founded = sa.and_(
            table.c.kind == "womens_organization",
            table.c.status != "deregistered",
            table.c.created_at >= start,
            table.c.created_at < end,
        )
        rows = self.session.execute(
            sa.select(
                child,
                table.c.sector,
                sa.func.sum(sa.case((host, 1), else_=0)),
                sa.func.sum(sa.case((sa.and_(host, table.c.id.in_(covered_hosts)), 1), else_=0)),
                sa.func.sum(sa.case((founded, 1), else_=0)),
            )
            .where(table.c.path.like(path + "%"))
            .where(table.c.path != path)
            .where(table.c.kind.in_(("host_unit", "womens_organization")))
            .group_by(child, table.c.sector)
        ).all()
        counts: ChildCounts = {}
        for child_id, sector, units, covered, new in rows:
            counts.setdefault(child_id, {})[sector] = (int(units), int(covered), int(new))
        return counts

    # --- the weights --------------------------------------------------------------------------

    def weights(self, federation_id: str, year: int, *, for_update: bool = False) -> Any:
        """The row kept for the federation and year (None: none set)."""
        query = sa.select(assessment_weights).where(
            assessment_weights.c.federation_id == federation_id,
            assessment_weights.c.year == year,
        )
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).first()
        return dict(row._mapping) if row is not None else None

    def latest_weights_before(self, federation_id: str, year: int) -> Any:
        """The weights of the latest earlier year that has some (None: none)."""
        row = self.session.execute(
            sa.select(assessment_weights)
            .where(assessment_weights.c.federation_id == federation_id)
            .where(assessment_weights.c.year < year)
            .order_by(assessment_weights.c.year.desc())
            .limit(1)
        ).first()
        return dict(row._mapping) if row is not None else None

    def keep_weights(
        self,
        federation_id: str,
        year: int,
        weights: dict[str, int],
        version: int,
        actor_id: str,
        at: datetime,
    ) -> None:
        values = {"weights": weights, "version": version, "updated_by": actor_id, "updated_at": at}
        if version == 1:
            self.session.execute(
                sa.insert(assessment_weights).values(
                    federation_id=federation_id, year=year, **values
                )
            )
            return
        self.session.execute(
            sa.update(assessment_weights)
            .where(assessment_weights.c.federation_id == federation_id)
            .where(assessment_weights.c.year == year)
            .values(**values)
        )

    def add_change(self, change: dict[str, Any]) -> None:
        self.session.execute(
            sa.insert(assessment_weight_changes).values(id=str(uuid.uuid4()), **change)
        )

    def changes(self, federation_id: str, year: int) -> list[dict[str, Any]]:
        """Every change of the year's weights, newest first."""
        table = assessment_weight_changes
        rows = self.session.execute(
            sa.select(table)
            .where(table.c.federation_id == federation_id, table.c.year == year)
            .order_by(table.c.at.desc(), table.c.id.desc())
        )
        return [dict(row._mapping) for row in rows]
