"""Service hours: logged for an enrolled volunteer, verified or rejected by someone else who
runs the team, read by those who run it and by the volunteer herself; her statement, and the
hours report (grouped by the database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kit.paging import encode_cursor, fetched_page
from volunteers.commands import (
    GetHours,
    GetStatement,
    HoursReport,
    ListHours,
    LogHours,
    RejectHours,
    VerifyHours,
)
from volunteers.context import Context
from volunteers.domain import hours as rules
from volunteers.domain.hours import ServiceHours
from volunteers.domain.reports import REPORT_LIMIT, hours, report_period
from volunteers.domain.roster import Team, Volunteer
from volunteers.domain.scope import REPORT_ROLES
from volunteers.exceptions import HoursNotFound, OutOfScope, RuleBroken
from volunteers.handlers.views import name_volunteers
from volunteers.handlers.volunteers import visible_volunteer


def log_hours(ctx: Context, command: LogHours) -> ServiceHours:
    """A pending entry of hours the volunteer served in an activity of a team the actor runs."""
    activity = ctx.repo.find_activity(command.activity_id)
    if activity is None or not ctx.manages(ctx.repo.team(activity.team_id)):
        raise RuleBroken(
            f"no activity {command.activity_id}",
            field="activity_id",
            rule="exists",
            code="ACTIVITY_UNKNOWN",
        )
    # the volunteer's row lock serialises her entries: two overlapping ones logged at once
    # cannot both pass the overlap check
    volunteer = ctx.named_volunteer(command.volunteer_id, for_update=True)
    started_at = command.started_at
    ended_at = command.ended_at
    end_field = "ended_at"
    if ended_at is None:
        end_field = "hours"
        if command.hours is None:
            raise RuleBroken("give ended_at (or hours)", field="ended_at", rule="required")
        ended_at = started_at + timedelta(minutes=rules.minutes_from_hours(command.hours))
    rules.duration_minutes(started_at, ended_at)
    enrolment = ctx.repo.enrolment_of(activity.id, volunteer.id)
    entry = rules.log_hours(
        volunteer_id=volunteer.id,
        activity=activity,
        enrolment_status=enrolment.status if enrolment else None,
        others=ctx.repo.hours_overlapping(volunteer.id, started_at, ended_at),
        started_at=started_at,
        ended_at=ended_at,
        actor=ctx.actor,
        at=ctx.clock.now(),
        note=command.note,
        end_field=end_field,
    )
    ctx.repo.add(entry)
    return entry


def verify_hours(ctx: Context, command: VerifyHours) -> ServiceHours:
    """The entry verified: it counts, and ``service_hours_verified`` goes out."""
    entry = _decidable(ctx, command.entry_id)
    entry.verify(ctx.actor, ctx.clock.now())
    return entry


def reject_hours(ctx: Context, command: RejectHours) -> ServiceHours:
    """The entry rejected, saying why."""
    entry = _decidable(ctx, command.entry_id)
    entry.reject(command.reason, ctx.actor, ctx.clock.now())
    return entry


def _decidable(ctx: Context, entry_id: str) -> ServiceHours:
    """The entry, locked after its volunteer, if the actor may decide it (maker-checker)."""
    peek = ctx.repo.hours(entry_id)
    volunteer = ctx.repo.volunteer(peek.volunteer_id, for_update=True)
    entry = ctx.repo.hours(entry_id, for_update=True)
    team = ctx.repo.team(entry.team_id)
    if not _sees_hours(ctx, team, volunteer):
        raise HoursNotFound(entry.id)
    rules.ensure_may_decide(
        entry,
        actor=ctx.actor,
        scope=ctx.scope,
        team=team,
        host_path=ctx.path_of(team.host_id),
        volunteer_user_id=volunteer.user_id,
    )
    return entry


def _sees_hours(ctx: Context, team: Team, volunteer: Volunteer) -> bool:
    """Hours are seen by those who run the team, and by the volunteer they are for."""
    if volunteer.user_id is not None and volunteer.user_id == ctx.actor.user_id:
        return True
    return ctx.manages(team)


def get_hours(ctx: Context, command: GetHours) -> ServiceHours:
    entry = ctx.repo.hours(command.entry_id)
    volunteer = ctx.repo.volunteer(entry.volunteer_id)
    if volunteer.user_id is not None and volunteer.user_id == ctx.actor.user_id:
        return entry
    ctx.scope.ensure_roster()
    if not _sees_hours(ctx, ctx.repo.team(entry.team_id), volunteer):
        raise HoursNotFound(entry.id)
    return entry


def list_hours(ctx: Context, command: ListHours) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    items = ctx.repo.list_hours(
        command.page,
        status=command.status,
        volunteer_id=command.volunteer_id,
        activity_id=command.activity_id,
        team_id=command.team_id,
        project_id=command.project_id,
        team_ids=ctx.team_scope(),
    )
    result = fetched_page(items, command.page)
    name_volunteers(ctx, result["items"])
    return result


def statement(ctx: Context, command: GetStatement) -> dict[str, Any]:
    """A volunteer's statement of verified hours: every entry and the total. She sees all of
    hers; staff and leaders see only what she served in the teams they see (her hours in
    another federation's teams are that federation's to show)."""
    volunteer = visible_volunteer(ctx, command.volunteer_id)
    own = volunteer.user_id is not None and volunteer.user_id == ctx.actor.user_id
    entries = ctx.repo.statement(volunteer.id, None if own else ctx.team_scope())
    total = sum(entry.minutes for entry in entries)
    return {
        "volunteer_id": volunteer.id,
        "name": volunteer.name,
        "entries": [dict(entry._mapping) for entry in entries],
        "total_minutes": total,
        "total_hours": hours(total),
    }


def report(ctx: Context, command: HoursReport) -> dict[str, Any]:
    """Verified hours grouped by volunteer, team, theme, project or month, a page of groups at
    a time; computed by the database. Staff see their subtree's teams, a leader her own."""
    if ctx.actor.role not in REPORT_ROLES:
        raise OutOfScope(f"a {ctx.actor.role} does not read hours reports", role=ctx.actor.role)
    group_by = command.group_by
    if group_by == "volunteer":
        ctx.scope.ensure_roster()
    since, until = report_period(command.since, command.until)
    limit = command.limit or REPORT_LIMIT
    rows, totals = ctx.repo.report(
        group_by,
        since=since,
        until=until,
        team_ids=ctx.team_scope(),
        limit=limit,
        after=command.after,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].key])
    return {
        "group_by": group_by,
        "since": since,
        "until": until,
        "items": [_report_row(row) for row in rows],
        "total": {
            "entries": totals.entries,
            "minutes": int(totals.minutes),
            "hours": hours(int(totals.minutes)),
        },
        "next_cursor": next_cursor,
    }


def _report_row(row: Any) -> dict[str, Any]:
    return {
        "key": row.key or None,
        "label": row.label or None,
        "entries": row.entries,
        "minutes": int(row.minutes),
        "hours": hours(int(row.minutes)),
    }
