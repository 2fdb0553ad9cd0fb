"""SQL of the annual assessment (目标考核) in volunteers: per child federation of a federation,
volunteers registered, verified service hours and activities held in the year — each an
aggregate query grouped by the child's segment of a path in the directory copy (the
organization a volunteer was registered for; the host of the team that served or held)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from language.directory import organizations as directory
from language.subtrees import child_column, child_federations, within
from volunteers.models import activities, service_hours, teams, volunteers


class AssessmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def children(self, federation_id: str) -> list[str]:
        return child_federations(self.session, federation_id)

    def _grouped(
        self, path: str, value: sa.ColumnElement, source: sa.FromClause, *where: object
    ) -> dict[str, int]:
        child = child_column(directory.c.path, path)
        rows = self.session.execute(
            sa.select(child, value)
            .select_from(source)
            .where(within(directory.c.path, path), *where)
            .group_by(child)
        )
        return {child_id: int(total or 0) for child_id, total in rows}

    def volunteers_registered(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        """Per child: volunteers registered in [start, end) for an organization of its
        subtree."""
        return self._grouped(
            path,
            sa.func.count(),
            volunteers.join(directory, directory.c.id == volunteers.c.organization_id),
            volunteers.c.created_at >= start,
            volunteers.c.created_at < end,
        )

    def verified_minutes(self, path: str, start: datetime, end: datetime) -> dict[str, int]:
        """Per child: minutes of verified service that started in [start, end), served with
        teams hosted in its subtree. The hours are summed per team first, then per child."""
        per_team = (
            sa.select(
                service_hours.c.team_id, sa.func.sum(service_hours.c.minutes).label("minutes")
            )
            .where(service_hours.c.status == "verified")
            .where(service_hours.c.started_at >= start, service_hours.c.started_at < end)
            .group_by(service_hours.c.team_id)
            .subquery()
        )
        return self._grouped(
            path,
            sa.func.sum(per_team.c.minutes),
            per_team.join(teams, teams.c.id == per_team.c.team_id).join(
                directory, directory.c.id == teams.c.host_id
            ),
        )

    def activities_held(
        self, path: str, start: datetime, end: datetime, now: datetime
    ) -> dict[str, int]:
        """Per child: activities of teams hosted in its subtree that started in [start, end)
        and have ended by ``now``."""
        return self._grouped(
            path,
            sa.func.count(),
            activities.join(teams, teams.c.id == activities.c.team_id).join(
                directory, directory.c.id == teams.c.host_id
            ),
            activities.c.starts_at >= start,
            activities.c.starts_at < end,
            activities.c.ends_at <= now,
        )
