"""Who sees which money: admins and ops all of it, finance officers and federation staff their
federation's subtree's, a contractor what is paid to it. Money outside one's scope is, to them,
not there (a 404, like a missing id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from funding.domain.commitments import Commitment
from funding.domain.disbursements import Disbursement
from funding.domain.roles import APPROVER_ROLE, INSTALLATION_WIDE
from funding.domain.sources import FundingSource
from funding.exceptions import (
    CommitmentNotFound,
    DisbursementNotFound,
    OutOfScope,
    SourceNotFound,
)
from language.actor import Actor

#: roles whose view of money is their federation's subtree
SCOPED_TO_FEDERATION = ("federation_staff", "finance_officer")


@dataclass(frozen=True)
class FundingScope:
    """Admins and ops see all money (the installation-wide view); finance officers and
    federation staff the sources their federation's subtree owns and what was committed and
    paid from them; a contractor only what is paid to it. Money outside one's scope is, to
    them, not there (404, like a missing id)."""

    actor: Actor
    federation_path: str | None = None

    @property
    def sees_everything(self) -> bool:
        return self.actor.role in INSTALLATION_WIDE

    @property
    def within_path(self) -> str | None:
        """What a list is cut to: None (everything) or the actor's subtree ('-' matches
        nothing: a finance officer whose federation the directory does not know sees none)."""
        return None if self.sees_everything else (self.federation_path or "-")

    def _owns(self, owner_path: str | None) -> bool:
        return bool(
            self.federation_path and owner_path and owner_path.startswith(self.federation_path)
        )

    def ensure_sees_source(
        self, source: FundingSource, owner_path: Callable[[], str | None]
    ) -> None:
        if self.sees_everything:
            return
        if self.actor.role == "contractor" or not self._owns(owner_path()):
            raise SourceNotFound(source.id)

    def ensure_sees_payment(
        self, thing: Disbursement | Commitment, owner_path: Callable[[], str | None]
    ) -> None:
        if self.sees_everything:
            return
        if self.actor.role == "contractor":
            if thing.payee_id != self.actor.organization_id:
                raise _not_found(thing)  # another's money is, to them, not there
            return
        if not self._owns(owner_path()):
            raise _not_found(thing)

    def journal_within(self) -> str | None:
        """The journal lines one reads without naming a source: all of them (None) for admins
        and ops, their federation's subtree's (its path) for finance officers; federation staff
        read one of their sources at a time and contractors none (OutOfScope)."""
        if self.sees_everything:
            return None
        if self.actor.role == APPROVER_ROLE:
            return self.within_path
        raise OutOfScope("read the journal of one of your federation's sources (give source_id)")

    def ensure_owns(self, owner_path: str | None, field: str) -> None:
        """Finance officers create and adjust the money of their own federation's subtree."""
        if self.sees_everything:
            return
        if not self._owns(owner_path):
            raise OutOfScope(
                "you manage the money of your own federation and those under it", field=field
            )


def _not_found(thing: Disbursement | Commitment) -> Exception:
    if isinstance(thing, Commitment):
        return CommitmentNotFound(thing.contract_id)
    return DisbursementNotFound(thing.id)
