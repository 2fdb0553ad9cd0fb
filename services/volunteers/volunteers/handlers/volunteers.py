"""Volunteers and their personal data: registration, the roster the actor may see, an admin's
audited read in clear, the audit itself, and re-encryption after a key rotation."""

from __future__ import annotations

import uuid
from typing import Any

from kit import audit
from kit.errors import InvalidInput
from kit.paging import fetched_page
from volunteers.commands import (
    GetVolunteer,
    ListPersonalDataReads,
    ListVolunteers,
    ReencryptPersonalData,
    RegisterVolunteer,
)
from volunteers.context import Context
from volunteers.domain.identity import PERSONAL_FIELDS, VolunteerDraft, check_registration
from volunteers.domain.roster import Membership, Volunteer
from volunteers.exceptions import (
    DuplicateVolunteer,
    OutOfScope,
    UnmaskingNotAllowed,
    VolunteerNotFound,
)
from volunteers.handlers.views import volunteer_views

#: the most volunteers one call re-encrypts
MAX_REENCRYPT = 10_000


def register_volunteer(ctx: Context, command: RegisterVolunteer) -> dict[str, Any]:
    """One volunteer, checked, her personal data sealed, joining a team if one is named; a
    phone or ID number registered already is refused."""
    ctx.scope.ensure_roster()
    draft = check_registration(
        name=command.name,
        phone=command.phone,
        id_number=command.id_number,
        skills=command.skills,
        consented_on=command.consented_on,
        user_id=command.user_id,
        today=ctx.clock.today(),
    )
    team = ctx.named_team(command.team_id) if command.team_id else None
    phone_hash, id_hash = _hashes(ctx, draft)
    for row in ctx.repo.existing([phone_hash], [id_hash] if id_hash else []):
        # refused all the same; named only to whom may see her (no probing by phone number)
        shown = row.id if ctx.visible_volunteers([row.id]) else None
        raise DuplicateVolunteer("phone" if row.phone_hash == phone_hash else "id_number", shown)
    volunteer_id = str(uuid.uuid4())
    seal = ctx.personal_data.seal
    at = ctx.clock.now()
    volunteer = Volunteer(
        id=volunteer_id,
        draft=draft,
        phone_cipher=seal(draft.phone, "phone", volunteer_id),
        phone_hash=phone_hash,
        id_number_cipher=seal(draft.id_number, "id_number", volunteer_id)
        if draft.id_number
        else None,
        id_number_hash=id_hash,
        created_by=ctx.actor.user_id,
        created_at=at,
        organization_id=ctx.scope.registering_organization(team.host_id if team else None),
    )
    ctx.repo.add(volunteer)
    if team is not None:
        ctx.repo.flush()  # the member row refers to her
        ctx.repo.add(
            Membership(
                team_id=team.id, volunteer_id=volunteer_id, added_by=ctx.actor.user_id, joined_at=at
            )
        )
    return volunteer_views(ctx, [volunteer], teams={volunteer_id: [team.id] if team else []})[0]


def _hashes(ctx: Context, draft: VolunteerDraft) -> tuple[str, str | None]:
    digest = ctx.personal_data.digest
    phone_hash = digest("phone", draft.phone)
    id_hash = digest("id_number", draft.id_number) if draft.id_number else None
    return phone_hash, id_hash


def visible_volunteer(ctx: Context, volunteer_id: str) -> Volunteer:
    """The volunteer, if the actor may see her (a team leader: her members, whom she
    registered, and herself; staff: their subtree's); to anybody else she is not there."""
    volunteer = ctx.repo.volunteer(volunteer_id)
    if volunteer.user_id is not None and volunteer.user_id == ctx.actor.user_id:
        return volunteer
    ctx.scope.ensure_roster()
    if not ctx.repo.sees_volunteer(volunteer.id, ctx.roster_scope()):
        raise VolunteerNotFound(volunteer.id)
    return volunteer


def get_volunteer(ctx: Context, command: GetVolunteer) -> dict[str, Any]:
    """A volunteer, personal data masked; an admin may ask for it in clear, and that read is
    written to the audit in the same transaction as it happens."""
    if command.unmasked and not ctx.actor.is_admin:
        raise UnmaskingNotAllowed(ctx.actor.role)
    volunteer = visible_volunteer(ctx, command.volunteer_id)
    revealed: tuple[str, ...] = ()
    if command.unmasked:
        wanted = command.fields or PERSONAL_FIELDS
        revealed = tuple(
            name
            for name in PERSONAL_FIELDS
            if name in wanted and getattr(volunteer, f"{name}_cipher") is not None
        )
        ctx.repo.record_read(
            {
                "id": str(uuid.uuid4()),
                "volunteer_id": volunteer.id,
                "fields": ",".join(revealed),
                "actor_id": ctx.actor.user_id,
                "actor_name": ctx.actor.username[:64],
                "actor_role": ctx.actor.role,
                "reason": command.reason,
                "read_at": ctx.clock.now(),
            }
        )
        audit.declare(ctx.uow, personal_data_read(ctx, volunteer, revealed, command.reason))
    return volunteer_views(ctx, [volunteer], revealed=revealed)[0]


def personal_data_read(
    ctx: Context, volunteer: Volunteer, revealed: tuple[str, ...], reason: str | None
) -> audit.AuditEntry:
    """The audit record of one read of personal data in clear: which fields (never their
    values) and why."""
    return audit.AuditEntry(
        action="read_personal_data",
        object_type="volunteer",
        object_id=volunteer.id,
        changes=(
            {"field": "fields", "before": None, "after": ",".join(revealed)},
            {"field": "reason", "before": None, "after": reason},
        ),
        scope_path=audit.scope_of(ctx, volunteer, ctx.actor.to_dict()),
    )


def list_volunteers(ctx: Context, command: ListVolunteers) -> dict[str, Any]:
    ctx.scope.ensure_roster()
    items = ctx.repo.list_volunteers(
        command.page,
        q=command.q,
        team_id=command.team_id,
        skill=command.skill,
        visible=ctx.roster_scope(),
    )
    result = fetched_page(items, command.page)
    skill = command.skill
    found = [v for v in result["items"] if not skill or skill in v.skills]
    result["items"] = volunteer_views(ctx, found)
    return result


def personal_data_reads(ctx: Context, command: ListPersonalDataReads) -> dict[str, Any]:
    """The audit of personal data read in clear: who read whose, which fields, why."""
    if not ctx.actor.is_admin:
        raise OutOfScope("the audit of personal data reads is for admins", role=ctx.actor.role)
    rows = ctx.repo.reads(
        command.page, volunteer_id=command.volunteer_id, actor_id=command.actor_id
    )
    result = fetched_page(rows, command.page)
    result["items"] = [
        {**row._mapping, "fields": row.fields.split(",") if row.fields else []}
        for row in result["items"]
    ]
    return result


def check_reencrypt_limit(limit: Any) -> int:
    """A batch of re-encryption is a whole number of volunteers from 1 to ``MAX_REENCRYPT``:
    anything else is refused (``InvalidInput`` on ``limit``, rule ``range``), never clamped."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_REENCRYPT:
        raise InvalidInput(
            f"limit is a whole number from 1 to {MAX_REENCRYPT}",
            field="limit",
            rule="range",
            fields={"limit": [f"Must be between 1 and {MAX_REENCRYPT}."]},
        )
    return limit


def reencrypt_personal_data(ctx: Context, command: ReencryptPersonalData) -> dict[str, Any]:
    """Seal up to ``limit`` volunteers' data sealed with a retired key again with the current
    one; how many were, and the current key's id. Admins only; call until it answers 0."""
    if not ctx.actor.is_admin:
        raise OutOfScope("re-encryption is for admins")
    limit = check_reencrypt_limit(command.limit)
    keys = ctx.personal_data
    stale = ctx.repo.stale_envelopes(keys.current_key_id, limit)
    for volunteer in stale:
        for name in PERSONAL_FIELDS:
            envelope = getattr(volunteer, f"{name}_cipher")
            if envelope is not None and not keys.is_current(envelope):
                clear = keys.open(envelope, name, volunteer.id)
                setattr(volunteer, f"{name}_cipher", keys.seal(clear, name, volunteer.id))
    return {"reencrypted": len(stale), "key_id": keys.current_key_id}
