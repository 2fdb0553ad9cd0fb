"""Funding errors: each says which rule of public money a request would break."""

from __future__ import annotations

from kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    OutOfScope,
    RetryLater,
)

__all__ = [
    "AdjustmentNotFound",
    "CommitmentNotFound",
    "DisbursementNotFound",
    "DuplicatePaymentReference",
    "InsufficientFunds",
    "InvalidTransition",
    "MakerChecker",
    "NotYetKnown",
    "OutOfScope",
    "RuleBroken",
    "SourceNotFound",
]


class SourceNotFound(NotFound):
    code = "FUNDING_SOURCE_NOT_FOUND"

    def __init__(self, source_id: str) -> None:
        super().__init__(f"no funding source {source_id}", funding_source_id=source_id)


class DisbursementNotFound(NotFound):
    code = "DISBURSEMENT_NOT_FOUND"

    def __init__(self, disbursement_id: str) -> None:
        super().__init__(f"no disbursement {disbursement_id}", disbursement_id=disbursement_id)


class CommitmentNotFound(NotFound):
    code = "COMMITMENT_NOT_FOUND"

    def __init__(self, contract_id: str) -> None:
        super().__init__(f"no commitment for contract {contract_id}", contract_id=contract_id)


class AdjustmentNotFound(NotFound):
    code = "ADJUSTMENT_NOT_FOUND"

    def __init__(self, adjustment_id: str) -> None:
        super().__init__(f"no adjustment {adjustment_id}", adjustment_id=adjustment_id)


class RuleBroken(InvalidInput):
    def __init__(self, message: str, *, field: str, rule: str, **details: object) -> None:
        super().__init__(message, field=field, rule=rule, **details)


class InsufficientFunds(Conflict):
    """More money asked of a source (or a commitment) than it has available."""

    code = "INSUFFICIENT_FUNDS"

    def __init__(self, what: str, wanted: int, available: int, **details: object) -> None:
        super().__init__(
            f"{what} has {available} fen available; {wanted} fen were asked for "
            f"(short by {wanted - available} fen)",
            wanted=wanted,
            available=available,
            shortfall=wanted - available,
            **details,
        )


class MakerChecker(Forbidden):
    """Nobody approves a disbursement they had a hand in (awarded its contract, accepted a
    milestone of it, verified its provider) or approves it twice; nobody pays what they
    approved; nobody confirms their own adjustment. ``details.reason`` says which."""

    code = "MAKER_CHECKER"


class DuplicatePaymentReference(Conflict):
    code = "DUPLICATE_PAYMENT_REFERENCE"

    def __init__(self, reference: str, disbursement_id: str) -> None:
        super().__init__(
            f"payment reference {reference!r} was already recorded",
            field="payment_reference",
            payment_reference=reference,
            disbursement_id=disbursement_id,
        )


class NotYetKnown(RetryLater):
    """An event refers to something another event has not brought yet (events of different
    types travel on different queues): the consumer retries it shortly."""
