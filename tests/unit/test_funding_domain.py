"""Funding rules on plain domain objects: the double-entry journal, sources, commitments,
releases, disbursements (request, maker-checker approval, rejection, payment, holds for
suspended payees) and who sees which money.

No broker and no database: every object is built directly and every status is reached by
performing the real transitions.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from funding.domain.adjustments import SourceAdjustment, needs_confirmation
from funding.domain.approvals import CONFLICTS
from funding.domain.commitments import commit, release
from funding.domain.disbursements import request_disbursement
from funding.domain.ledger import (
    Posting,
    approved,
    available,
    balances,
    committed,
    income,
    paid,
    transaction,
)
from funding.domain.roles import ensure_treasurer
from funding.domain.scope import FundingScope
from funding.domain.sources import FundingSource, source_available_to
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
from language.actor import Actor

AT = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
LATEST = AT + timedelta(days=1)

SOURCE_AMOUNT = 1_000_000
CONTRACT_AMOUNT = 600_000
THRESHOLD = 100_000  # fen at or above which a disbursement needs two approvals
SMALL = 50_000  # below the threshold: one approval
LARGE = 200_000  # above the threshold: two approvals
SMALL_CONTRACT = 90_000  # a contract below the threshold: its tranches need one approval

FEDERATION_ID = str(uuid.uuid4())
PROVIDER_ID = str(uuid.uuid4())
OTHER_PROVIDER_ID = str(uuid.uuid4())
PROJECT_ID = str(uuid.uuid4())

CITY_PATH = "/city/"
DISTRICT_PATH = "/city/district/"
STREET_PATH = "/city/district/street/"
OTHER_DISTRICT_PATH = "/city/district-2/"

FINANCE_A = Actor(str(uuid.uuid4()), "finance_a", "finance_officer")
FINANCE_B = Actor(str(uuid.uuid4()), "finance_b", "finance_officer")
FINANCE_C = Actor(str(uuid.uuid4()), "finance_c", "finance_officer")
ADMIN = Actor(str(uuid.uuid4()), "admin", "admin")
STAFF = Actor(str(uuid.uuid4()), "staff", "federation_staff", FEDERATION_ID)
OPS = Actor(str(uuid.uuid4()), "ops", "ops")
CONTRACTOR = Actor(str(uuid.uuid4()), "contractor", "contractor", PROVIDER_ID)
OTHER_CONTRACTOR = Actor(str(uuid.uuid4()), "other", "contractor", OTHER_PROVIDER_ID)
NOT_FINANCE = [ADMIN, STAFF, CONTRACTOR, OPS]

BAD_AMOUNTS = [0, -1, -100_000, 1.5, 100.0, True, False, "100", None]


# --- building objects through the real transitions -------------------------------------------


def new_source(amount=SOURCE_AMOUNT):
    source = FundingSource(
        name="2027年市级妇女儿童发展专项资金",
        kind="fiscal_special_fund",
        owner_id=FEDERATION_ID,
        fiscal_year=2027,
        description="政府购买服务",
        created_by=FINANCE_A.user_id,
        created_at=AT,
    )
    if amount:
        source.receive(amount, FINANCE_A, "request:create", "年初预算", AT)
    return source


def new_commitment(source, amount=CONTRACT_AMOUNT, payee_id=PROVIDER_ID, contract_id=None):
    commitment, entries = commit(
        source,
        contract_id=contract_id or str(uuid.uuid4()),
        project_id=PROJECT_ID,
        payee_id=payee_id,
        amount=amount,
        cause="event:contract_awarded",
        at=AT,
    )
    return commitment, entries


def request(commitment, amount=SMALL, *, requested_by=STAFF.user_id, suspended=False):
    return request_disbursement(
        commitment,
        milestone_id=str(uuid.uuid4()),
        amount=amount,
        requested_by=requested_by,
        payee_suspended=suspended,
        dual_approval_threshold=THRESHOLD,
        cause="event:milestone_accepted",
        at=AT,
    )


def books(amount=SMALL, contract_amount=None, **kwargs):
    """A source, a commitment from it and a pending disbursement against it; events taken.
    The contract is small (below the threshold: one approval) for a small tranche, large
    otherwise, unless ``contract_amount`` says."""
    source = new_source()
    if contract_amount is None:
        contract_amount = SMALL_CONTRACT if amount < THRESHOLD else CONTRACT_AMOUNT
    commitment, _ = new_commitment(source, contract_amount)
    disbursement = request(commitment, amount, **kwargs)
    commitment.pull_events()
    disbursement.pull_events()
    return source, commitment, disbursement


def approve_fully(source, commitment, disbursement):
    entries = []
    for officer in (FINANCE_A, FINANCE_B)[: disbursement.required_approvals]:
        entries += disbursement.approve(source, commitment, officer, LATER)[1]
    return entries


def reach(status):
    """Books whose disbursement is in ``status``, reached by real transitions; events taken."""
    source, commitment, disbursement = books()
    if status in ("approved", "paid"):
        approve_fully(source, commitment, disbursement)
    if status == "paid":
        disbursement.pay(source, commitment, "BANK-0001", FINANCE_C, LATER)
    if status == "rejected":
        disbursement.reject("材料不全", FINANCE_A, LATER)
    if status == "held":
        disbursement.payee_standing_changed(True, 1, "违规", LATER)
    assert disbursement.status == status
    disbursement.pull_events()
    return source, commitment, disbursement


def state(*objects):
    """Everything about the objects that a refused action must not change."""
    return [
        {
            key: list(value) if isinstance(value, list) else value
            for key, value in vars(thing).items()
        }
        for thing in objects
    ]


def names(thing):
    return [event.name for event in thing.pull_events()]


def postings(entries):
    return [(entry.account, entry.debit, entry.credit) for entry in entries]


# --- the journal ------------------------------------------------------------------------------


def journal(postings_, **context):
    values = {"source_id": "s1", "actor_id": FINANCE_A.user_id, "cause": "test", "at": AT}
    values.update(context)
    return transaction("test", postings_, **values)


def test_a_balanced_transaction_is_written_as_numbered_lines_of_one_transaction():
    entries = journal(
        [Posting("a", debit=70), Posting("b", debit=30), Posting("c", credit=100)],
        contract_id="k1",
        memo="备注",
    )

    assert [entry.line for entry in entries] == [1, 2, 3]
    assert len({entry.transaction_id for entry in entries}) == 1
    assert len({entry.id for entry in entries}) == 3
    assert postings(entries) == [("a", 70, 0), ("b", 30, 0), ("c", 0, 100)]
    for entry in entries:
        assert (entry.kind, entry.source_id, entry.contract_id) == ("test", "s1", "k1")
        assert (entry.actor_id, entry.cause, entry.memo, entry.at) == (
            FINANCE_A.user_id,
            "test",
            "备注",
            AT,
        )


def test_two_transactions_have_different_transaction_ids():
    first = journal([Posting("a", debit=1), Posting("b", credit=1)])
    second = journal([Posting("a", debit=1), Posting("b", credit=1)])

    assert first[0].transaction_id != second[0].transaction_id


@pytest.mark.parametrize(
    "postings_",
    [
        [Posting("a", debit=100), Posting("b", credit=99)],
        [Posting("a", debit=100)],
        [Posting("a", credit=100)],
        [Posting("a", debit=50), Posting("b", debit=50)],
    ],
    ids=["debits-exceed-credits", "debit-only", "credit-only", "two-debits"],
)
def test_an_unbalanced_transaction_is_refused(postings_):
    with pytest.raises(ValueError, match="unbalanced"):
        journal(postings_)


def test_an_empty_transaction_moves_nothing_and_is_refused():
    with pytest.raises(ValueError, match="unbalanced"):
        journal([])


@pytest.mark.parametrize(
    "bad",
    [
        Posting("a", debit=0),
        Posting("a", debit=-5),
        Posting("a", credit=-5),
        Posting("a", debit=2.5),
        Posting("a", debit=5.0),
        Posting("a", debit=True),
        Posting("a", credit=True),
        Posting("a", debit="5"),
        Posting("a", debit=5, credit=5),
    ],
    ids=[
        "zero",
        "neg-debit",
        "neg-credit",
        "fraction",
        "float",
        "bool-debit",
        "bool-credit",
        "text",
        "both-sides",
    ],
)
def test_a_posting_must_be_one_positive_whole_number_of_fen_on_one_side(bad):
    balancing = [Posting("z", credit=5), Posting("y", debit=5)]

    with pytest.raises(ValueError):
        journal([bad, *balancing])


def test_balances_sum_debit_minus_credit_per_account():
    entries = [
        *journal([Posting("a", debit=100), Posting("b", credit=100)]),
        *journal([Posting("b", debit=30), Posting("a", credit=30)]),
        *journal([Posting("c", debit=5), Posting("a", credit=5)]),
    ]

    assert balances(entries) == {"a": 65, "b": -70, "c": 5}
    assert balances([]) == {}


# --- sources ----------------------------------------------------------------------------------


def test_a_new_source_holds_nothing_at_version_one():
    source = new_source(amount=0)

    assert (source.amount, source.available, source.committed) == (0, 0, 0)
    assert (source.disbursed, source.paid, source.version) == (0, 0, 1)


def test_receiving_money_adds_to_amount_and_available_and_bumps_the_version():
    source = new_source(amount=0)

    entries = source.receive(300_000, FINANCE_A, "request:1", "年初预算", LATER)
    source.receive(200_000, FINANCE_B, "request:2", "追加", LATER)

    assert (source.amount, source.available, source.committed) == (500_000, 500_000, 0)
    assert (source.version, source.updated_at) == (3, LATER)
    assert postings(entries) == [
        (available(source.id), 300_000, 0),
        (income(source.id), 0, 300_000),
    ]
    assert {(e.kind, e.actor_id, e.memo, e.source_id) for e in entries} == {
        ("receipt", FINANCE_A.user_id, "年初预算", source.id)
    }


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_receiving_anything_but_positive_whole_fen_is_refused(amount):
    source = new_source()
    before = state(source)

    with pytest.raises(RuleBroken) as raised:
        source.receive(amount, FINANCE_A, "request:1", None, LATER)

    assert raised.value.details["field"] == "amount"
    assert raised.value.details["rule"] == "positive_fen"
    assert state(source) == before


def test_a_correction_takes_money_out_of_amount_and_available():
    source = new_source()

    entries = source.correct(300_000, FINANCE_B, "request:2", "录入错误", LATER)

    assert (source.amount, source.available) == (700_000, 700_000)
    assert (source.version, source.updated_at) == (3, LATER)
    assert postings(entries) == [
        (income(source.id), 300_000, 0),
        (available(source.id), 0, 300_000),
    ]
    assert {(e.kind, e.actor_id, e.memo) for e in entries} == {
        ("correction", FINANCE_B.user_id, "录入错误")
    }


def test_a_correction_may_take_exactly_what_is_available():
    source = new_source()
    new_commitment(source, 400_000)

    source.correct(600_000, FINANCE_A, "request:2", "年终收回", LATER)

    assert (source.amount, source.available, source.committed) == (400_000, 0, 400_000)


@pytest.mark.parametrize("reason", [None, ""])
def test_a_correction_needs_a_reason(reason):
    source = new_source()
    before = state(source)

    with pytest.raises(RuleBroken) as raised:
        source.correct(1_000, FINANCE_A, "request:2", reason, LATER)

    assert raised.value.details["field"] == "reason"
    assert state(source) == before


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_correction_of_anything_but_positive_whole_fen_is_refused(amount):
    source = new_source()
    before = state(source)

    with pytest.raises(RuleBroken) as raised:
        source.correct(amount, FINANCE_A, "request:2", "录入错误", LATER)

    assert raised.value.details["field"] == "amount"
    assert state(source) == before


def test_a_correction_cannot_take_committed_money_and_names_the_shortfall():
    source = new_source()
    new_commitment(source, 400_000)
    before = state(source)

    with pytest.raises(InsufficientFunds) as raised:
        source.correct(600_001, FINANCE_A, "request:2", "收回", LATER)

    assert raised.value.details["wanted"] == 600_001
    assert raised.value.details["available"] == 600_000
    assert raised.value.details["shortfall"] == 1
    assert state(source) == before


# --- commitments ------------------------------------------------------------------------------


def test_a_commitment_within_what_is_available_moves_it_to_committed():
    source = new_source()

    commitment, _ = new_commitment(source, 600_000)

    assert (source.amount, source.available, source.committed) == (1_000_000, 400_000, 600_000)
    assert source.version == 3
    assert (commitment.amount, commitment.outstanding, commitment.status) == (
        600_000,
        600_000,
        "active",
    )
    assert (commitment.released, commitment.disbursed, commitment.paid) == (0, 0, 0)
    assert (commitment.source_id, commitment.payee_id) == (source.id, PROVIDER_ID)


def test_a_commitment_journals_available_to_the_contracts_committed_account():
    source = new_source()

    _, entries = new_commitment(source, 600_000, contract_id="contract-7")

    assert postings(entries) == [
        (committed("contract-7"), 600_000, 0),
        (available(source.id), 0, 600_000),
    ]
    assert {(e.kind, e.contract_id, e.source_id, e.actor_id) for e in entries} == {
        ("commitment", "contract-7", source.id, None)
    }
    assert balances(entries) == {
        committed("contract-7"): 600_000,
        available(source.id): -600_000,
    }


def test_a_commitment_records_commitment_made_with_its_facts():
    source = new_source()

    commitment, _ = new_commitment(source, 600_000, contract_id="contract-7")

    [event] = commitment.pull_events()
    assert event.name == "commitment_made"
    assert event.data == {
        "commitment_id": commitment.id,
        "contract_id": "contract-7",
        "project_id": PROJECT_ID,
        "funding_source_id": source.id,
        "amount": 600_000,
        "occurred_at": AT,
    }


def test_a_commitment_may_take_exactly_what_is_available():
    source = new_source()

    new_commitment(source, SOURCE_AMOUNT)

    assert (source.available, source.committed) == (0, SOURCE_AMOUNT)


def test_a_commitment_beyond_what_is_available_is_refused_with_the_shortfall():
    source = new_source()
    new_commitment(source, 700_000)
    before = state(source)

    with pytest.raises(InsufficientFunds) as raised:
        new_commitment(source, 300_001)

    assert raised.value.details["shortfall"] == 1
    assert raised.value.details["available"] == 300_000
    assert raised.value.details["wanted"] == 300_001
    assert raised.value.details["funding_source_id"] == source.id
    assert state(source) == before


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_commitment_of_anything_but_positive_whole_fen_is_refused(amount):
    source = new_source()
    before = state(source)

    with pytest.raises(RuleBroken):
        new_commitment(source, amount)

    assert state(source) == before


# --- releases ---------------------------------------------------------------------------------


def test_a_release_gives_back_everything_outstanding_when_nothing_is_claimed():
    source = new_source()
    commitment, _ = new_commitment(source, 600_000, contract_id="contract-7")

    entries = release(source, commitment, claimed=0, cause="event:ended", at=LATER)

    assert postings(entries) == [
        (available(source.id), 600_000, 0),
        (committed("contract-7"), 0, 600_000),
    ]
    assert (source.available, source.committed) == (SOURCE_AMOUNT, 0)
    assert (commitment.released, commitment.outstanding, commitment.status) == (
        600_000,
        0,
        "released",
    )


def test_a_release_keeps_what_open_disbursements_still_claim():
    source, commitment, disbursement = books(LARGE)
    approve_fully(source, commitment, disbursement)  # 200 000 disbursed
    request(commitment, SMALL)  # 50 000 claimed, still pending

    entries = release(source, commitment, claimed=SMALL, cause="event:ended", at=LATEST)

    remainder = CONTRACT_AMOUNT - LARGE - SMALL
    assert balances(entries) == {
        available(source.id): remainder,
        committed(commitment.contract_id): -remainder,
    }
    assert commitment.released == remainder
    assert commitment.outstanding == SMALL
    assert (source.available, source.committed) == (
        SOURCE_AMOUNT - CONTRACT_AMOUNT + remainder,
        CONTRACT_AMOUNT - remainder,
    )
    assert commitment.status == "released"


@pytest.mark.parametrize("claimed", [CONTRACT_AMOUNT, CONTRACT_AMOUNT + 1])
def test_a_release_with_nothing_remaining_moves_nothing_but_closes_the_commitment(claimed):
    source = new_source()
    commitment, _ = new_commitment(source)
    before = state(source)

    entries = release(source, commitment, claimed=claimed, cause="event:ended", at=LATER)

    assert entries == []
    assert state(source) == before
    assert (commitment.released, commitment.status) == (0, "released")


# --- requesting a disbursement ----------------------------------------------------------------


def test_a_request_within_the_commitment_is_pending_and_recorded():
    source = new_source()
    commitment, _ = new_commitment(source)

    disbursement = request(commitment, SMALL)

    assert (disbursement.status, disbursement.amount) == ("pending", SMALL)
    assert (disbursement.contract_id, disbursement.source_id, disbursement.payee_id) == (
        commitment.contract_id,
        source.id,
        PROVIDER_ID,
    )
    assert disbursement.requested_by == STAFF.user_id
    assert disbursement.approvals == []
    [event] = disbursement.pull_events()
    assert event.name == "disbursement_requested"
    assert event.data["amount"] == SMALL
    assert event.data["requested_by"] == STAFF.user_id
    assert event.data["funding_source_id"] == source.id
    assert event.data["payee_id"] == PROVIDER_ID


def test_a_request_moves_no_money():
    source = new_source()
    commitment, _ = new_commitment(source)
    before = state(source, commitment)

    request(commitment, SMALL)

    assert state(source, commitment) == before


def test_a_request_may_take_exactly_what_the_commitment_has_outstanding():
    source = new_source()
    commitment, _ = new_commitment(source)

    assert request(commitment, CONTRACT_AMOUNT).amount == CONTRACT_AMOUNT


def test_a_request_beyond_the_commitments_outstanding_is_refused_with_the_shortfall():
    source, commitment, disbursement = books(LARGE)
    approve_fully(source, commitment, disbursement)  # outstanding now 400 000

    with pytest.raises(InsufficientFunds) as raised:
        request(commitment, CONTRACT_AMOUNT - LARGE + 1)

    assert raised.value.details["available"] == CONTRACT_AMOUNT - LARGE
    assert raised.value.details["shortfall"] == 1
    assert raised.value.details["contract_id"] == commitment.contract_id


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_request_of_anything_but_positive_whole_fen_is_refused(amount):
    source = new_source()
    commitment, _ = new_commitment(source)

    with pytest.raises(RuleBroken):
        request(commitment, amount)


@pytest.mark.parametrize(
    ("contract_amount", "required"),
    [(1, 1), (THRESHOLD - 1, 1), (THRESHOLD, 2), (THRESHOLD + 1, 2), (CONTRACT_AMOUNT, 2)],
)
def test_two_approvals_are_required_when_the_contract_is_at_or_above_the_threshold(
    contract_amount, required
):
    source = new_source()
    commitment, _ = new_commitment(source, contract_amount)

    assert request(commitment, 1).required_approvals == required
    if contract_amount > 1:
        assert request(commitment, contract_amount - 1).required_approvals == required


def test_a_large_contract_cut_into_small_tranches_still_needs_two_approvers_on_each():
    source = new_source()
    commitment, _ = new_commitment(source, CONTRACT_AMOUNT)
    tranches = [request(commitment, SMALL) for _ in range(3)]

    assert [t.required_approvals for t in tranches] == [2, 2, 2]
    first = tranches[0]
    first.approve(source, commitment, FINANCE_A, LATER)
    assert first.status == "pending"
    first.approve(source, commitment, FINANCE_B, LATER)
    assert first.status == "approved"


def test_a_request_for_a_suspended_payee_is_held_at_once():
    source = new_source()
    commitment, _ = new_commitment(source)

    disbursement = request(commitment, SMALL, suspended=True)

    assert (disbursement.status, disbursement.held_from) == ("held", "pending")
    assert disbursement.hold_reason
    events = disbursement.pull_events()
    assert [event.name for event in events] == ["disbursement_requested", "disbursement_held"]
    assert events[0].seq < events[1].seq
    assert events[1].data["payee_id"] == PROVIDER_ID


# --- approving --------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", NOT_FINANCE, ids=lambda actor: actor.role)
def test_only_a_finance_officer_approves(actor):
    source, commitment, disbursement = books()
    before = state(source, commitment, disbursement)

    with pytest.raises(MakerChecker):
        disbursement.approve(source, commitment, actor, LATER)

    assert state(source, commitment, disbursement) == before


def test_the_requester_never_approves_their_own_disbursement():
    source, commitment, disbursement = books(requested_by=FINANCE_A.user_id)
    before = state(source, commitment, disbursement)

    with pytest.raises(MakerChecker):
        disbursement.approve(source, commitment, FINANCE_A, LATER)

    assert state(source, commitment, disbursement) == before
    disbursement.approve(source, commitment, FINANCE_B, LATER)
    assert disbursement.status == "approved"


def test_nobody_approves_the_same_disbursement_twice():
    source, commitment, disbursement = books(LARGE)
    disbursement.approve(source, commitment, FINANCE_A, LATER)
    before = state(source, commitment, disbursement)

    with pytest.raises(MakerChecker):
        disbursement.approve(source, commitment, FINANCE_A, LATEST)

    assert state(source, commitment, disbursement) == before
    assert disbursement.status == "pending"


@pytest.mark.parametrize("reason", CONFLICTS)
def test_nobody_approves_a_disbursement_of_a_contract_they_had_a_hand_in(reason):
    source, commitment, disbursement = books(SMALL)
    before = state(source, commitment, disbursement)
    involved = {reason: {FINANCE_A.user_id}}

    with pytest.raises(MakerChecker) as raised:
        disbursement.approve(source, commitment, FINANCE_A, LATER, involved)

    assert raised.value.code == "MAKER_CHECKER"
    assert raised.value.details["reason"] == reason
    assert state(source, commitment, disbursement) == before
    disbursement.approve(source, commitment, FINANCE_B, LATER, involved)
    assert disbursement.status == "approved"


def test_the_requester_is_refused_as_the_one_who_accepted_the_milestone():
    source, commitment, disbursement = books(requested_by=FINANCE_A.user_id)

    with pytest.raises(MakerChecker) as raised:
        disbursement.approve(source, commitment, FINANCE_A, LATER)

    assert raised.value.details["reason"] == "accepted_milestone"


@pytest.mark.parametrize("amount", [SMALL, LARGE])
def test_whoever_approved_a_disbursement_does_not_pay_it(amount):
    source, commitment, disbursement = books(amount)
    approve_fully(source, commitment, disbursement)
    before = state(source, commitment, disbursement)

    for approver in (FINANCE_A, FINANCE_B)[: disbursement.required_approvals]:
        with pytest.raises(MakerChecker) as raised:
            disbursement.pay(source, commitment, "BANK-0009", approver, LATEST)
        assert raised.value.details["reason"] == "approved_disbursement"
    assert state(source, commitment, disbursement) == before
    disbursement.pay(source, commitment, "BANK-0009", FINANCE_C, LATEST)
    assert (disbursement.status, disbursement.paid_by) == ("paid", FINANCE_C.user_id)


def test_a_single_needed_approval_moves_the_money_to_approved():
    source, commitment, disbursement = books(SMALL)

    approval, entries = disbursement.approve(source, commitment, FINANCE_A, LATER)

    contract = commitment.contract_id
    assert postings(entries) == [(approved(contract), SMALL, 0), (committed(contract), 0, SMALL)]
    assert {(e.kind, e.actor_id, e.cause) for e in entries} == {
        ("approval", FINANCE_A.user_id, f"disbursement:{disbursement.id}")
    }
    assert (disbursement.status, disbursement.decided_at) == ("approved", LATER)
    assert (approval.approver_id, approval.approver_name) == (FINANCE_A.user_id, "finance_a")
    assert (commitment.disbursed, commitment.outstanding) == (SMALL, SMALL_CONTRACT - SMALL)
    assert (source.disbursed, source.committed, source.available) == (
        SMALL,
        SMALL_CONTRACT,
        SOURCE_AMOUNT - SMALL_CONTRACT,
    )
    [event] = disbursement.pull_events()
    assert event.name == "disbursement_approved"
    assert event.data["approved_by"] == [FINANCE_A.user_id]
    assert event.data["amount"] == SMALL


def test_the_first_of_two_approvals_leaves_it_pending_and_moves_nothing():
    source, commitment, disbursement = books(LARGE)
    money = state(source, commitment)

    approval, entries = disbursement.approve(source, commitment, FINANCE_A, LATER)

    assert entries == []
    assert disbursement.status == "pending"
    assert [a.approver_id for a in disbursement.approvals] == [approval.approver_id]
    assert state(source, commitment) == money
    assert disbursement.pull_events() == []


def test_the_second_of_two_approvals_moves_the_money_and_names_both_approvers():
    source, commitment, disbursement = books(LARGE)
    disbursement.approve(source, commitment, FINANCE_A, LATER)

    _, entries = disbursement.approve(source, commitment, FINANCE_B, LATEST)

    contract = commitment.contract_id
    assert postings(entries) == [(approved(contract), LARGE, 0), (committed(contract), 0, LARGE)]
    assert {entry.actor_id for entry in entries} == {FINANCE_B.user_id}
    assert disbursement.status == "approved"
    assert (commitment.disbursed, source.disbursed) == (LARGE, LARGE)
    [event] = disbursement.pull_events()
    assert event.name == "disbursement_approved"
    assert event.data["approved_by"] == [FINANCE_A.user_id, FINANCE_B.user_id]


@pytest.mark.parametrize("status", ["approved", "paid", "rejected", "held"])
def test_only_a_pending_disbursement_is_approved(status):
    source, commitment, disbursement = reach(status)
    before = state(source, commitment, disbursement)

    with pytest.raises(InvalidTransition) as raised:
        disbursement.approve(source, commitment, FINANCE_C, LATEST)

    assert raised.value.details["current_status"] == status
    assert state(source, commitment, disbursement) == before


def two_claims_on_one_commitment():
    """A 99 000 commitment (below the threshold: one approval each) with two 60 000
    requests: each fit when requested, not both."""
    source = new_source()
    commitment, _ = new_commitment(source, 99_000)
    first = request(commitment, 60_000)
    second = request(commitment, 60_000)
    first.approve(source, commitment, FINANCE_A, LATER)
    return source, commitment, second


def test_an_approval_beyond_the_commitments_outstanding_is_refused():
    source, commitment, second = two_claims_on_one_commitment()
    money = state(source, commitment)

    with pytest.raises(InsufficientFunds) as raised:
        second.approve(source, commitment, FINANCE_B, LATEST)

    assert raised.value.details["wanted"] == 60_000
    assert raised.value.details["available"] == 39_000
    assert raised.value.details["shortfall"] == 21_000
    assert second.status == "pending"
    assert state(source, commitment) == money


def test_a_refused_approval_leaves_the_disbursement_as_it_was():
    source, commitment, second = two_claims_on_one_commitment()
    before = state(second)

    with pytest.raises(InsufficientFunds):
        second.approve(source, commitment, FINANCE_B, LATEST)

    assert second.approvals == []  # the refused approval is not recorded
    assert second.version == 1
    assert state(second) == before


# --- rejecting --------------------------------------------------------------------------------


def test_a_rejection_records_the_stripped_reason_and_who_rejected():
    source, commitment, disbursement = books()
    money = state(source, commitment)

    disbursement.reject("  材料不全 ", FINANCE_A, LATER)

    assert disbursement.status == "rejected"
    assert (disbursement.rejection_reason, disbursement.rejected_by) == (
        "材料不全",
        FINANCE_A.user_id,
    )
    assert disbursement.decided_at == LATER
    assert state(source, commitment) == money
    [event] = disbursement.pull_events()
    assert event.name == "disbursement_rejected"
    assert (event.data["reason"], event.data["rejected_by"]) == ("材料不全", FINANCE_A.user_id)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_needs_a_reason(reason):
    _, _, disbursement = books()
    before = state(disbursement)

    with pytest.raises(RuleBroken) as raised:
        disbursement.reject(reason, FINANCE_A, LATER)

    assert raised.value.details["field"] == "reason"
    assert state(disbursement) == before


@pytest.mark.parametrize("status", ["approved", "paid", "rejected", "held"])
def test_only_a_pending_disbursement_is_rejected(status):
    _, _, disbursement = reach(status)
    before = state(disbursement)

    with pytest.raises(InvalidTransition) as raised:
        disbursement.reject("太迟了", FINANCE_C, LATEST)

    assert raised.value.details["current_status"] == status
    assert state(disbursement) == before


@pytest.mark.parametrize("actor", NOT_FINANCE, ids=lambda actor: actor.role)
def test_only_a_finance_officer_rejects(actor):
    _, _, disbursement = books()

    with pytest.raises(MakerChecker):
        disbursement.reject("不行", actor, LATER)

    assert disbursement.status == "pending"


# --- paying -----------------------------------------------------------------------------------


def test_a_payment_moves_approved_money_to_paid_with_the_stripped_reference():
    source, commitment, disbursement = reach("approved")

    entries = disbursement.pay(source, commitment, "  BANK-2027-0042\n", FINANCE_C, LATEST)

    contract = commitment.contract_id
    assert postings(entries) == [(paid(contract), SMALL, 0), (approved(contract), 0, SMALL)]
    assert {(e.kind, e.memo, e.actor_id) for e in entries} == {
        ("payment", "BANK-2027-0042", FINANCE_C.user_id)
    }
    assert disbursement.status == "paid"
    assert disbursement.payment_reference == "BANK-2027-0042"
    assert (disbursement.paid_by, disbursement.paid_at) == (FINANCE_C.user_id, LATEST)
    assert (commitment.paid, source.paid) == (SMALL, SMALL)
    assert (commitment.disbursed, source.disbursed) == (SMALL, SMALL)
    [event] = disbursement.pull_events()
    assert event.name == "disbursement_paid"
    assert event.data["payment_reference"] == "BANK-2027-0042"


@pytest.mark.parametrize("reference", ["", "   ", "\t\n"])
def test_a_payment_needs_the_banks_reference(reference):
    source, commitment, disbursement = reach("approved")
    before = state(source, commitment, disbursement)

    with pytest.raises(RuleBroken) as raised:
        disbursement.pay(source, commitment, reference, FINANCE_C, LATEST)

    assert raised.value.details["field"] == "payment_reference"
    assert state(source, commitment, disbursement) == before


@pytest.mark.parametrize("status", ["pending", "paid", "rejected", "held"])
def test_only_an_approved_disbursement_is_paid(status):
    source, commitment, disbursement = reach(status)
    before = state(source, commitment, disbursement)

    with pytest.raises(InvalidTransition) as raised:
        disbursement.pay(source, commitment, "BANK-0002", FINANCE_C, LATEST)

    assert raised.value.details["current_status"] == status
    assert state(source, commitment, disbursement) == before


@pytest.mark.parametrize("actor", NOT_FINANCE, ids=lambda actor: actor.role)
def test_only_a_finance_officer_pays(actor):
    source, commitment, disbursement = reach("approved")
    before = state(source, commitment, disbursement)

    with pytest.raises(MakerChecker):
        disbursement.pay(source, commitment, "BANK-0003", actor, LATEST)

    assert state(source, commitment, disbursement) == before


# --- the payee's standing ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "approved"])
def test_a_suspended_payees_disbursement_is_held_and_released_back_to_where_it_was(status):
    source, commitment, disbursement = reach(status)
    money = state(source, commitment)

    assert disbursement.payee_standing_changed(True, 1, "违规经营", LATER) is True
    assert (disbursement.status, disbursement.held_from) == ("held", status)
    assert disbursement.hold_reason == "违规经营"
    [held] = disbursement.pull_events()
    assert held.name == "disbursement_held"
    assert (held.data["payee_id"], held.data["reason"]) == (PROVIDER_ID, "违规经营")

    assert disbursement.payee_standing_changed(False, 2, None, LATEST) is True
    assert disbursement.status == status
    assert (disbursement.held_from, disbursement.hold_reason) == (None, None)
    [released] = disbursement.pull_events()
    assert released.name == "disbursement_released"
    assert released.data["status"] == status
    assert state(source, commitment) == money


def test_a_hold_without_a_reason_says_the_payee_is_suspended():
    _, _, disbursement = books()

    disbursement.payee_standing_changed(True, 1, None, LATER)

    assert disbursement.hold_reason


def test_a_disbursement_held_when_requested_is_released_to_pending():
    _, _, disbursement = books(suspended=True)

    assert disbursement.payee_standing_changed(False, 1, None, LATER) is True
    assert disbursement.status == "pending"
    assert names(disbursement) == ["disbursement_released"]


@pytest.mark.parametrize("stale", [1, 2], ids=["older", "same"])
def test_a_stale_standing_change_is_ignored(stale):
    _, _, disbursement = books()
    disbursement.payee_standing_changed(True, 2, "违规", LATER)
    disbursement.pull_events()
    before = state(disbursement)

    assert disbursement.payee_standing_changed(False, stale, None, LATEST) is False
    assert state(disbursement) == before
    assert disbursement.status == "held"


@pytest.mark.parametrize("status", ["paid", "rejected"])
def test_a_suspension_does_not_touch_a_settled_disbursement(status):
    _, _, disbursement = reach(status)

    assert disbursement.payee_standing_changed(True, 1, "违规", LATEST) is False
    assert disbursement.status == status
    assert disbursement.pull_events() == []


def test_a_reinstatement_of_a_payee_whose_disbursement_is_not_held_changes_nothing():
    _, _, disbursement = books()

    assert disbursement.payee_standing_changed(False, 1, None, LATER) is False
    assert disbursement.status == "pending"
    assert disbursement.pull_events() == []


# --- who manages and who sees which money -----------------------------------------------------


@pytest.mark.parametrize("actor", [FINANCE_A, ADMIN], ids=lambda actor: actor.role)
def test_finance_officers_and_admins_manage_sources(actor):
    ensure_treasurer(actor)


@pytest.mark.parametrize("actor", [STAFF, CONTRACTOR, OPS], ids=lambda actor: actor.role)
def test_nobody_else_manages_sources(actor):
    with pytest.raises(MakerChecker):
        ensure_treasurer(actor)


def scope(actor, path=None):
    return FundingScope(actor, path)


@pytest.mark.parametrize("actor", [ADMIN, OPS], ids=lambda actor: actor.role)
@pytest.mark.parametrize("owner_path", [CITY_PATH, OTHER_DISTRICT_PATH, None])
def test_only_admins_and_ops_see_all_money(actor, owner_path):
    source, commitment, disbursement = books()
    other_commitment, _ = new_commitment(source, 1_000, payee_id=OTHER_PROVIDER_ID)

    for seer in (scope(actor), scope(actor, STREET_PATH)):
        seer.ensure_sees_source(source, lambda: owner_path)
        for thing in (commitment, disbursement, other_commitment):
            seer.ensure_sees_payment(thing, lambda: owner_path)


FINANCE_OF_DISTRICT = Actor(str(uuid.uuid4()), "finance_d", "finance_officer", FEDERATION_ID)


@pytest.mark.parametrize("actor", [STAFF, FINANCE_OF_DISTRICT], ids=lambda actor: actor.role)
@pytest.mark.parametrize("owner_path", [DISTRICT_PATH, STREET_PATH])
def test_staff_and_finance_see_money_owned_in_their_subtree(actor, owner_path):
    source, commitment, disbursement = books()
    seer = scope(actor, DISTRICT_PATH)

    seer.ensure_sees_source(source, lambda: owner_path)
    seer.ensure_sees_payment(commitment, lambda: owner_path)
    seer.ensure_sees_payment(disbursement, lambda: owner_path)
    seer.ensure_owns(owner_path, "owner_id")


@pytest.mark.parametrize("actor", [STAFF, FINANCE_OF_DISTRICT], ids=lambda actor: actor.role)
@pytest.mark.parametrize("owner_path", [CITY_PATH, OTHER_DISTRICT_PATH, "/other-city/", None])
def test_money_owned_outside_ones_subtree_is_not_there(actor, owner_path):
    source, commitment, disbursement = books()
    seer = scope(actor, DISTRICT_PATH)

    with pytest.raises(SourceNotFound):
        seer.ensure_sees_source(source, lambda: owner_path)
    with pytest.raises(CommitmentNotFound):
        seer.ensure_sees_payment(commitment, lambda: owner_path)
    with pytest.raises(DisbursementNotFound):
        seer.ensure_sees_payment(disbursement, lambda: owner_path)
    with pytest.raises(OutOfScope):
        seer.ensure_owns(owner_path, "owner_id")


@pytest.mark.parametrize("actor", [STAFF, FINANCE_A], ids=lambda actor: actor.role)
def test_staff_or_finance_without_a_federation_see_no_money(actor):
    source, _, disbursement = books()

    with pytest.raises(SourceNotFound):
        scope(actor).ensure_sees_source(source, lambda: DISTRICT_PATH)
    with pytest.raises(DisbursementNotFound):
        scope(actor).ensure_sees_payment(disbursement, lambda: DISTRICT_PATH)


@pytest.mark.parametrize(
    ("owner", "purchaser_path", "available"),
    [
        ("city", "/city/", True),  # the purchaser's own
        ("city", "/city/district/", True),  # a federation above the purchaser
        ("district", "/city/district/street/", True),
        ("district", "/city/", False),  # below the purchaser
        ("district-2", "/city/district/", False),  # a sibling's
        ("other-city", "/city/district/", False),  # another city's
        ("city", None, False),  # a purchaser nobody knows
        ("ity", "/city/", False),  # ids match whole, not in part
    ],
)
def test_a_source_is_available_to_its_owner_and_the_federations_below(
    owner, purchaser_path, available
):
    assert source_available_to(owner, purchaser_path) is available


# --- top-ups and corrections at or above the threshold ---------------------------------------


@pytest.mark.parametrize(
    ("amount", "pending"),
    [(1, False), (THRESHOLD - 1, False), (THRESHOLD, True), (-THRESHOLD, True), (-1, False)],
)
def test_adjustments_at_or_above_the_threshold_wait_for_confirmation(amount, pending):
    assert needs_confirmation(amount, THRESHOLD) is pending


@pytest.mark.parametrize(("amount", "kind"), [(THRESHOLD, "receipt"), (-THRESHOLD, "correction")])
def test_a_pending_adjustment_enters_the_journal_only_when_another_officer_confirms(amount, kind):
    source = new_source()
    before = state(source)

    adjustment = SourceAdjustment(
        source=source, amount=amount, reason="追加预算", actor=FINANCE_A, at=AT
    )

    assert (adjustment.status, adjustment.requested_by) == ("pending", FINANCE_A.user_id)
    assert state(source) == before  # nothing moved yet
    with pytest.raises(MakerChecker) as raised:
        adjustment.confirm(source, FINANCE_A, LATER)
    assert raised.value.details["reason"] == "requested_adjustment"
    with pytest.raises(MakerChecker):
        adjustment.confirm(source, ADMIN, LATER)
    assert state(source) == before

    entries = adjustment.confirm(source, FINANCE_B, LATER)

    assert {e.kind for e in entries} == {kind}
    assert {(e.actor_id, e.cause, e.memo) for e in entries} == {
        (FINANCE_B.user_id, f"adjustment:{adjustment.id}", "追加预算")
    }
    assert source.amount == SOURCE_AMOUNT + amount
    assert (adjustment.status, adjustment.decided_by) == ("confirmed", FINANCE_B.user_id)
    with pytest.raises(InvalidTransition) as raised:
        adjustment.confirm(source, FINANCE_C, LATEST)
    assert raised.value.details["current_status"] == "confirmed"


def test_a_refused_adjustment_moves_nothing_and_needs_a_reason():
    source = new_source()
    before = state(source)
    adjustment = SourceAdjustment(
        source=source, amount=THRESHOLD, reason="追加预算", actor=ADMIN, at=AT
    )

    with pytest.raises(RuleBroken):
        adjustment.refuse("  ", FINANCE_B, LATER)
    adjustment.refuse("无批文", FINANCE_B, LATER)

    assert (adjustment.status, adjustment.refusal_reason) == ("refused", "无批文")
    assert state(source) == before
    with pytest.raises(InvalidTransition):
        adjustment.confirm(source, FINANCE_C, LATEST)


def test_a_correction_beyond_what_is_available_is_refused_when_asked():
    source = new_source()

    with pytest.raises(InsufficientFunds):
        SourceAdjustment(
            source=source, amount=-(SOURCE_AMOUNT + 1), reason="更正", actor=FINANCE_A, at=AT
        )


def test_contractors_see_no_source_not_even_the_one_paying_them():
    source, _, _ = books()

    with pytest.raises(SourceNotFound) as raised:
        scope(CONTRACTOR).ensure_sees_source(source, lambda: DISTRICT_PATH)

    assert raised.value.details["funding_source_id"] == source.id


def test_contractors_see_only_the_money_paid_to_them():
    _, commitment, disbursement = books()
    theirs = scope(CONTRACTOR)

    theirs.ensure_sees_payment(commitment, lambda: None)
    theirs.ensure_sees_payment(disbursement, lambda: None)
    with pytest.raises(CommitmentNotFound):
        scope(OTHER_CONTRACTOR).ensure_sees_payment(commitment, lambda: DISTRICT_PATH)
    with pytest.raises(DisbursementNotFound):
        scope(OTHER_CONTRACTOR).ensure_sees_payment(disbursement, lambda: DISTRICT_PATH)


def test_a_contractor_without_an_organization_sees_no_payment():
    _, _, disbursement = books()
    nobody = Actor(str(uuid.uuid4()), "loose", "contractor", None)

    with pytest.raises(DisbursementNotFound):
        scope(nobody).ensure_sees_payment(disbursement, lambda: None)
