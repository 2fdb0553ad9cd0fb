"""Overdue holds in funding, over the fakes: a milestone overdue beyond the grace period holds
its contract's open disbursements (and those opened while it stays overdue); accepting it
releases them when no other milestone of the contract is overdue; a suspension's hold and an
overdue hold are independent; a held disbursement is neither approved nor paid (409 naming the
holds); ``disbursement_requested`` names the source's owner."""

from __future__ import annotations

from datetime import date

import pytest

from funding.commands import MilestoneAccepted, MilestoneOverdue, PayDisbursement
from funding.exceptions import InvalidTransition
from funding.handlers import disbursements, payees
from tests.unit.test_funding_usecases import World, new_id


@pytest.fixture
def world() -> World:
    return World()


def overdue(world: World, contract_id: str, milestone_id: str | None = None) -> str:
    milestone_id = milestone_id or new_id()
    fact = MilestoneOverdue(contract_id, milestone_id, date(2027, 1, 31))
    world.react(disbursements.milestone_overdue, fact)
    return milestone_id


def accept(world: World, contract_id: str, milestone_id: str, amount: int = 100_000) -> None:
    fact = MilestoneAccepted(new_id(), contract_id, milestone_id, amount, world.staff.user_id)
    assert world.react(disbursements.milestone_accepted, fact) is True


def test_an_overdue_milestone_holds_the_contracts_open_disbursements(world):
    award = world.award(world.source())
    pending = world.accept(award.contract_id)
    approved = world.approve(world.accept(award.contract_id))
    elsewhere = world.pending()
    overdue(world, award.contract_id)
    assert (pending.status, approved.status, elsewhere.status) == ("held", "held", "pending")
    assert pending.holds == approved.holds == ["milestone_overdue"]
    held = [body for name, body in world.events if name == "disbursement_held"]
    assert [h["reason"] for h in held] == ["milestone_overdue", "milestone_overdue"]


def test_a_held_disbursement_is_neither_approved_nor_paid(world):
    award = world.award(world.source())
    pending = world.accept(award.contract_id)
    approved = world.approve(world.accept(award.contract_id))
    overdue(world, award.contract_id)
    with pytest.raises(InvalidTransition) as refused:
        world.approve(pending)
    assert refused.value.details["holds"] == ["milestone_overdue"]
    assert "held" in str(refused.value)
    pay = PayDisbursement(approved.id, "ICBC-1")
    with pytest.raises(InvalidTransition) as refused:
        world.execute(world.second_officer, disbursements.pay_disbursement, pay)
    assert refused.value.details["holds"] == ["milestone_overdue"]


def test_accepting_the_overdue_milestone_releases_them(world):
    award = world.award(world.source())
    approved = world.approve(world.accept(award.contract_id))
    late = overdue(world, award.contract_id)
    accept(world, award.contract_id, late)
    assert (approved.status, approved.holds) == ("approved", [])
    assert world.event_types()[-2] == "disbursement_released"
    opened = world.repo.disbursement_for_milestone(late)
    assert opened is not None and opened.status == "pending"


def test_a_disbursement_opened_while_a_milestone_stays_overdue_is_held(world):
    award = world.award(world.source())
    first_late, second_late = overdue(world, award.contract_id), overdue(world, award.contract_id)
    accept(world, award.contract_id, first_late)
    opened = world.repo.disbursement_for_milestone(first_late)
    assert (opened.status, opened.holds) == ("held", ["milestone_overdue"])
    accept(world, award.contract_id, second_late)
    assert (opened.status, opened.holds) == ("pending", [])


def test_an_overdue_notice_after_the_acceptance_holds_nothing(world):
    award = world.award(world.source())
    milestone_id = new_id()
    accept(world, award.contract_id, milestone_id)
    overdue(world, award.contract_id, milestone_id)
    assert world.repo.disbursement_for_milestone(milestone_id).status == "pending"
    assert world.repo.overdue == {}


def test_a_suspension_and_an_overdue_milestone_must_both_clear(world):
    award = world.award(world.source())
    approved = world.approve(world.accept(award.contract_id))
    late = overdue(world, award.contract_id)
    world.react(payees.payee_suspended, world.status(world.provider, "suspended", 2))
    assert approved.holds == ["payee_suspended", "milestone_overdue"]
    world.react(payees.payee_reinstated, world.status(world.provider, "reinstated", 3))
    assert (approved.status, approved.holds) == ("held", ["milestone_overdue"])
    world.directory.record_status(world.provider, "service_provider", "suspended", 4)
    world.react(payees.payee_suspended, world.status(world.provider, "suspended", 4))
    accept(world, award.contract_id, late)
    assert (approved.status, approved.holds) == ("held", ["payee_suspended"])
    world.react(payees.payee_reinstated, world.status(world.provider, "reinstated", 5))
    assert (approved.status, approved.holds) == ("approved", [])


def test_holds_move_no_money(world):
    award = world.award(world.source())
    approved = world.approve(world.accept(award.contract_id))
    entries = len(world.repo.entries)
    late = overdue(world, award.contract_id)
    accept(world, award.contract_id, late, amount=50_000)
    assert approved.status == "approved"
    assert len(world.repo.entries) == entries  # the new disbursement moves nothing yet either


def test_a_disbursement_request_names_the_sources_owner(world):
    world.pending()
    [requested] = [body for name, body in world.events if name == "disbursement_requested"]
    assert requested["owner_id"] == world.city
