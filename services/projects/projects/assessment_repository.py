"""SQL of the annual assessment (目标考核) in projects: per child federation of a federation,
projects published and completed, and milestones due and done on time — each an aggregate
query grouped by the child's segment of the purchaser's path in the directory copy."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from language.directory import organizations as directory
from language.subtrees import child_column, child_federations, within
from projects.models import contracts, milestones, projects


class AssessmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def children(self, federation_id: str) -> list[str]:
        return child_federations(self.session, federation_id)

    def project_counts(
        self, path: str, start: datetime, end: datetime
    ) -> dict[str, tuple[int, int]]:
        """Per child: projects published in [start, end), and closed (结项) in it."""
        child = child_column(directory.c.path, path)
        published = sa.and_(projects.c.published_at >= start, projects.c.published_at < end)
        closed = sa.and_(
            projects.c.status == "closed", projects.c.closed_at >= start, projects.c.closed_at < end
        )
        rows = self.session.execute(
            sa.select(
                child,
                sa.func.sum(sa.case((published, 1), else_=0)),
                sa.func.sum(sa.case((closed, 1), else_=0)),
            )
            .select_from(projects.join(directory, directory.c.id == projects.c.purchaser_id))
            .where(within(directory.c.path, path))
            .where(sa.or_(published, closed))
            .group_by(child)
        )
        return {child_id: (int(a), int(b)) for child_id, a, b in rows}

    def milestone_counts(self, path: str, first: date, last: date) -> dict[str, tuple[int, int]]:
        """Per child: milestones of contracts not cancelled due from ``first`` to ``last``
        (days, inclusive), and how many of them were reported by their due date and accepted."""
        child = child_column(directory.c.path, path)
        rows = self.session.execute(
            sa.select(
                child,
                sa.func.count(),
                sa.func.sum(sa.case((milestones.c.accepted_on_time.is_(True), 1), else_=0)),
            )
            .select_from(
                milestones.join(contracts, contracts.c.id == milestones.c.contract_id).join(
                    directory, directory.c.id == contracts.c.purchaser_id
                )
            )
            .where(within(directory.c.path, path))
            .where(milestones.c.due_on >= first, milestones.c.due_on <= last)
            .where(contracts.c.status != "cancelled")
            .group_by(child)
        )
        return {child_id: (int(due), int(on_time or 0)) for child_id, due, on_time in rows}
