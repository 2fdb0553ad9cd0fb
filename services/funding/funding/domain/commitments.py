"""Commitments: the part of a source committed to one contract when it is awarded, and what
is given back to the source when the project ends.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from funding.domain.ledger import (
    JournalEntry,
    available,
    committed,
    ensure_positive_fen,
    move,
)
from funding.domain.sources import FundingSource
from funding.exceptions import InsufficientFunds
from kit.aggregate import Aggregate

COMMITMENT_STATUSES = ("active", "released")


class Commitment(Aggregate):
    """The part of a source committed to one contract, and what became of it."""

    def __init__(
        self,
        *,
        source: FundingSource,
        contract_id: str,
        project_id: str,
        payee_id: str,
        amount: int,
        cause: str,
        at: datetime,
        awarded_by: str | None = None,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.source_id = source.id
        self.awarded_by = awarded_by
        self.contract_id = contract_id
        self.project_id = project_id
        self.payee_id = payee_id
        self.amount = amount
        self.released = 0
        self.disbursed = 0
        self.paid = 0
        self.status = "active"
        self.cause = cause
        self.created_at = at
        self.updated_at = at

    @property
    def outstanding(self) -> int:
        """Committed and not yet approved for payment nor released."""
        return self.amount - self.released - self.disbursed


def commit(
    source: FundingSource,
    *,
    contract_id: str,
    project_id: str,
    payee_id: str,
    amount: int,
    cause: str,
    at: datetime,
    awarded_by: str | None = None,
) -> tuple[Commitment, list[JournalEntry]]:
    """Commit a contract's amount from the source; InsufficientFunds (with the shortfall) if
    the source lacks available money. ``awarded_by`` (who awarded the contract) is kept: they
    never approve its disbursements."""
    ensure_positive_fen(amount, "amount")
    if amount > source.available:
        raise InsufficientFunds(
            "the funding source", amount, source.available, funding_source_id=source.id
        )
    commitment = Commitment(
        source=source,
        contract_id=contract_id,
        project_id=project_id,
        payee_id=payee_id,
        amount=amount,
        cause=cause,
        at=at,
        awarded_by=awarded_by,
    )
    entries = move(
        "commitment",
        amount,
        committed(contract_id),
        available(source.id),
        source_id=source.id,
        contract_id=contract_id,
        actor_id=None,
        cause=cause,
        at=at,
    )
    source.available -= amount
    source.committed += amount
    source._touch(at)
    commitment.record(
        "commitment_made",
        commitment_id=commitment.id,
        contract_id=contract_id,
        project_id=project_id,
        funding_source_id=source.id,
        amount=amount,
        occurred_at=at,
    )
    return commitment, entries


def release(
    source: FundingSource, commitment: Commitment, *, claimed: int, cause: str, at: datetime
) -> list[JournalEntry]:
    """The project ended: give back to the source what the contract will not draw — all that
    is outstanding except what open disbursements (``claimed``) still wait for."""
    remainder = commitment.outstanding - claimed
    commitment.status = "released"
    commitment.updated_at = at
    if remainder <= 0:
        return []
    entries = move(
        "release",
        remainder,
        available(source.id),
        committed(commitment.contract_id),
        source_id=source.id,
        contract_id=commitment.contract_id,
        actor_id=None,
        cause=cause,
        at=at,
    )
    commitment.released += remainder
    source.available += remainder
    source.committed -= remainder
    source._touch(at)
    return entries
