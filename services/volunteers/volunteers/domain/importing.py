"""One batch of a volunteer import, in steps that each do one thing:

1. ``check_batch``: the batch's shape (a list of at most ``MAX_BATCH_ROWS`` rows, a UUID);
2. ``parse``: each row's cells and the rules of a registration (``identity``) — a row that
   breaks one is refused with its line, the field and the rule;
3. ``choose_team``: the team a row names (by id or by name), or why there is none;
4. ``deduplicate``: a row naming a team that is not there, or repeating the phone or ID
   number of an earlier row of the batch, is refused; the others get their look-up hashes;
5. ``drop_registered``: a row whose phone or ID number a volunteer holds already is refused
   (naming her only to whom may see her);
6. ``build_rows``: the volunteers' and memberships' rows that go in, personal data sealed.

``ImportTally`` counts what the batch came to and lists each refused row. Plain Python: the
look-ups (teams, registered volunteers) and the keys are the caller's, passed in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kit.errors import InvalidInput
from kit.text import search_keys
from volunteers.domain.identity import MAX_NAME, VolunteerDraft, check_registration
from volunteers.domain.roster import Team
from volunteers.exceptions import RuleBroken

#: the cells of a row after its line number, as the gateway sends them
IMPORT_COLUMNS = ("name", "phone", "id_number", "skills", "consented_on", "team")
#: the longest cell a row may hold (a longer one refuses the row, never cut short)
MAX_CELL = 1000
#: the most rows one import call takes (the gateway sends 2,000 by default)
MAX_BATCH_ROWS = 10_000

#: the look-up hash of a personal field's value (``PersonalData.digest``)
Digest = Callable[[str, str], str]
#: an envelope of a personal field's value for a volunteer (``PersonalData.seal``)
Seal = Callable[[str, str, str], str]


@dataclass
class ImportTally:
    """What one batch of an import came to."""

    received: int = 0
    imported: int = 0
    invalid: int = 0
    duplicate: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(
        self, line: int, kind: str, field: str, rule: str, message: str, **more: Any
    ) -> None:
        """Count a row that did not go in (``kind``: invalid or duplicate) and say why."""
        if kind == "invalid":
            self.invalid += 1
        else:
            self.duplicate += 1
        self.errors.append(
            {"line": line, "kind": kind, "field": field, "rule": rule, "message": message, **more}
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "imported": self.imported,
            "invalid": self.invalid,
            "duplicate": self.duplicate,
            "errors": sorted(self.errors, key=lambda error: error["line"]),
        }


@dataclass(frozen=True)
class Candidate:
    """A row that passed every rule of a registration, and the team it names (if any)."""

    line: int
    draft: VolunteerDraft
    team_ref: str | None


@dataclass(frozen=True)
class Checked:
    """A row new within its batch: its team (resolved) and its look-up hashes."""

    line: int
    draft: VolunteerDraft
    team: Team | None
    phone_hash: str
    id_hash: str | None


# --- 1. the batch --------------------------------------------------------------------------


def check_batch(import_id: Any, rows: Any) -> str:
    """The import's id as a UUID's text; raises ``InvalidInput`` on ``rows`` (not a list, or
    more than ``MAX_BATCH_ROWS``) or on ``import_id`` (not a UUID)."""
    if not isinstance(rows, list) or len(rows) > MAX_BATCH_ROWS:
        raise InvalidInput(
            f"a batch is a list of at most {MAX_BATCH_ROWS} rows", field="rows", rule="shape"
        )
    try:
        return str(uuid.UUID(str(import_id)))
    except ValueError:
        raise InvalidInput("import_id is a UUID", field="import_id", rule="uuid") from None


# --- 2. parse ------------------------------------------------------------------------------


def row_cells(row: Any) -> tuple[int, list[str | None]]:
    """A row of a batch as the gateway sends it: [line, name, phone, id_number, skills,
    consented_on, team], cells text or null. A malformed row refuses the whole batch."""
    if not isinstance(row, list) or not 1 <= len(row) <= len(IMPORT_COLUMNS) + 1:
        raise InvalidInput("each row is [line, name, phone, ...]", field="rows", rule="shape")
    line = row[0]
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        raise InvalidInput("a row starts with its line number", field="rows", rule="line")
    cells: list[str | None] = []
    for cell in row[1:]:
        if cell is not None and not isinstance(cell, str):
            raise InvalidInput("cells are text or null", field="rows", rule="cell_type")
        cells.append(cell or None)
    cells.extend([None] * (len(IMPORT_COLUMNS) - len(cells)))
    return line, cells


def too_long(cells: Sequence[str | None]) -> str | None:
    """The first column whose cell is longer than ``MAX_CELL``, if any."""
    return next(
        (
            column
            for column, cell in zip(IMPORT_COLUMNS, cells, strict=True)
            if cell is not None and len(cell) > MAX_CELL
        ),
        None,
    )


def parse_row(row: Any, today: date, tally: ImportTally) -> Candidate | None:
    """The row as a candidate, or None when it breaks a rule (refused in ``tally``)."""
    line, cells = row_cells(row)
    name, phone, id_number, skills, consented_on, team_ref = cells
    column = too_long(cells)
    if column is not None:
        # refused whole, not cut short: a cut skills list would go in silently wrong
        message = f"a cell has at most {MAX_CELL} characters"
        tally.refuse(line, "invalid", column, "max_length", message)
        return None
    try:
        draft = check_registration(
            name=name,
            phone=phone,
            id_number=id_number,
            skills=skills,
            consented_on=consented_on,
            today=today,
        )
    except RuleBroken as problem:
        tally.refuse(line, "invalid", problem.field, problem.rule, problem.message)
        return None
    team = team_ref.strip() if team_ref and team_ref.strip() else None
    return Candidate(line, draft, team)


def parse(rows: Iterable[Any], today: date, tally: ImportTally) -> list[Candidate]:
    """The rows that pass every rule of a registration, in order; the others refused."""
    parsed = (parse_row(row, today, tally) for row in rows)
    return [candidate for candidate in parsed if candidate is not None]


# --- 3. teams ------------------------------------------------------------------------------


def team_ids(refs: Iterable[str]) -> dict[str, str]:
    """The references that are a team's id (a UUID), each with the id as stored."""
    ids = {}
    for ref in refs:
        try:
            ids[ref] = str(uuid.UUID(ref))
        except ValueError:
            continue
    return ids


def choose_team(ref: str, candidates: Sequence[Team]) -> Team | dict[str, str]:
    """The one team ``ref`` names among those the actor runs, or why not (``exists``: none,
    ``ambiguous``: several of that name)."""
    if not candidates:
        return {"rule": "exists", "message": f"no team {ref!r}"}
    if len(candidates) > 1:
        return {
            "rule": "ambiguous",
            "message": f"{len(candidates)} teams are called {ref!r}; give the team's id",
        }
    return candidates[0]


# --- 4. duplicates within the batch ---------------------------------------------------------


def deduplicate(
    candidates: Iterable[Candidate],
    teams: dict[str, Team | dict[str, str]],
    digest: Digest,
    tally: ImportTally,
) -> list[Checked]:
    """The candidates whose team is there and who repeat no earlier row's phone or ID number
    (a repeat names the line it repeats), with their look-up hashes."""
    checked: list[Checked] = []
    first_line_of: dict[str, int] = {}
    for candidate in candidates:
        line, draft = candidate.line, candidate.draft
        team = teams[candidate.team_ref] if candidate.team_ref is not None else None
        if isinstance(team, dict):
            tally.refuse(line, "invalid", "team", team["rule"], team["message"])
            continue
        phone_hash = digest("phone", draft.phone)
        id_hash = digest("id_number", draft.id_number) if draft.id_number else None
        repeated = _repeated(first_line_of, phone_hash, id_hash)
        if repeated is not None:
            column, first = repeated
            message = f"the same {column.replace('_', ' ')} as line {first}"
            tally.refuse(line, "duplicate", column, "unique", message, duplicate_of_line=first)
            continue
        first_line_of[phone_hash] = line
        if id_hash is not None:
            first_line_of[id_hash] = line
        checked.append(Checked(line, draft, team, phone_hash, id_hash))
    return checked


def _repeated(
    first_line_of: dict[str, int], phone_hash: str, id_hash: str | None
) -> tuple[str, int] | None:
    for column, value in (("phone", phone_hash), ("id_number", id_hash)):
        if value is not None and value in first_line_of:
            return column, first_line_of[value]
    return None


# --- 5. volunteers registered already --------------------------------------------------------


def drop_registered(
    checked: Iterable[Checked],
    existing: Iterable[Any],
    visible: set[str],
    import_id: str,
    tally: ImportTally,
) -> list[Checked]:
    """The rows no registered volunteer shares a phone or ID number with. ``existing`` are the
    volunteers holding any of the batch's hashes (``id``, ``phone_hash``, ``id_number_hash``,
    ``import_id``, ``import_line``); ``visible`` the ids of those the actor may see. A
    duplicate names whom it repeats (her id, or the line of this import she came from) only
    to whom may see her; to anybody else it is a duplicate without saying of whom."""
    holders: dict[str, Any] = {}
    for row in existing:
        holders[row.phone_hash] = row
        if row.id_number_hash:
            holders[row.id_number_hash] = row
    fresh: list[Checked] = []
    for item in checked:
        hit = "phone" if item.phone_hash in holders else None
        if hit is None and item.id_hash is not None and item.id_hash in holders:
            hit = "id_number"
        if hit is None:
            fresh.append(item)
            continue
        other = holders[item.phone_hash if hit == "phone" else item.id_hash]  # type: ignore[index]
        _refuse_registered(tally, item.line, hit, other, other.id in visible, import_id)
    return fresh


def _refuse_registered(
    tally: ImportTally, line: int, hit: str, other: Any, shown: bool, import_id: str
) -> None:
    what = hit.replace("_", " ")
    if not shown:
        message = f"a volunteer with this {what} is registered already"
        tally.refuse(line, "duplicate", hit, "unique", message)
    elif other.import_id == import_id and other.import_line is not None:
        message = f"the same {what} as line {other.import_line}"
        tally.refuse(line, "duplicate", hit, "unique", message, duplicate_of_line=other.import_line)
    else:
        message = f"a volunteer with this {what} is registered already"
        tally.refuse(line, "duplicate", hit, "unique", message, duplicate_of_volunteer_id=other.id)


# --- 6. the rows that go in ----------------------------------------------------------------


def build_rows(
    fresh: Sequence[Checked],
    *,
    import_id: str,
    actor_id: str,
    at: datetime,
    seal: Seal,
    organization_of: Callable[[str | None], str | None],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The volunteers' rows (personal data sealed, each with its line of the import) and the
    memberships of those who join a team. ``organization_of`` gives the organization a
    volunteer belongs to from her team's host (``Scope.registering_organization``)."""
    volunteers: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    names = search_keys([item.draft.name for item in fresh])
    for item, search_name in zip(fresh, names, strict=True):
        draft, team = item.draft, item.team
        volunteer_id = str(uuid.uuid4())
        volunteers.append(
            {
                "id": volunteer_id,
                "name": draft.name,
                "search_name": search_name[:MAX_NAME],
                "phone_cipher": seal(draft.phone, "phone", volunteer_id),
                "phone_hash": item.phone_hash,
                "id_number_cipher": seal(draft.id_number, "id_number", volunteer_id)
                if draft.id_number
                else None,
                "id_number_hash": item.id_hash,
                "skills": draft.skills,
                "consented_on": draft.consented_on,
                "user_id": None,
                "created_by": actor_id,
                "created_at": at,
                "import_id": import_id,
                "import_line": item.line,
                "organization_id": organization_of(team.host_id if team else None),
            }
        )
        if team is not None:
            members.append(
                {
                    "team_id": team.id,
                    "volunteer_id": volunteer_id,
                    "added_by": actor_id,
                    "joined_at": at,
                }
            )
    return volunteers, members
