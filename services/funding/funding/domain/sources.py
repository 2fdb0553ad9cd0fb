"""Funding sources: pots of money (a fiscal special fund for a year, a donation fund) that
receive money and are corrected down through the journal, and which projects may draw on them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from funding.domain.ledger import JournalEntry, available, ensure_positive_fen, income, move
from funding.exceptions import InsufficientFunds, RuleBroken
from kit.aggregate import Aggregate
from language.actor import Actor

SOURCE_KINDS = ("fiscal_special_fund", "donation", "interest_subsidy", "other")


class FundingSource(Aggregate):
    """A pot of money — a fiscal special fund for a year, a donation fund — with its running
    balances: ``amount`` put in, ``available``, ``committed`` to contracts (including what was
    disbursed from them), ``disbursed`` (approved) and ``paid``."""

    def __init__(
        self,
        *,
        name: str,
        kind: str,
        owner_id: str,
        fiscal_year: int,
        description: str | None,
        created_by: str,
        created_at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.name = name
        self.kind = kind
        self.owner_id = owner_id
        self.fiscal_year = fiscal_year
        self.description = description
        self.amount = 0
        self.available = 0
        self.committed = 0
        self.disbursed = 0
        self.paid = 0
        self.created_by = created_by
        self.created_at = created_at
        self.updated_at = created_at
        self.version = 1

    def _context(
        self, actor_id: str | None, cause: str, at: datetime, **more: Any
    ) -> dict[str, Any]:
        return {"source_id": self.id, "actor_id": actor_id, "cause": cause, "at": at, **more}

    def _touch(self, at: datetime) -> None:
        self.version += 1
        self.updated_at = at

    def receive(
        self, amount: int, actor: Actor, cause: str, memo: str | None, at: datetime
    ) -> list[JournalEntry]:
        """Money put into the source: its initial amount or a top-up."""
        ensure_positive_fen(amount, "amount")
        entries = move(
            "receipt",
            amount,
            available(self.id),
            income(self.id),
            **self._context(actor.user_id, cause, at, memo=memo),
        )
        self.amount += amount
        self.available += amount
        self._touch(at)
        return entries

    def correct(
        self, amount: int, actor: Actor, cause: str, memo: str | None, at: datetime
    ) -> list[JournalEntry]:
        """Take money out of the source (a correction): only what is not committed."""
        ensure_positive_fen(amount, "amount")
        if not memo:
            raise RuleBroken("a correction needs a reason", field="reason", rule="required")
        if amount > self.available:
            raise InsufficientFunds("the source", amount, self.available, funding_source_id=self.id)
        entries = move(
            "correction",
            amount,
            income(self.id),
            available(self.id),
            **self._context(actor.user_id, cause, at, memo=memo),
        )
        self.amount -= amount
        self.available -= amount
        self._touch(at)
        return entries


def adjust(
    source: FundingSource,
    amount: int,
    actor: Actor,
    cause: str,
    reason: str | None,
    at: datetime,
) -> list[JournalEntry]:
    """A top-up (positive) or a correction (negative): new journal entries, never an edit."""
    if amount > 0:
        return source.receive(amount, actor, cause, reason, at)
    if amount < 0:
        return source.correct(-amount, actor, cause, reason, at)
    raise RuleBroken("an adjustment changes the amount", field="amount", rule="not_zero")


def source_available_to(owner_id: str, purchaser_path: str | None) -> bool:
    """A project draws only on a source owned by its purchaser or by a federation above the
    purchaser (whose materialised path then names the owner)."""
    return bool(purchaser_path) and f"/{owner_id}/" in str(purchaser_path)
