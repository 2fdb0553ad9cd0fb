"""Adjustments at or above the threshold: a top-up or a correction one treasurer asks for and a
second finance officer confirms (only then does it enter the journal) or refuses.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from funding.domain.ledger import JournalEntry
from funding.domain.roles import APPROVER_ROLE
from funding.domain.sources import FundingSource, adjust
from funding.exceptions import InsufficientFunds, InvalidTransition, MakerChecker, RuleBroken
from language.actor import Actor

ADJUSTMENT_STATUSES = ("pending", "confirmed", "refused")


def needs_confirmation(amount: int, threshold: int) -> bool:
    """Top-ups and corrections at or above the threshold wait for a second finance officer."""
    return abs(amount) >= threshold


class SourceAdjustment:
    """A top-up or correction at or above the threshold, asked by one treasurer and waiting
    for a different finance officer to confirm it (only then does it enter the journal, under
    the cause ``adjustment:<id>``, with the confirming officer as actor) or refuse it."""

    def __init__(
        self,
        *,
        source: FundingSource,
        amount: int,
        reason: str,
        actor: Actor,
        at: datetime,
    ) -> None:
        if amount == 0:
            raise RuleBroken("an adjustment changes the amount", field="amount", rule="not_zero")
        if amount < 0 and -amount > source.available:
            raise InsufficientFunds(
                "the source", -amount, source.available, funding_source_id=source.id
            )
        self.id = str(uuid.uuid4())
        self.source_id = source.id
        self.amount = amount
        self.reason = reason
        self.status = "pending"
        self.requested_by = actor.user_id
        self.requested_by_name = actor.username
        self.requested_at = at
        self.decided_by: str | None = None
        self.decided_by_name: str | None = None
        self.decided_at: datetime | None = None
        self.refusal_reason: str | None = None
        self.version = 1

    @property
    def cause(self) -> str:
        return f"adjustment:{self.id}"

    def _decide(self, action: str, actor: Actor, at: datetime) -> None:
        if actor.role != APPROVER_ROLE:
            raise MakerChecker(
                f"only a finance officer may {action} an adjustment", role=actor.role
            )
        if self.status != "pending":
            raise InvalidTransition(
                "adjustment", action, self.status, adjustment_id=self.id, allowed_from=["pending"]
            )
        if actor.user_id == self.requested_by:
            raise MakerChecker(
                f"you asked for this adjustment: another finance officer must {action} it",
                adjustment_id=self.id,
                reason="requested_adjustment",
            )
        self.decided_by = actor.user_id
        self.decided_by_name = actor.username
        self.decided_at = at
        self.version += 1

    def confirm(self, source: FundingSource, actor: Actor, at: datetime) -> list[JournalEntry]:
        self._decide("confirm", actor, at)
        entries = adjust(source, self.amount, actor, self.cause, self.reason, at)
        self.status = "confirmed"
        return entries

    def refuse(self, reason: str | None, actor: Actor, at: datetime) -> None:
        reason = (reason or "").strip() or None
        if not reason:
            raise RuleBroken(
                "a reason is required to refuse an adjustment", field="reason", rule="required"
            )
        self._decide("refuse", actor, at)
        self.status = "refused"
        self.refusal_reason = reason
