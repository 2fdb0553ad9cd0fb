"""The double-entry journal: accounts, balanced transactions, balances.

Every change of money is a balanced journal transaction — debits equal credits — written once
and never edited, attributable to a person (``actor_id``) or to the event that caused it
(``cause``). Sources and commitments keep running balances for fast reads; the journal is the
truth they are checked against.

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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from funding.exceptions import RuleBroken


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


def ensure_positive_fen(amount: int, field: str) -> None:
    """Every amount that moves is a positive whole number of fen (never a float, a bool, 0)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise RuleBroken(
            "an amount is a positive whole number of fen", field=field, rule="positive_fen"
        )
