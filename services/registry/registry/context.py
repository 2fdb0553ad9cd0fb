"""What every registry use case works with: the unit of work, the organizations, who is acting
and what time it is. Built in one place, ``RegistryService.context``; tests build it over
in-memory fakes (``tests/unit/fakes/registry.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.usecase import Clock
from language.actor import Actor
from registry.domain import scope
from registry.domain.organization import Organization
from registry.exceptions import InvalidParent
from registry.repository import OrganizationRepository


@dataclass
class Context:
    uow: Any
    organizations: OrganizationRepository
    actor: Actor
    clock: Clock
    #: the annual assessment's figures and weights (``registry.assessment_repository``)
    assessments: Any = None

    def readable(self, organization_id: str) -> Organization:
        """The organization, if the actor may read it (else not found, or out of scope)."""
        organization = self.organizations.get(organization_id)
        scope.ensure_can_read(self.actor, organization)
        return organization

    def parent(self, parent_id: str | None) -> Organization | None:
        """The organization a new or moved one is to sit under (``None``: the top)."""
        if parent_id is None:
            return None
        parent = self.organizations.find(parent_id)
        if parent is None:
            raise InvalidParent(
                f"no organization {parent_id}", rule="exists", parent_id=str(parent_id)
            )
        return parent
