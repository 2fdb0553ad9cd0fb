"""How volunteers, enrolments and hours entries are shown, shared by the use cases that list
them: personal data masked unless revealed, and each entry with its volunteer's name."""

from __future__ import annotations

from typing import Any

from volunteers.context import Context
from volunteers.domain.identity import mask_id_number, mask_phone
from volunteers.domain.roster import Volunteer


def volunteer_views(
    ctx: Context,
    people: list[Volunteer],
    *,
    revealed: tuple[str, ...] = (),
    teams: dict[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Volunteers as the API shows them: phone and ID number masked unless ``revealed``."""
    if teams is None:
        teams = ctx.repo.teams_of([v.id for v in people])
    open_ = ctx.personal_data.open
    views = []
    for volunteer in people:
        phone = open_(volunteer.phone_cipher, "phone", volunteer.id)
        id_number = (
            open_(volunteer.id_number_cipher, "id_number", volunteer.id)
            if volunteer.id_number_cipher
            else None
        )
        views.append(
            {
                "id": volunteer.id,
                "name": volunteer.name,
                "phone": phone if "phone" in revealed else mask_phone(phone),
                "id_number": None
                if id_number is None
                else id_number
                if "id_number" in revealed
                else mask_id_number(id_number),
                "unmasked": list(revealed),
                "skills": volunteer.skills,
                "consented_on": volunteer.consented_on,
                "user_id": volunteer.user_id,
                "team_ids": teams.get(volunteer.id, []),
                "created_by": volunteer.created_by,
                "created_at": volunteer.created_at,
            }
        )
    return views


def name_volunteers(ctx: Context, items: list[Any]) -> None:
    """Each enrolment or hours entry of a page with its volunteer's name (those who run a team
    see its members' names on its roster already), read for the page in one query. The name
    rides on the loaded object for the dump; nothing is written."""
    names = ctx.repo.names_of([item.volunteer_id for item in items])
    for item in items:
        item.volunteer_name = names.get(item.volunteer_id)
