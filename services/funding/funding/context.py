"""What every funding use case runs with: the unit of work, the repository, the directory copy,
the actor, the clock and the money rules in force — and, resolved from them once and only when
asked, the actor's money scope (who sees which money).

The service builds it in one place (``FundingService.context``); unit tests build it over
in-memory fakes (``tests/unit/fakes/funding.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from funding.assessment_repository import AssessmentRepository
from funding.domain.commitments import Commitment
from funding.domain.disbursements import Disbursement
from funding.domain.scope import SCOPED_TO_FEDERATION, FundingScope
from funding.domain.sources import FundingSource
from funding.repository import FundingRepository
from kit.usecase import Clock, SystemClock
from language.actor import Actor
from language.directory import Directory, apply_status


class DirectoryCopy(Protocol):
    """Funding's copy of the registry's organizations: who an organization is (its path in the
    hierarchy, its kind and standing), and the one write a use case makes to it."""

    def get(self, organization_id: str) -> dict[str, Any] | None: ...

    def record_status(
        self, organization_id: str, kind: str | None, status: str, version: int
    ) -> None:
        """Keep an organization's newer status (an older version changes nothing)."""


class KeptDirectory(Directory):
    """The directory copy in the service's database (``language.directory``)."""

    def record_status(
        self, organization_id: str, kind: str | None, status: str, version: int
    ) -> None:
        apply_status(
            self.uow,
            {
                "organization_id": organization_id,
                "kind": kind,
                "status": status,
                "version": version,
            },
        )


@dataclass
class Context:
    uow: Any
    repo: FundingRepository
    directory: DirectoryCopy
    actor: Actor
    clock: Clock
    #: fen: from this amount an adjustment waits for a second finance officer, and a
    #: contract's tranches need two approvers
    dual_approval_threshold: int
    #: the annual assessment's figures (``funding.assessment_repository``)
    assessments: Any = None

    @cached_property
    def scope(self) -> FundingScope:
        """The actor's view of money: staff and finance officers their federation's subtree
        (its path, as the directory copy has it), admins and ops everything, contractors
        what is paid to them."""
        own = None
        if self.actor.role in SCOPED_TO_FEDERATION and self.actor.organization_id:
            own = self.path_of(self.actor.organization_id)
        return FundingScope(self.actor, own)

    def path_of(self, organization_id: str) -> str | None:
        entry = self.directory.get(organization_id)
        return entry["path"] if entry else None

    def source_owner_path(self, source_id: str) -> Callable[[], str | None]:
        """The path of the source's owner, looked up only when the scope needs it."""

        def lookup() -> str | None:
            source = self.repo.find_source(source_id)
            return self.path_of(source.owner_id) if source else None

        return lookup

    def visible_source(self, source_id: str, *, for_update: bool = False) -> FundingSource:
        """The source (locked with ``for_update``) if the actor sees it: another federation's
        is, to them, not there."""
        source = self.repo.source(source_id, for_update=for_update)
        self.scope.ensure_sees_source(source, lambda: self.path_of(source.owner_id))
        return source

    def ensure_sees_payment(self, thing: Disbursement | Commitment) -> None:
        """A commitment or a disbursement the actor may not see is, to them, not there."""
        self.scope.ensure_sees_payment(thing, self.source_owner_path(thing.source_id))

    def named(self, items: list[Any]) -> list[dict[str, Any]]:
        """Each commitment or disbursement beside its payee's and source's names (two
        statements for the whole page)."""
        payees = self.repo.names({item.payee_id for item in items})
        sources = self.repo.source_names({item.source_id for item in items})
        return [
            {
                "item": item,
                "payee_name": payees.get(item.payee_id),
                "source_name": sources.get(item.source_id),
            }
            for item in items
        ]


def database_context(
    uow: Any, actor: Actor, *, dual_approval_threshold: int, clock: Clock | None = None
) -> Context:
    """The context over the service's own database (its repository and directory copy), the
    machine's clock unless another is given: what ``FundingService.context`` builds."""
    return Context(
        uow=uow,
        repo=FundingRepository(uow.session),
        directory=KeptDirectory(uow),
        actor=actor,
        clock=clock or SystemClock(),
        dual_approval_threshold=dual_approval_threshold,
        assessments=AssessmentRepository(uow.session),
    )
