"""Disbursements: the money a milestone's acceptance makes due, approved by finance, paid once,
held while its payee is suspended (for good once the payee is deregistered) or while a
milestone of its contract is overdue.

Holds are a set of reasons (``hold_reasons``), each put and lifted on its own: a disbursement
held for a suspension and for an overdue milestone goes back to where it was (pending or
approved) only once both are lifted. A hold moves no money: the journal already has the
tranche where it was (committed, or approved), and it stays there until paid or released.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from funding.domain.approvals import Approval, ensure_no_conflict
from funding.domain.commitments import Commitment
from funding.domain.ledger import (
    JournalEntry,
    approved,
    committed,
    ensure_positive_fen,
    move,
    paid,
)
from funding.domain.roles import ensure_finance
from funding.domain.sources import FundingSource
from funding.exceptions import InsufficientFunds, InvalidTransition, MakerChecker, RuleBroken
from kit.aggregate import Aggregate
from language.actor import Actor

DISBURSEMENT_STATUSES = ("pending", "approved", "paid", "rejected", "held")
#: why a disbursement is held for good: its payee was deregistered (final in the registry)
PROVIDER_DEREGISTERED = "provider_deregistered"
PAYEE_DEREGISTERED = "payee_deregistered"
#: the hold reasons lifted by a later fact: the payee reinstated, the overdue milestone accepted
PAYEE_SUSPENDED = "payee_suspended"
MILESTONE_OVERDUE = "milestone_overdue"
HOLD_REASONS = (PAYEE_SUSPENDED, MILESTONE_OVERDUE, PROVIDER_DEREGISTERED, PAYEE_DEREGISTERED)
#: what may be held: a disbursement not decided for good (paid or rejected)
HOLDABLE = ("pending", "approved", "held")


def deregistration_hold(kind: str | None) -> str:
    """The hold reason of a deregistered payee: ``provider_deregistered`` for a service
    provider (a federation paid for a self-run project: ``payee_deregistered``)."""
    return PROVIDER_DEREGISTERED if kind == "service_provider" else PAYEE_DEREGISTERED


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
        self.hold_reasons: str | None = None
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
            held = {"holds": self.holds} if self.status == "held" else {}
            raise InvalidTransition(
                "disbursement",
                action,
                self.status,
                disbursement_id=self.id,
                allowed_from=list(allowed),
                **held,
            )

    # --- holds ---------------------------------------------------------------------------

    @property
    def holds(self) -> list[str]:
        """Why the disbursement is held (empty when it is not), in a stable order."""
        return [reason for reason in (self.hold_reasons or "").split(",") if reason]

    def _set_holds(self, reasons: list[str]) -> None:
        known = [r for r in HOLD_REASONS if r in reasons]
        self.hold_reasons = ",".join(known + sorted(set(reasons) - set(known))) or None

    def hold(self, reason: str, at: datetime, said: str | None = None) -> bool:
        """Put the hold ``reason`` on (``said``: the words recorded with it, e.g. the
        registry's reason for a suspension); False if it was on already or the disbursement is
        decided for good."""
        if self.status not in HOLDABLE or reason in self.holds:
            return False
        if self.status != "held":
            self.held_from = self.status
            self.status = "held"
        self._set_holds([*self.holds, reason])
        self.hold_reason = said or reason
        self._touch(at)
        self.record(
            "disbursement_held",
            **self._event(),
            payee_id=self.payee_id,
            reason=self.hold_reason,
            occurred_at=at,
        )
        return True

    def release(self, reason: str, at: datetime) -> bool:
        """Lift the hold ``reason``; the disbursement goes back to where it was once no hold
        remains. True if anything changed."""
        if reason not in self.holds:
            return False
        remaining = [r for r in self.holds if r != reason]
        self._set_holds(remaining)
        self._touch(at)
        if remaining:
            self.hold_reason = remaining[0]
            return True
        self.status = self.held_from or "pending"
        self.held_from = None
        self.hold_reason = None
        self.record(
            "disbursement_released",
            **self._event(),
            payee_id=self.payee_id,
            status=self.status,
            occurred_at=at,
        )
        return True

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
        ensure_finance(actor)
        self._require("approve", "pending")
        ensure_no_conflict(self, actor, involved)
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
        return approval, self._approved(source, commitment, actor, at)

    def _approved(
        self, source: FundingSource, commitment: Commitment, actor: Actor, at: datetime
    ) -> list[JournalEntry]:
        """The last approval: the tranche's money moves from committed to approved."""
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
        return entries

    def reject(self, reason: str | None, actor: Actor, at: datetime) -> None:
        ensure_finance(actor)
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
        ensure_finance(actor)
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
        """The registry suspended (hold) or reinstated (release) the payee; newer versions win.
        A reinstatement lifts the suspension's hold only: another hold stays."""
        if version <= self.payee_status_version:
            return False
        self.payee_status_version = version
        if suspended:
            return self.hold(PAYEE_SUSPENDED, at, reason or "the payee is suspended")
        return self.release(PAYEE_SUSPENDED, at)

    @property
    def held_for_good(self) -> bool:
        """Held because the payee was deregistered: no reinstatement releases it."""
        return self.status == "held" and any(
            reason in (PROVIDER_DEREGISTERED, PAYEE_DEREGISTERED) for reason in self.holds
        )

    def payee_deregistered(self, kind: str | None, version: int, at: datetime) -> bool:
        """The registry deregistered the payee (final): an open disbursement (pending,
        approved, or held) is held for good, reason ``provider_deregistered``.
        A stale event (older version) changes nothing."""
        if version <= self.payee_status_version:
            return False
        self.payee_status_version = version
        return self.hold(deregistration_hold(kind), at)


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
    owner_id: str | None = None,
    overdue: bool = False,
) -> Disbursement:
    """A milestone was accepted: its tranche becomes due, awaiting approval (held at once if
    the payee is suspended or deregistered: ``hold_reason`` says why, e.g.
    ``provider_deregistered``; and while a milestone of the contract is ``overdue``). Never
    more than the contract's commitment can still pay. ``owner_id``: the federation whose
    source pays (whose finance officers approve), told with the request."""
    ensure_positive_fen(amount, "amount")
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
        owner_id=owner_id,
        occurred_at=at,
    )
    if payee_suspended:
        if hold_reason in (PROVIDER_DEREGISTERED, PAYEE_DEREGISTERED):
            disbursement.hold(hold_reason, at)
        else:
            disbursement.hold(PAYEE_SUSPENDED, at, hold_reason or "the payee is suspended")
    if overdue:
        disbursement.hold(MILESTONE_OVERDUE, at)
    disbursement.version = 1  # a new disbursement: its holds are part of how it was opened
    return disbursement


def unfunded_milestone(
    *, contract_id: str, milestone_id: str, amount: int, refusal_reason: str, at: datetime
) -> dict[str, Any]:
    """``disbursement_rejected`` for a milestone accepted on a contract whose commitment was
    refused: no disbursement is opened (there is none to name) and nobody rejected it by hand;
    the reason carries the refusal's."""
    return {
        "disbursement_id": None,
        "contract_id": contract_id,
        "milestone_id": milestone_id,
        "amount": amount,
        "reason": f"no money was committed to the contract: {refusal_reason}",
        "rejected_by": None,
        "occurred_at": at,
    }


def queue_age_seconds(disbursement: Disbursement, now: datetime) -> int:
    """How long the disbursement has waited since it was requested (never negative)."""
    return max(0, int((now - disbursement.requested_at).total_seconds()))
