"""Funding rules: sources, a double-entry journal, commitments and disbursements.

Plain Python. Every change of money is a balanced journal transaction — debits equal credits —
written once and never edited, attributable to a person (``actor_id``) or to the event that
caused it (``cause``). Sources and commitments keep running balances for fast reads; the
journal is the truth they are checked against.

Accounts (all amounts integer fen):

* ``income:<source>``      credit balance: all money put into the source (the source's amount)
* ``available:<source>``   debit balance: money not committed to any contract
* ``committed:<contract>`` debit balance: committed to the contract, not yet approved for payment
* ``approved:<contract>``  debit balance: approved disbursements not yet paid
* ``paid:<contract>``      debit balance: paid out

so that for every source: amount = available + Σ over its contracts (committed + approved + paid).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding.exceptions import (
    CommitmentNotFound,
    DisbursementNotFound,
    InsufficientFunds,
    InvalidTransition,
    MakerChecker,
    OutOfScope,
    RuleBroken,
    SourceNotFound,
)
from kit.actor import Actor
from kit.aggregate import Aggregate

SOURCE_KINDS = ("fiscal_special_fund", "donation", "interest_subsidy", "other")
DISBURSEMENT_STATUSES = ("pending", "approved", "paid", "rejected", "held")
#: why a disbursement is held for good: its payee was deregistered (final in the registry)
PROVIDER_DEREGISTERED = "provider_deregistered"
PAYEE_DEREGISTERED = "payee_deregistered"


def deregistration_hold(kind: str | None) -> str:
    """The hold reason of a deregistered payee: ``provider_deregistered`` for a service
    provider (a federation paid for a self-run project: ``payee_deregistered``)."""
    return PROVIDER_DEREGISTERED if kind == "service_provider" else PAYEE_DEREGISTERED


COMMITMENT_STATUSES = ("active", "released")
APPROVER_ROLE = "finance_officer"
#: who may create and adjust funding sources
TREASURERS = ("finance_officer", "admin")
#: who sees every federation's money (finance officers see their own federation's subtree)
INSTALLATION_WIDE = ("admin", "ops")
#: why someone may not approve a disbursement: they had a hand in what it pays for
CONFLICTS = ("awarded_contract", "accepted_milestone", "verified_provider")
CONFLICT_WORDS = {
    "awarded_contract": "awarded this contract",
    "accepted_milestone": "accepted a milestone of this contract",
    "verified_provider": "verified the contractor",
}


# --- the journal --------------------------------------------------------------------------


def income(source_id: str) -> str:
    return f"income:{source_id}"


def available(source_id: str) -> str:
    return f"available:{source_id}"


def committed(contract_id: str) -> str:
    return f"committed:{contract_id}"


def approved(contract_id: str) -> str:
    return f"approved:{contract_id}"


def paid(contract_id: str) -> str:
    return f"paid:{contract_id}"


@dataclass(frozen=True)
class Posting:
    account: str
    debit: int = 0
    credit: int = 0


class JournalEntry:
    """One line of a journal transaction. Written once; the database refuses edits."""

    def __init__(
        self,
        *,
        transaction_id: str,
        line: int,
        kind: str,
        posting: Posting,
        source_id: str,
        contract_id: str | None,
        actor_id: str | None,
        cause: str,
        memo: str | None,
        at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.transaction_id = transaction_id
        self.line = line
        self.kind = kind
        self.account = posting.account
        self.debit = posting.debit
        self.credit = posting.credit
        self.source_id = source_id
        self.contract_id = contract_id
        self.actor_id = actor_id
        self.cause = cause
        self.memo = memo
        self.at = at


def transaction(
    kind: str,
    postings: list[Posting],
    *,
    source_id: str,
    contract_id: str | None = None,
    actor_id: str | None,
    cause: str,
    memo: str | None = None,
    at: datetime,
) -> list[JournalEntry]:
    """A balanced transaction: every posting one-sided, positive, whole fen; debits = credits."""
    for posting in postings:
        amounts = (posting.debit, posting.credit)
        if any(not isinstance(a, int) or isinstance(a, bool) or a < 0 for a in amounts):
            raise ValueError(f"amounts are non-negative integer fen: {posting}")
        if (posting.debit > 0) == (posting.credit > 0):
            raise ValueError(f"a posting is a debit or a credit: {posting}")
    debits = sum(p.debit for p in postings)
    credits = sum(p.credit for p in postings)
    if debits != credits or debits == 0:
        raise ValueError(f"unbalanced {kind}: debits {debits} != credits {credits}")
    transaction_id = str(uuid.uuid4())
    return [
        JournalEntry(
            transaction_id=transaction_id,
            line=line,
            kind=kind,
            posting=posting,
            source_id=source_id,
            contract_id=contract_id,
            actor_id=actor_id,
            cause=cause,
            memo=memo,
            at=at,
        )
        for line, posting in enumerate(postings, start=1)
    ]


def move(kind: str, amount: int, debit: str, credit: str, **context: Any) -> list[JournalEntry]:
    return transaction(
        kind, [Posting(debit, debit=amount), Posting(credit, credit=amount)], **context
    )


def balances(entries: list[Any]) -> dict[str, int]:
    """Debit-minus-credit balance per account, from journal entries (the truth)."""
    result: dict[str, int] = {}
    for entry in entries:
        result[entry.account] = result.get(entry.account, 0) + entry.debit - entry.credit
    return result


def _positive(amount: int, field: str) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise RuleBroken(
            "an amount is a positive whole number of fen", field=field, rule="positive_fen"
        )


# --- sources ------------------------------------------------------------------------------


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
        _positive(amount, "amount")
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
        _positive(amount, "amount")
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


def needs_confirmation(amount: int, threshold: int) -> bool:
    """Top-ups and corrections at or above the threshold wait for a second finance officer."""
    return abs(amount) >= threshold


ADJUSTMENT_STATUSES = ("pending", "confirmed", "refused")


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


# --- commitments --------------------------------------------------------------------------


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
    _positive(amount, "amount")
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


# --- disbursements ------------------------------------------------------------------------


class Approval:
    def __init__(
        self, *, disbursement_id: str, approver_id: str, approver_name: str, at: datetime
    ) -> None:
        self.id = str(uuid.uuid4())
        self.disbursement_id = disbursement_id
        self.approver_id = approver_id
        self.approver_name = approver_name
        self.at = at


class Disbursement(Aggregate):
    """The money a milestone's acceptance makes due: approved by finance (two people at or
    above the threshold, never the one who caused it), then paid, exactly once."""

    def __init__(
        self,
        *,
        commitment: Commitment,
        milestone_id: str,
        amount: int,
        requested_by: str,
        required_approvals: int,
        cause: str,
        at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.contract_id = commitment.contract_id
        self.project_id = commitment.project_id
        self.milestone_id = milestone_id
        self.source_id = commitment.source_id
        self.payee_id = commitment.payee_id
        self.amount = amount
        self.status = "pending"
        self.required_approvals = required_approvals
        self.requested_by = requested_by
        self.requested_at = at
        self.cause = cause
        self.decided_at: datetime | None = None
        self.rejected_by: str | None = None
        self.rejection_reason: str | None = None
        self.paid_by: str | None = None
        self.paid_at: datetime | None = None
        self.payment_reference: str | None = None
        self.held_from: str | None = None
        self.hold_reason: str | None = None
        self.payee_status_version = 0
        self.updated_at = at
        self.version = 1
        self.approvals: list[Approval] = []

    def _event(self) -> dict[str, Any]:
        return {
            "disbursement_id": self.id,
            "contract_id": self.contract_id,
            "milestone_id": self.milestone_id,
            "amount": self.amount,
        }

    def _require(self, action: str, *allowed: str) -> None:
        if self.status not in allowed:
            raise InvalidTransition(
                "disbursement",
                action,
                self.status,
                disbursement_id=self.id,
                allowed_from=list(allowed),
            )

    def _touch(self, at: datetime) -> None:
        self.version += 1
        self.updated_at = at

    def approve(
        self,
        source: FundingSource,
        commitment: Commitment,
        actor: Actor,
        at: datetime,
        involved: dict[str, set[str]] | None = None,
    ) -> tuple[Approval, list[JournalEntry]]:
        """One finance officer's approval; the last one needed moves the money to approved.

        ``involved`` names, per reason of ``CONFLICTS``, the people who had a hand in what the
        disbursement pays for (awarded the contract, accepted one of its milestones, verified
        its provider): none of them approves it."""
        _ensure_finance(actor)
        self._require("approve", "pending")
        if actor.user_id == self.requested_by:
            raise MakerChecker(
                "you accepted this milestone: another finance officer approves its disbursement",
                disbursement_id=self.id,
                reason="accepted_milestone",
            )
        for reason in CONFLICTS:
            if actor.user_id in (involved or {}).get(reason, set()):
                raise MakerChecker(
                    f"you {CONFLICT_WORDS[reason]}: another finance officer approves its"
                    " disbursements",
                    disbursement_id=self.id,
                    reason=reason,
                )
        if any(a.approver_id == actor.user_id for a in self.approvals):
            raise MakerChecker(
                "you already approved this disbursement; a second person must",
                disbursement_id=self.id,
                reason="already_approved",
                approvals=len(self.approvals),
                required_approvals=self.required_approvals,
            )
        approval = Approval(
            disbursement_id=self.id, approver_id=actor.user_id, approver_name=actor.username, at=at
        )
        final = len(self.approvals) + 1 >= self.required_approvals
        # the money is checked before anything changes: a refused approval leaves no trace
        if final and self.amount > commitment.outstanding:
            raise InsufficientFunds(
                "the contract's commitment",
                self.amount,
                commitment.outstanding,
                contract_id=self.contract_id,
            )
        self.approvals.append(approval)
        self._touch(at)
        if not final:
            return approval, []
        entries = move(
            "approval",
            self.amount,
            approved(self.contract_id),
            committed(self.contract_id),
            source_id=source.id,
            contract_id=self.contract_id,
            actor_id=actor.user_id,
            cause=f"disbursement:{self.id}",
            at=at,
        )
        commitment.disbursed += self.amount
        commitment.updated_at = at
        source.disbursed += self.amount
        source._touch(at)
        self.status = "approved"
        self.decided_at = at
        self.record(
            "disbursement_approved",
            **self._event(),
            approved_by=[a.approver_id for a in self.approvals],
            actor_id=actor.user_id,
            occurred_at=at,
        )
        return approval, entries

    def reject(self, reason: str | None, actor: Actor, at: datetime) -> None:
        _ensure_finance(actor)
        self._require("reject", "pending")
        reason = (reason or "").strip() or None
        if not reason:
            raise RuleBroken(
                "a reason is required to reject a disbursement", field="reason", rule="required"
            )
        self.status = "rejected"
        self.rejected_by = actor.user_id
        self.rejection_reason = reason
        self.decided_at = at
        self._touch(at)
        self.record(
            "disbursement_rejected",
            **self._event(),
            reason=reason,
            rejected_by=actor.user_id,
            actor_id=actor.user_id,
            occurred_at=at,
        )

    def pay(
        self,
        source: FundingSource,
        commitment: Commitment,
        reference: str,
        actor: Actor,
        at: datetime,
    ) -> list[JournalEntry]:
        _ensure_finance(actor)
        self._require("pay", "approved")
        if any(a.approver_id == actor.user_id for a in self.approvals):
            raise MakerChecker(
                "you approved this disbursement: another finance officer records its payment",
                disbursement_id=self.id,
                reason="approved_disbursement",
            )
        reference = reference.strip()
        if not reference:
            raise RuleBroken(
                "give the bank's payment reference", field="payment_reference", rule="required"
            )
        entries = move(
            "payment",
            self.amount,
            paid(self.contract_id),
            approved(self.contract_id),
            source_id=source.id,
            contract_id=self.contract_id,
            actor_id=actor.user_id,
            cause=f"disbursement:{self.id}",
            memo=reference,
            at=at,
        )
        commitment.paid += self.amount
        commitment.updated_at = at
        source.paid += self.amount
        source._touch(at)
        self.status = "paid"
        self.paid_by = actor.user_id
        self.paid_at = at
        self.payment_reference = reference
        self._touch(at)
        self.record(
            "disbursement_paid",
            **self._event(),
            payment_reference=reference,
            paid_by=actor.user_id,
            actor_id=actor.user_id,
            occurred_at=at,
        )
        return entries

    def payee_standing_changed(
        self, suspended: bool, version: int, reason: str | None, at: datetime
    ) -> bool:
        """The registry suspended (hold) or reinstated (release) the payee; newer versions win."""
        if version <= self.payee_status_version:
            return False
        self.payee_status_version = version
        if suspended and self.status in ("pending", "approved"):
            self.held_from = self.status
            self.status = "held"
            self.hold_reason = reason or "the payee is suspended"
            self._touch(at)
            self.record(
                "disbursement_held",
                **self._event(),
                payee_id=self.payee_id,
                reason=self.hold_reason,
                occurred_at=at,
            )
            return True
        if not suspended and self.status == "held" and not self.held_for_good:
            self.status = self.held_from or "pending"
            self.held_from = None
            self.hold_reason = None
            self._touch(at)
            self.record(
                "disbursement_released",
                **self._event(),
                payee_id=self.payee_id,
                status=self.status,
                occurred_at=at,
            )
            return True
        return False

    @property
    def held_for_good(self) -> bool:
        """Held because the payee was deregistered: no reinstatement releases it."""
        return self.status == "held" and self.hold_reason in (
            PROVIDER_DEREGISTERED,
            PAYEE_DEREGISTERED,
        )

    def payee_deregistered(self, kind: str | None, version: int, at: datetime) -> bool:
        """The registry deregistered the payee (final): an open disbursement (pending,
        approved, or held by a suspension) is held for good, reason ``provider_deregistered``.
        A stale event (older version) changes nothing."""
        if version <= self.payee_status_version:
            return False
        self.payee_status_version = version
        reason = deregistration_hold(kind)
        if self.status not in ("pending", "approved", "held") or self.hold_reason == reason:
            return False
        if self.status != "held":
            self.held_from = self.status
            self.status = "held"
        self.hold_reason = reason
        self._touch(at)
        self.record(
            "disbursement_held",
            **self._event(),
            payee_id=self.payee_id,
            reason=reason,
            occurred_at=at,
        )
        return True


def request_disbursement(
    commitment: Commitment,
    *,
    milestone_id: str,
    amount: int,
    requested_by: str,
    payee_suspended: bool,
    dual_approval_threshold: int,
    cause: str,
    at: datetime,
    hold_reason: str | None = None,
) -> Disbursement:
    """A milestone was accepted: its tranche becomes due, awaiting approval (held at once if
    the payee is suspended or deregistered: ``hold_reason`` says why, e.g.
    ``provider_deregistered``). Never more than the contract's commitment can still pay."""
    _positive(amount, "amount")
    open_claims = amount  # checked against what the commitment can still disburse
    if open_claims > commitment.outstanding:
        raise InsufficientFunds(
            "the contract's commitment",
            amount,
            commitment.outstanding,
            contract_id=commitment.contract_id,
        )
    disbursement = Disbursement(
        commitment=commitment,
        milestone_id=milestone_id,
        amount=amount,
        requested_by=requested_by,
        # the contract's amount decides: a large contract cut into small tranches still
        # needs two approvers on each
        required_approvals=2 if commitment.amount >= dual_approval_threshold else 1,
        cause=cause,
        at=at,
    )
    disbursement.record(
        "disbursement_requested",
        **disbursement._event(),
        payee_id=commitment.payee_id,
        funding_source_id=commitment.source_id,
        requested_by=requested_by,
        occurred_at=at,
    )
    if payee_suspended:
        disbursement.held_from = "pending"
        disbursement.status = "held"
        disbursement.hold_reason = hold_reason or "the payee is suspended"
        disbursement.record(
            "disbursement_held",
            **disbursement._event(),
            payee_id=disbursement.payee_id,
            reason=disbursement.hold_reason,
            occurred_at=at,
        )
    return disbursement


def unfunded_milestone(
    accepted: dict[str, Any], refusal: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """``disbursement_rejected`` for a milestone accepted on a contract whose commitment was
    refused: no disbursement is opened (there is none to name) and nobody rejected it by hand;
    the reason carries the refusal's."""
    return {
        "disbursement_id": None,
        "contract_id": str(accepted["contract_id"]),
        "milestone_id": str(accepted["milestone_id"]),
        "amount": accepted["amount"],
        "reason": f"no money was committed to the contract: {refusal['reason']}",
        "rejected_by": None,
        "occurred_at": at,
    }


def _ensure_finance(actor: Actor) -> None:
    if actor.role != APPROVER_ROLE:
        raise MakerChecker(
            "only finance officers approve, reject and pay disbursements", role=actor.role
        )


def ensure_treasurer(actor: Actor) -> None:
    if actor.role not in TREASURERS:
        raise MakerChecker("only finance officers manage funding sources", role=actor.role)


def queue_age_seconds(disbursement: Disbursement, now: datetime) -> int:
    return max(0, int((now - disbursement.requested_at).total_seconds()))


# --- who sees which money ---------------------------------------------------------------------


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


# --- which projects may draw on a source ------------------------------------------------------


def source_available_to(owner_id: str, purchaser_path: str | None) -> bool:
    """A project draws only on a source owned by its purchaser or by a federation above the
    purchaser (whose materialised path then names the owner)."""
    return bool(purchaser_path) and f"/{owner_id}/" in str(purchaser_path)
