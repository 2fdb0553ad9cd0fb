"""Who does what with money: finance officers keep the sources and decide disbursements (the
one who approves never pays, nor approves twice); admins and ops see every federation's money.
"""

from __future__ import annotations

from funding.exceptions import MakerChecker
from language.actor import Actor

#: who approves, rejects and pays disbursements and confirms large adjustments
APPROVER_ROLE = "finance_officer"
#: who may create and adjust funding sources
TREASURERS = ("finance_officer", "admin")
#: who sees every federation's money (finance officers see their own federation's subtree)
INSTALLATION_WIDE = ("admin", "ops")


def ensure_finance(actor: Actor) -> None:
    if actor.role != APPROVER_ROLE:
        raise MakerChecker(
            "only finance officers approve, reject and pay disbursements", role=actor.role
        )


def ensure_treasurer(actor: Actor) -> None:
    if actor.role not in TREASURERS:
        raise MakerChecker("only finance officers manage funding sources", role=actor.role)
