"""Money, as funding reports it: the commitment of a contract's amount from its source, and
each milestone's disbursement from request to payment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from projects.domain.contract import Contract, Milestone
    from projects.domain.project import Project

#: what funding's events say about a milestone's money, in the order they happen
PAYMENT_STATUSES = ("none", "requested", "held", "approved", "rejected", "paid")
COMMITMENT_STATUSES = ("pending", "committed", "rejected")

#: funding's disbursement events and the payment status each one means
PAYMENT_EVENTS = {
    "disbursement_requested": "requested",
    "disbursement_held": "held",
    "disbursement_approved": "approved",
    "disbursement_rejected": "rejected",
    "disbursement_paid": "paid",
    "disbursement_released": "requested",  # or approved: the event says which
}


@dataclass(frozen=True)
class Disbursement:
    """What one of funding's disbursement events says about a milestone's money."""

    occurred_at: datetime
    #: None: funding opened no disbursement (the contract's commitment was refused)
    disbursement_id: str | None = None
    amount: int = 0
    #: ``disbursement_released``: where the disbursement went back to (pending or approved)
    status: str | None = None
    payment_reference: str | None = None


def payment_progressed(
    contract: Contract,
    milestone: Milestone,
    project: Project,
    event_type: str,
    event: Disbursement,
) -> bool:
    """Apply a disbursement event to the milestone's payment state — the newest fact wins, as
    events of different types travel on different queues and may arrive out of order — then
    derive the project's disbursed and paid figures from its milestones."""
    status = PAYMENT_EVENTS[event_type]
    if event_type == "disbursement_released":
        status = "approved" if event.status == "approved" else "requested"
    occurred_at = event.occurred_at
    if status == "paid":
        # paid is final: it sets the payment whenever it arrives
        milestone.disbursement_id = str(event.disbursement_id)
        milestone.paid_amount = event.amount
        milestone.paid_at = occurred_at
        milestone.payment_reference = event.payment_reference
    newer = milestone.payment_updated_at is None or occurred_at > milestone.payment_updated_at
    if newer and milestone.payment_status != "paid":
        # no disbursement_id: funding opened none, the contract's commitment was refused
        disbursement_id = event.disbursement_id
        milestone.disbursement_id = None if disbursement_id is None else str(disbursement_id)
        milestone.payment_status = status
        milestone.payment_updated_at = occurred_at
    project.amount_approved = sum(
        m.amount for m in contract.milestones if m.payment_status in ("approved", "paid")
    )
    project.amount_paid = sum(m.paid_amount for m in contract.milestones)
    return newer


def commitment_decided(
    contract: Contract,
    project: Project,
    committed: bool,
    *,
    amount: int,
    shortfall: int | None = None,
    reason: str | None = None,
) -> None:
    """Funding committed the contract amount from the source, or could not (short of
    ``shortfall`` fen, for ``reason``)."""
    contract.commitment_status = "committed" if committed else "rejected"
    contract.commitment_shortfall = None if committed else shortfall
    contract.commitment_reason = None if committed else reason
    project.amount_committed = amount if committed else 0
