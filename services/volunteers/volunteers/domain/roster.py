"""The roster: teams (hosted by a federation or host unit, on one of the federation's themes),
volunteers as stored (personal data only as ciphertext and keyed hash) and their memberships."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kit.aggregate import Aggregate
from kit.text import search_key
from volunteers.domain.identity import MAX_NAME, VolunteerDraft
from volunteers.exceptions import RuleBroken

THEMES = (
    "low_carbon_living",
    "civilised_traffic",
    "healthy_living",
    "caring_for_the_vulnerable",
    "rights_mutual_aid",
    "legal_aid",
    "family_education",
    "entrepreneurship_mentoring",
    "other",
)
#: the organizations a team may be hosted by (kinds in the registry's directory)
HOST_KINDS = ("federation", "host_unit")
#: a team's name and an activity's title (their columns, and their search keys' columns)
MAX_TITLE = 200


class Team(Aggregate):
    def __init__(
        self,
        *,
        name: str,
        theme: str,
        host_id: str,
        leader_user_id: str | None,
        description: str | None,
        created_by: str,
        created_at: datetime,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.name = name
        self.search_name = team_search_key(name)
        self.theme = check_theme(theme)
        self.host_id = host_id
        self.leader_user_id = leader_user_id
        self.description = description
        self.created_by = created_by
        self.created_at = created_at
        self.updated_at = created_at
        self.version = 1

    def edit(self, changes: dict[str, Any], at: datetime) -> None:
        if "name" in changes:
            self.name = changes["name"]
            self.search_name = team_search_key(self.name)
        if "theme" in changes:
            self.theme = check_theme(changes["theme"])
        for key in ("leader_user_id", "description"):
            if key in changes:
                setattr(self, key, changes[key])
        self.updated_at = at
        self.version += 1


def team_search_key(name: str) -> str:
    """The key a team is searched and matched by. Cut to its column: case folding can
    lengthen a name (ß becomes ss)."""
    return search_key(name)[:MAX_TITLE]


def check_theme(theme: str) -> str:
    if theme not in THEMES:
        raise RuleBroken(f"theme must be one of {', '.join(THEMES)}", field="theme", rule="one_of")
    return theme


class Volunteer(Aggregate):
    """A volunteer as stored: personal data only as ciphertext and keyed hash."""

    def __init__(
        self,
        *,
        draft: VolunteerDraft,
        phone_cipher: str,
        phone_hash: str,
        id_number_cipher: str | None,
        id_number_hash: str | None,
        created_by: str,
        created_at: datetime,
        organization_id: str | None = None,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.name = draft.name
        self.search_name = search_key(draft.name)[:MAX_NAME]
        self.phone_cipher = phone_cipher
        self.phone_hash = phone_hash
        self.id_number_cipher = id_number_cipher
        self.id_number_hash = id_number_hash
        self.skills = list(draft.skills)
        self.consented_on = draft.consented_on
        self.user_id = draft.user_id
        self.created_by = created_by
        self.created_at = created_at
        self.import_id: str | None = None
        self.import_line: int | None = None
        self.organization_id = organization_id
        # only the id: no personal data in events
        self.record("volunteer_registered", volunteer_ids=[self.id], actor_id=created_by)


class Membership(Aggregate):
    def __init__(self, *, team_id: str, volunteer_id: str, added_by: str, joined_at: datetime):
        self.team_id = team_id
        self.volunteer_id = volunteer_id
        self.added_by = added_by
        self.joined_at = joined_at


def check_host(host_id: str, entry: dict[str, Any] | None) -> None:
    """A team's host is a federation or a host unit the directory knows, and active."""
    if entry is None or entry.get("kind") not in HOST_KINDS:
        raise RuleBroken(
            "the host must be a federation or a host unit known to the registry",
            field="host_id",
            rule="host_kind",
            host_id=host_id,
            host_kind=entry.get("kind") if entry else None,
        )
    if entry.get("status") not in ("registered", "verified", "reinstated"):
        raise RuleBroken(
            f"the host organization is {entry.get('status')}",
            field="host_id",
            rule="active",
            host_id=host_id,
        )
