"""What each registry use case is asked to do: one frozen dataclass per use case.

The service builds them from the marshmallow schemas' loaded payloads (``schemas.py``), so a
command's fields are already valid in type and form; the rules are the use cases'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kit.paging import PageRequest


@dataclass(frozen=True)
class RegisterOrganization:
    name: str
    kind: str
    parent_id: str | None = None
    level: str | None = None
    sector: str | None = None
    uscc: str | None = None
    region_code: str | None = None
    contact: dict[str, Any] | None = None


@dataclass(frozen=True)
class UpdateOrganization:
    """A partial edit: ``changes`` holds only the fields the client named (a field set to
    ``None`` is cleared, an absent one is left alone); ``version``, if given, must be current."""

    organization_id: str
    changes: Mapping[str, Any]
    version: int | None = None


@dataclass(frozen=True)
class ChangeStatus:
    """``action`` is one of ``lifecycle.TRANSITIONS``: verify, suspend, reinstate, deregister."""

    organization_id: str
    action: str
    reason: str | None = None


@dataclass(frozen=True)
class GetOrganization:
    organization_id: str


@dataclass(frozen=True)
class ListOrganizations:
    """``within`` lists a whole subtree (every descendant of that organization); ``parent_id``
    lists direct children; ``q`` matches part of the name."""

    page: PageRequest
    kind: str | None = None
    status: str | None = None
    parent_id: str | None = None
    within: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class ListStatusHistory:
    organization_id: str
    page: PageRequest


@dataclass(frozen=True)
class GetCoverage:
    organization_id: str


@dataclass(frozen=True)
class WorkbenchCoverage:
    """The coverage card of the workbench: the actor's federation's subtree (admin and ops:
    the whole installation)."""


@dataclass(frozen=True)
class GetAssessmentFigures:
    """The registry's figure set of a federation's annual assessment: per child federation."""

    federation_id: str
    year: int


@dataclass(frozen=True)
class GetAssessmentWeights:
    federation_id: str
    year: int


@dataclass(frozen=True)
class ChangeAssessmentWeights:
    """``weights`` names the indicators to change (the others keep theirs)."""

    federation_id: str
    year: int
    weights: Mapping[str, Any]
    reason: str | None = None
