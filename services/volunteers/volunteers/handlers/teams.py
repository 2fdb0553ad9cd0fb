"""Teams and their members: set up by federation staff above the host, run by their leader."""

from __future__ import annotations

from typing import Any

from kit.paging import fetched_page, page
from volunteers.commands import AddMember, CreateTeam, EditTeam, GetTeam, ListMembers, ListTeams
from volunteers.context import Context
from volunteers.domain.roster import Membership, Team, check_host
from volunteers.domain.scope import MANAGERS
from volunteers.exceptions import AlreadyMember, DuplicateTeam, OutOfScope
from volunteers.handlers.views import volunteer_views


def create_team(ctx: Context, command: CreateTeam) -> dict[str, Any]:
    """A new team under a host the actor's federation covers (a new team has no members)."""
    if ctx.actor.role not in MANAGERS:
        raise OutOfScope(
            "teams are set up by federation staff (team leaders run them)", role=ctx.actor.role
        )
    host_id = command.host_id
    check_host(host_id, ctx.entry(host_id))
    if not ctx.scope.covers(ctx.path_of(host_id)):
        raise OutOfScope(
            "you set up teams under your own federation and the organizations below it",
            field="host_id",
        )
    existing = ctx.repo.team_named(host_id, command.name)
    if existing is not None:
        raise DuplicateTeam(host_id, existing.id)
    team = Team(
        name=command.name,
        theme=command.theme,
        host_id=host_id,
        leader_user_id=command.leader_user_id,
        description=command.description,
        created_by=ctx.actor.user_id,
        created_at=ctx.clock.now(),
    )
    ctx.repo.add(team)
    return team_view(team, 0)


def edit_team(ctx: Context, command: EditTeam) -> Team:
    team = ctx.managed_team(command.team_id, for_update=True)
    if not ctx.scope.covers(ctx.path_of(team.host_id)):
        raise OutOfScope(
            "a team's name, theme and leader are changed by the federations above its host",
            team_id=team.id,
        )
    changes = dict(command.changes)
    if "name" in changes and changes["name"] != team.name:
        existing = ctx.repo.team_named(team.host_id, changes["name"])
        if existing is not None:
            raise DuplicateTeam(team.host_id, existing.id)
    team.edit(changes, ctx.clock.now())
    return team


def get_team(ctx: Context, command: GetTeam) -> dict[str, Any]:
    """A team the actor runs (a leader her own, staff their subtree's, an admin any)."""
    ctx.scope.ensure_roster()
    team = ctx.managed_team(command.team_id)
    return team_view(team, ctx.repo.member_counts([team.id]).get(team.id, 0))


def list_teams(ctx: Context, command: ListTeams) -> dict[str, Any]:
    """The teams the actor runs: a leader lists her own (``mine`` or not), staff their
    subtree's, an admin every team."""
    ctx.scope.ensure_roster()
    request = command.page
    leader = command.leader_user_id
    within_path = None
    if ctx.actor.role == "team_leader":
        if leader and leader != ctx.actor.user_id:
            return page([], request, total=0)
        leader = ctx.actor.user_id
    elif ctx.actor.role == "federation_staff":
        within_path = ctx.scope.federation_path or "-"
    items = ctx.repo.list_teams(
        request,
        theme=command.theme,
        host_id=command.host_id,
        leader_user_id=leader,
        q=command.q,
        within_path=within_path,
    )
    result = fetched_page(items, request)
    counts = ctx.repo.member_counts([team.id for team in result["items"]])
    result["items"] = [team_view(team, counts.get(team.id, 0)) for team in result["items"]]
    return result


def team_view(team: Team, members: int) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "theme": team.theme,
        "host_id": team.host_id,
        "leader_user_id": team.leader_user_id,
        "description": team.description,
        "members": members,
        "created_by": team.created_by,
        "created_at": team.created_at,
        "updated_at": team.updated_at,
        "version": team.version,
    }


def add_member(ctx: Context, command: AddMember) -> Membership:
    ctx.scope.ensure_roster()
    team = ctx.managed_team(command.team_id)
    volunteer = ctx.named_volunteer(command.volunteer_id)
    if ctx.repo.membership(team.id, volunteer.id) is not None:
        raise AlreadyMember(team.id, volunteer.id)
    membership = Membership(
        team_id=team.id,
        volunteer_id=volunteer.id,
        added_by=ctx.actor.user_id,
        joined_at=ctx.clock.now(),
    )
    ctx.repo.add(membership)
    return membership


def list_members(ctx: Context, command: ListMembers) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    team = ctx.managed_team(command.team_id)
    items = ctx.repo.list_volunteers(command.page, team_id=team.id)
    result = fetched_page(items, command.page)
    result["items"] = volunteer_views(ctx, result["items"])
    return result
