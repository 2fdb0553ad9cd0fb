"""A deregistered payee is held for good (issue #11, hole 8): the domain rules, without I/O."""

import pytest

from funding.domain.disbursements import deregistration_hold, request_disbursement
from tests.unit.test_funding_domain import (
    FINANCE_B,
    LATER,
    approve_fully,
    books,
    new_commitment,
    new_source,
)


def held(disbursement):
    return disbursement.status, disbursement.hold_reason


@pytest.mark.parametrize("approved", [False, True])
def test_an_open_disbursement_is_held_for_good(approved):
    source, commitment, disbursement = books()
    if approved:
        approve_fully(source, commitment, disbursement)
        disbursement.pull_events()
    assert disbursement.payee_deregistered("service_provider", 3, LATER) is True
    assert held(disbursement) == ("held", "provider_deregistered")
    assert disbursement.held_for_good
    [(kind, event)] = [(e.name, e.data) for e in disbursement.pull_events()]
    assert (kind, event["reason"]) == ("disbursement_held", "provider_deregistered")
    # nothing releases it: not a reinstatement, not a repeated or stale deregistration
    assert disbursement.payee_standing_changed(False, 4, None, LATER) is False
    assert disbursement.payee_deregistered("service_provider", 5, LATER) is False
    assert held(disbursement) == ("held", "provider_deregistered")


def test_a_suspension_hold_becomes_final_and_a_stale_deregistration_changes_nothing():
    _, _, disbursement = books()
    disbursement.payee_standing_changed(True, 2, "调查", LATER)
    assert disbursement.payee_deregistered("service_provider", 1, LATER) is False
    assert held(disbursement) == ("held", "调查")
    assert disbursement.payee_deregistered("service_provider", 3, LATER) is True
    assert held(disbursement) == ("held", "provider_deregistered")
    assert disbursement.held_from == "pending"


def test_a_paid_or_rejected_disbursement_is_left_alone():
    source, commitment, disbursement = books()
    approve_fully(source, commitment, disbursement)
    disbursement.pay(source, commitment, "BOC-1", FINANCE_B, LATER)
    assert disbursement.payee_deregistered("service_provider", 2, LATER) is False
    assert disbursement.status == "paid"


def test_a_disbursement_opened_after_the_deregistration_is_held_at_once():
    commitment, _ = new_commitment(new_source())
    disbursement = request_disbursement(
        commitment,
        milestone_id="m-1",
        amount=1_000,
        requested_by="staff",
        payee_suspended=True,
        dual_approval_threshold=10_000_000,
        cause="event:milestone_accepted",
        at=LATER,
        hold_reason=deregistration_hold("service_provider"),
    )
    assert held(disbursement) == ("held", "provider_deregistered")
    assert deregistration_hold("federation") == "payee_deregistered"
