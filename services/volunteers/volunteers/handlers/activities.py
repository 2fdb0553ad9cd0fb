"""Activities of the teams the actor runs, enrolment and the waitlist, and the projects an
activity may name (learnt from projects' ``project_published``, or asked of the projects
service)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kit.clock import CHINA
from kit.paging import fetched_page
from volunteers.commands import (
    CancelEnrolment,
    CreateActivity,
    Enrol,
    GetActivity,
    ListActivities,
    ListEnrolments,
    ProjectPublished,
)
from volunteers.context import Context
from volunteers.domain import activities as rules
from volunteers.domain.activities import Activity, Enrolment
from volunteers.domain.roster import Team
from volunteers.exceptions import (
    ActivityNotFound,
    AlreadyEnrolled,
    EnrolmentNotFound,
    RuleBroken,
)
from volunteers.handlers.views import name_volunteers


def create_activity(ctx: Context, command: CreateActivity) -> Activity:
    team = ctx.named_team(command.team_id)
    if command.project_id:
        ensure_project_available(ctx, str(command.project_id), team)
    activity = Activity(
        title=command.title,
        team_id=team.id,
        project_id=command.project_id,
        starts_at=command.starts_at,
        ends_at=command.ends_at,
        place=command.place,
        capacity=command.capacity,
        description=command.description,
        created_by=ctx.actor.user_id,
        created_at=ctx.clock.now(),
    )
    ctx.repo.add(activity)
    return activity


def ensure_project_available(ctx: Context, project_id: str, team: Team) -> None:
    """The project an activity names: one the service has heard of (from ``project_published``,
    or — not yet heard of — from the projects service, asked as the actor, so a project
    published a second ago is usable at once), purchased in the line of the actor's
    organization or of the team's host. Unknown is a 422 ``exists``, elsewhere a 422
    ``project_not_available``, both on ``project_id``."""
    purchaser_id = ctx.repo.known_purchaser(project_id)
    if purchaser_id is None:
        answer = ctx.projects(project_id)
        if answer is None:
            raise RuleBroken(
                f"no project {project_id}",
                field="project_id",
                rule="exists",
                code="PROJECT_UNKNOWN",
                project_id=project_id,
            )
        purchaser_id = str(answer["purchaser_id"])
        if answer.get("status") != "draft":  # a draft's purchaser may still change
            ctx.repo.learn_project(project_id, purchaser_id, ctx.clock.now())
    lines = [ctx.path_of(team.host_id)]
    if ctx.actor.organization_id:
        lines.append(ctx.path_of(ctx.actor.organization_id))
    rules.ensure_project_available(project_id, ctx.path_of(purchaser_id), lines)


def learn_project(ctx: Context, fact: ProjectPublished) -> None:
    """``project_published``: the project may be named by activities in its purchaser's line."""
    ctx.repo.learn_project(str(fact.project_id), str(fact.purchaser_id), fact.occurred_at)


def get_activity(ctx: Context, command: GetActivity) -> Activity:
    """An activity of a team the actor runs; any other is a 404."""
    ctx.scope.ensure_roster()
    return ctx.managed_activity(command.activity_id)


def list_activities(ctx: Context, command: ListActivities) -> dict[str, Any]:
    """The activities of the teams the actor runs."""
    ctx.scope.ensure_roster()
    items = ctx.repo.list_activities(
        command.page,
        team_ids=ctx.team_scope(),
        team_id=command.team_id,
        project_id=command.project_id,
        starts_from=day_start(command.starts_from),
        starts_before=day_start(command.starts_before),
        q=command.q,
    )
    return fetched_page(items, command.page)


def day_start(day: date | None) -> datetime | None:
    """Midnight in China, the start of ``day`` for users (a list's starts_from/before)."""
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def enrol(ctx: Context, command: Enrol) -> Enrolment:
    """A place for the volunteer, or one in the waitlist; a cancelled enrolment is taken up
    again at the back of the line. The activity's row lock decides the places."""
    activity = ctx.managed_activity(command.activity_id, for_update=True)
    volunteer = ctx.named_volunteer(command.volunteer_id)
    existing = ctx.repo.enrolment_of(activity.id, volunteer.id)
    if existing is not None and existing.status != "cancelled":
        raise AlreadyEnrolled(activity.id, volunteer.id, existing.id, existing.status)
    at = ctx.clock.now()
    if existing is not None:
        activity.reenrol(existing, waitlist=command.waitlist, actor=ctx.actor, at=at)
        return existing
    enrolment = activity.enrol(volunteer.id, waitlist=command.waitlist, actor=ctx.actor, at=at)
    ctx.repo.add(enrolment)
    return enrolment


def cancel_enrolment(ctx: Context, command: CancelEnrolment) -> dict[str, Any]:
    """The enrolment cancelled and, if it held a place, the first in the waitlist moved up."""
    peek = ctx.repo.enrolment(command.enrolment_id)
    try:
        activity = ctx.managed_activity(peek.activity_id, for_update=True)
    except ActivityNotFound:
        raise EnrolmentNotFound(command.enrolment_id) from None
    enrolment = ctx.repo.enrolment(command.enrolment_id, for_update=True)
    first = ctx.repo.first_waitlisted(activity.id) if enrolment.status == "enrolled" else None
    promoted = activity.cancel(enrolment, first, actor=ctx.actor, at=ctx.clock.now())
    return {"enrolment": enrolment, "promoted": promoted}


def list_enrolments(ctx: Context, command: ListEnrolments) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    activity = ctx.managed_activity(command.activity_id)
    items = ctx.repo.list_enrolments(activity.id, command.page, status=command.status)
    result = fetched_page(items, command.page)
    name_volunteers(ctx, result["items"])
    return result
