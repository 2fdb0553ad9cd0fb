"""Approvals of a disbursement and who may not give one: the maker-checker rules.

A finance officer approves a disbursement only when they had no hand in what it pays for (they
did not award the contract, accept one of its milestones nor verify its provider) and have not
approved it already; a contract at or above the dual-approval threshold needs two of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from funding.exceptions import MakerChecker
from language.actor import Actor

if TYPE_CHECKING:
    from funding.domain.disbursements import Disbursement

#: why someone may not approve a disbursement: they had a hand in what it pays for
CONFLICTS = ("awarded_contract", "accepted_milestone", "verified_provider")
CONFLICT_WORDS = {
    "awarded_contract": "awarded this contract",
    "accepted_milestone": "accepted a milestone of this contract",
    "verified_provider": "verified the contractor",
}


class Approval:
    def __init__(
        self, *, disbursement_id: str, approver_id: str, approver_name: str, at: datetime
    ) -> None:
        self.id = str(uuid.uuid4())
        self.disbursement_id = disbursement_id
        self.approver_id = approver_id
        self.approver_name = approver_name
        self.at = at


def ensure_no_conflict(
    disbursement: Disbursement, actor: Actor, involved: dict[str, set[str]] | None
) -> None:
    """Not the one who accepted the milestone, nobody in ``involved`` (per reason of
    ``CONFLICTS``), nobody a second time."""
    if actor.user_id == disbursement.requested_by:
        raise MakerChecker(
            "you accepted this milestone: another finance officer approves its disbursement",
            disbursement_id=disbursement.id,
            reason="accepted_milestone",
        )
    for reason in CONFLICTS:
        if actor.user_id in (involved or {}).get(reason, set()):
            raise MakerChecker(
                f"you {CONFLICT_WORDS[reason]}: another finance officer approves its disbursements",
                disbursement_id=disbursement.id,
                reason=reason,
            )
    if any(a.approver_id == actor.user_id for a in disbursement.approvals):
        raise MakerChecker(
            "you already approved this disbursement; a second person must",
            disbursement_id=disbursement.id,
            reason="already_approved",
            approvals=len(disbursement.approvals),
            required_approvals=disbursement.required_approvals,
        )
