"""A spreadsheet import, a batch at a time (the gateway reads the file and sends its rows), and
how far an import has come. The steps of a batch are the domain's (``domain.importing``);
this module gives them what they look up: the teams rows name, the volunteers registered
already, the keys."""

from __future__ import annotations

import uuid
from typing import Any

from kit.errors import InvalidInput
from volunteers.commands import GetImportProgress, ImportBatch
from volunteers.context import Context
from volunteers.domain import importing
from volunteers.domain.importing import ImportTally
from volunteers.domain.roster import Team, team_search_key


def import_batch(ctx: Context, command: ImportBatch) -> dict[str, Any]:
    """One batch of an import: every valid, new row goes in (all of them in this unit of
    work), every other row comes back with its line and why."""
    import_id = importing.check_batch(command.import_id, command.rows)
    ctx.scope.ensure_roster()
    tally = ImportTally(received=len(command.rows))
    candidates = importing.parse(command.rows, ctx.clock.today(), tally)
    teams = resolve_teams(ctx, {c.team_ref for c in candidates if c.team_ref})
    checked = importing.deduplicate(candidates, teams, ctx.personal_data.digest, tally)
    existing = ctx.repo.existing(
        [c.phone_hash for c in checked], [c.id_hash for c in checked if c.id_hash is not None]
    )
    visible = ctx.visible_volunteers([row.id for row in existing])
    fresh = importing.drop_registered(checked, existing, visible, import_id, tally)
    new_volunteers, new_members = importing.build_rows(
        fresh,
        import_id=import_id,
        actor_id=ctx.actor.user_id,
        at=ctx.clock.now(),
        seal=ctx.personal_data.seal,
        organization_of=ctx.scope.registering_organization,
    )
    ctx.repo.add_imported(new_volunteers, new_members)
    tally.imported = len(new_volunteers)
    if new_volunteers:
        ctx.uow.emit(
            "volunteer_registered",
            volunteer_ids=[row["id"] for row in new_volunteers],
            import_id=import_id,
            actor_id=ctx.actor.user_id,
        )
    return tally.as_dict()


def resolve_teams(ctx: Context, refs: set[str]) -> dict[str, Team | dict[str, str]]:
    """Each team named in an import (by id or by name, 简/繁 alike) → the team, or why not."""
    if not refs:
        return {}
    ids = importing.team_ids(refs)
    by_id = ctx.repo.teams_by_ids(list(ids.values()))
    by_name: dict[str, list[Team]] = {}
    for team in ctx.repo.teams_named([team_search_key(ref) for ref in refs if ref not in ids]):
        by_name.setdefault(team.search_name, []).append(team)
    resolved: dict[str, Team | dict[str, str]] = {}
    for ref in refs:
        if ref in ids:
            candidates = [by_id[ids[ref]]] if ids[ref] in by_id else []
        else:
            candidates = by_name.get(team_search_key(ref), [])
        # a team the actor does not run is not there for her, as for any other request
        resolved[ref] = importing.choose_team(ref, [t for t in candidates if ctx.manages(t)])
    return resolved


def import_progress(ctx: Context, command: GetImportProgress) -> dict[str, Any]:
    """How far an import has come, polled while its file goes in (or after it stopped): the
    volunteers it wrote and the last line among them. Whole batches commit, so this moves a
    batch at a time. An import is its importer's: anyone else (but an admin) reads nothing of
    it, as if it had not started."""
    ctx.scope.ensure_roster()
    try:
        import_id = str(uuid.UUID(str(command.import_id)))
    except ValueError:
        raise InvalidInput("import_id is a UUID", field="import_id", rule="uuid") from None
    own = None if ctx.actor.is_admin else ctx.actor.user_id
    imported, through_line = ctx.repo.import_progress(import_id, own)
    return {"import_id": import_id, "imported": imported, "through_line": through_line}
