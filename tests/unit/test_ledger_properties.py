"""The ledger's invariants under random sequences of operations (hypothesis, stateful).

A little in-memory bank holds funding sources, commitments, disbursements, every journal entry
ever written and the payment references already used (as the service's database would). Random
operations drive it: sources created, topped up and corrected down, contracts committed,
disbursements requested, approved by random people (the requester and repeat approvers
included), rejected, paid (references reused), held and released as the payee's standing
changes (stale events included), commitments released when projects end.

Each operation is checked against a model of the rules: it succeeds exactly when the rules
allow it, and when it is refused every object and the journal are exactly as before. After
every step, for every source, the journal is balanced and agrees with the cached balances.
"""

import itertools
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from funding.domain.commitments import commit, release
from funding.domain.disbursements import DISBURSEMENT_STATUSES, request_disbursement
from funding.domain.ledger import approved, available, balances, committed, income, paid
from funding.domain.sources import FundingSource
from funding.exceptions import (
    DuplicatePaymentReference,
    InsufficientFunds,
    InvalidTransition,
    MakerChecker,
    RuleBroken,
)
from kit.errors import ServiceError
from language.actor import Actor

START = datetime(2027, 1, 1, tzinfo=UTC)
THRESHOLD = 100_000  # at or above: two approvals

OFFICERS = [Actor(f"officer-{n}", f"officer{n}", "finance_officer") for n in range(3)]
OUTSIDERS = [
    Actor("admin-0", "admin", "admin"),
    Actor("staff-0", "staff", "federation_staff", "federation-0"),
    Actor("ops-0", "ops", "ops"),
    Actor("contractor-0", "contractor", "contractor", "payee-0"),
]
#: who tries to approve, reject or pay: mostly finance officers, sometimes anyone else
PEOPLE = st.one_of(st.sampled_from(OFFICERS), st.sampled_from(OFFICERS + OUTSIDERS))
#: who accepts a milestone (and so requests its disbursement): usually staff, sometimes finance
REQUESTERS = st.one_of(
    st.just("staff-0"), st.sampled_from([officer.user_id for officer in OFFICERS])
)
PAYEES = ["payee-0", "payee-1"]
REASONS = [None, "", "录入错误", "年终收回"]
REFERENCES = ["BANK-001", " BANK-001 ", "BANK-002", "银行流水-3", "", "   "]

#: a source, by its index among those created so far (modulo their number)
SOURCE = st.integers(min_value=0, max_value=3)
#: money amounts: small numbers, the exact limits and a few that are not positive
FEN = st.integers(min_value=-2, max_value=300_000)


def amount_near(limit):
    """An amount around ``limit``: the limit itself, one either side, within it, or anything
    up to twice it (and now and then nothing or less)."""
    return st.one_of(
        st.sampled_from([limit - 1, limit, limit + 1, 0, -1]),
        st.integers(min_value=1, max_value=max(1, limit)),
        st.integers(min_value=1, max_value=max(1, 2 * limit)),
    )


def snapshot(bank):
    """Every attribute of every object, the journal and the used references."""

    def attributes(thing):
        return {
            key: list(value) if isinstance(value, list) else value
            for key, value in vars(thing).items()
        }

    return (
        {key: attributes(source) for key, source in bank.sources.items()},
        {key: attributes(commitment) for key, commitment in bank.commitments.items()},
        {key: attributes(disbursement) for key, disbursement in bank.disbursements.items()},
        [entry.id for entry in bank.journal],
        set(bank.references),
    )


class Bank(RuleBasedStateMachine):
    contract_ids = Bundle("contract_ids")
    disbursement_ids = Bundle("disbursement_ids")

    def __init__(self):
        super().__init__()
        self.sources = {}
        self.commitments = {}  # by contract id
        self.disbursements = {}
        self.journal = []
        self.references = set()
        self.registry = {payee: {"version": 0, "suspended": False} for payee in PAYEES}
        self.clock = itertools.count(1)

    # --- doing things, and checking that refusals leave everything untouched ----------------

    def now(self):
        return START + timedelta(minutes=next(self.clock))

    def attempt(self, expected, action):
        """Run ``action``; it must raise ``expected`` (a domain error) or, if None, succeed.
        A refusal must leave every object and the journal exactly as they were."""
        before = snapshot(self)
        try:
            result = action()
        except ServiceError as error:
            assert expected is not None, f"refused although the rules allow it: {error!r}"
            assert isinstance(error, expected), f"expected {expected.__name__}, got {error!r}"
            assert snapshot(self) == before, f"{error!r} left changes behind"
            return None
        assert expected is None, f"allowed although the rules forbid it ({expected.__name__})"
        return result

    def write(self, entries):
        self.journal.extend(entries)

    def open_claims(self, contract_id):
        """What open disbursements still wait for: pending, or held while pending."""
        return sum(
            d.amount
            for d in self.disbursements.values()
            if d.contract_id == contract_id
            and (d.status == "pending" or (d.status == "held" and d.held_from == "pending"))
        )

    def source(self, index):
        sources = list(self.sources.values())
        return sources[index % len(sources)]

    # --- sources ------------------------------------------------------------------------------

    @initialize(
        target=contract_ids,
        amount=st.integers(min_value=1, max_value=500_000),
        share=st.floats(min_value=0.05, max_value=1),
    )
    def open_the_books(self, amount, share):
        """A funding source with part of it committed to a first contract."""
        source = self.new_source(amount)
        return self.commit_from(source, max(1, int(amount * share)), PAYEES[0])

    @rule(amount=st.integers(min_value=1, max_value=500_000))
    def create_source(self, amount):
        self.new_source(amount)

    def new_source(self, amount):
        source = FundingSource(
            name="专项资金",
            kind="fiscal_special_fund",
            owner_id="federation-0",
            fiscal_year=2027,
            description=None,
            created_by=OFFICERS[0].user_id,
            created_at=self.now(),
        )
        self.sources[source.id] = source
        self.write(source.receive(amount, OFFICERS[0], "request", "年初预算", self.now()))
        return source

    @rule(which=SOURCE, top_up=st.booleans(), data=st.data(), reason=st.sampled_from(REASONS))
    def adjust(self, which, top_up, data, reason):
        """A top-up (any amount) or a correction down (around what is available)."""
        source = self.source(which)
        if top_up:
            amount = data.draw(FEN, label="top-up")
            expected = RuleBroken if amount <= 0 else None
            action = source.receive
        else:
            amount = data.draw(amount_near(source.available), label="correction")
            if amount <= 0 or not reason:
                expected = RuleBroken
            elif amount > source.available:
                expected = InsufficientFunds
            else:
                expected = None
            action = source.correct
        entries = self.attempt(
            expected, lambda: action(amount, OFFICERS[1], "request", reason, self.now())
        )
        self.write(entries or [])

    # --- commitments --------------------------------------------------------------------------

    @rule(target=contract_ids, which=SOURCE, data=st.data(), payee=st.sampled_from(PAYEES))
    def commit(self, which, data, payee):
        source = self.source(which)
        amount = data.draw(amount_near(source.available), label="amount")
        contract_id = self.commit_from(source, amount, payee)
        return multiple() if contract_id is None else contract_id

    def commit_from(self, source, amount, payee):
        expected = (
            RuleBroken if amount <= 0 else InsufficientFunds if amount > source.available else None
        )
        contract_id = str(uuid.uuid4())
        result = self.attempt(
            expected,
            lambda: commit(
                source,
                contract_id=contract_id,
                project_id="project-0",
                payee_id=payee,
                amount=amount,
                cause="event:contract_awarded",
                at=self.now(),
            ),
        )
        if result is None:
            return None
        commitment, entries = result
        self.commitments[contract_id] = commitment
        self.write(entries)
        return contract_id

    @rule(contract_id=contract_ids)
    def release_commitment(self, contract_id):
        """The project ended: what open disbursements do not wait for goes back."""
        commitment = self.commitments[contract_id]
        source = self.sources[commitment.source_id]
        claimed = self.open_claims(contract_id)
        outstanding = commitment.outstanding
        entries = release(source, commitment, claimed=claimed, cause="ended", at=self.now())
        self.write(entries)
        assert commitment.status == "released"
        assert commitment.outstanding == min(outstanding, claimed)
        assert sum(entry.debit for entry in entries) == max(0, outstanding - claimed)

    # --- disbursements ------------------------------------------------------------------------

    @rule(
        target=disbursement_ids,
        contract_id=contract_ids,
        data=st.data(),
        requester=REQUESTERS,
    )
    def request(self, contract_id, data, requester):
        commitment = self.commitments[contract_id]
        amount = data.draw(amount_near(commitment.outstanding), label="amount")
        expected = (
            RuleBroken
            if amount <= 0
            else InsufficientFunds
            if amount > commitment.outstanding
            else None
        )
        suspended = self.registry[commitment.payee_id]["suspended"]
        disbursement = self.attempt(
            expected,
            lambda: request_disbursement(
                commitment,
                milestone_id=str(uuid.uuid4()),
                amount=amount,
                requested_by=requester,
                payee_suspended=suspended,
                dual_approval_threshold=THRESHOLD,
                cause="event:milestone_accepted",
                at=self.now(),
            ),
        )
        if disbursement is None:
            return multiple()
        assert disbursement.status == ("held" if suspended else "pending")
        # the contract's amount decides, not the tranche's
        assert disbursement.required_approvals == (2 if commitment.amount >= THRESHOLD else 1)
        self.disbursements[disbursement.id] = disbursement
        return disbursement.id

    @rule(disbursement_id=disbursement_ids, actor=PEOPLE)
    def approve(self, disbursement_id, actor):
        self.approve_as(self.disbursements[disbursement_id], actor)

    @rule(disbursement_id=disbursement_ids)
    def approve_by_every_officer(self, disbursement_id):
        """The finance team works through the queue: each officer who may, approves."""
        disbursement = self.disbursements[disbursement_id]
        for officer in OFFICERS:
            if disbursement.status == "pending" and officer.user_id != disbursement.requested_by:
                self.approve_as(disbursement, officer)

    def approve_as(self, disbursement, actor):
        commitment = self.commitments[disbursement.contract_id]
        source = self.sources[disbursement.source_id]
        last = len(disbursement.approvals) + 1 >= disbursement.required_approvals
        if actor.role != "finance_officer":
            expected = MakerChecker
        elif disbursement.status != "pending":
            expected = InvalidTransition
        elif actor.user_id == disbursement.requested_by or actor.user_id in {
            a.approver_id for a in disbursement.approvals
        }:
            expected = MakerChecker
        elif last and disbursement.amount > commitment.outstanding:
            expected = InsufficientFunds
        else:
            expected = None
        result = self.attempt(
            expected, lambda: disbursement.approve(source, commitment, actor, self.now())
        )
        if result is not None:
            _, entries = result
            self.write(entries)
            assert disbursement.status == ("approved" if last else "pending")
            assert bool(entries) == last

    @rule(
        disbursement_id=disbursement_ids,
        actor=PEOPLE,
        reason=st.sampled_from([None, "", "  ", "材料不全"]),
    )
    def reject(self, disbursement_id, actor, reason):
        disbursement = self.disbursements[disbursement_id]
        if actor.role != "finance_officer":
            expected = MakerChecker
        elif disbursement.status != "pending":
            expected = InvalidTransition
        elif not (reason or "").strip():
            expected = RuleBroken
        else:
            expected = None
        self.attempt(expected, lambda: disbursement.reject(reason, actor, self.now()))

    @rule(
        disbursement_id=disbursement_ids,
        actor=PEOPLE,
        reference=st.one_of(st.sampled_from(REFERENCES), st.text(max_size=8)),
    )
    def pay(self, disbursement_id, actor, reference):
        disbursement = self.disbursements[disbursement_id]
        commitment = self.commitments[disbursement.contract_id]
        source = self.sources[disbursement.source_id]
        stripped = reference.strip()
        if stripped in self.references:
            expected = DuplicatePaymentReference
        elif actor.role != "finance_officer":
            expected = MakerChecker
        elif disbursement.status != "approved":
            expected = InvalidTransition
        elif actor.user_id in {a.approver_id for a in disbursement.approvals}:
            expected = MakerChecker  # whoever approved it does not pay it
        elif not stripped:
            expected = RuleBroken
        else:
            expected = None

        def pay_once():
            # the service looks the reference up before paying (a unique index backs it)
            if stripped in self.references:
                raise DuplicatePaymentReference(stripped, disbursement.id)
            entries = disbursement.pay(source, commitment, reference, actor, self.now())
            self.references.add(disbursement.payment_reference)
            return entries

        entries = self.attempt(expected, pay_once)
        self.write(entries or [])
        if expected is None:
            assert disbursement.payment_reference == stripped

    @rule(payee=st.sampled_from(PAYEES), suspended=st.booleans(), data=st.data())
    def payee_standing(self, payee, suspended, data):
        """The registry suspends or reinstates the payee; events may arrive late (stale)."""
        registry = self.registry[payee]
        if data.draw(st.booleans(), label="fresh"):
            registry["version"] += 1
            registry["suspended"] = suspended
            version = registry["version"]
        else:
            version = data.draw(st.integers(0, registry["version"]), label="stale version")
        at = self.now()
        for disbursement in self.disbursements.values():
            if disbursement.payee_id != payee:
                continue
            status, held_from = disbursement.status, disbursement.held_from
            seen = disbursement.payee_status_version
            changed = disbursement.payee_standing_changed(suspended, version, "违规", at)
            if version <= seen:
                assert (changed, disbursement.status) == (False, status)
                assert disbursement.payee_status_version == seen
            elif suspended and status in ("pending", "approved"):
                assert changed
                assert (disbursement.status, disbursement.held_from) == ("held", status)
            elif not suspended and status == "held":
                assert changed
                assert disbursement.status == held_from
            else:
                assert (changed, disbursement.status) == (False, status)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def every_transaction_balances(self):
        transactions = defaultdict(list)
        for entry in self.journal:
            assert (entry.debit > 0) != (entry.credit > 0), "a line is a debit or a credit"
            assert entry.debit >= 0 and entry.credit >= 0
            transactions[entry.transaction_id].append(entry)
        for lines in transactions.values():
            debits = sum(entry.debit for entry in lines)
            assert debits == sum(entry.credit for entry in lines) > 0
            assert sorted(entry.line for entry in lines) == list(range(1, len(lines) + 1))
            assert len({entry.source_id for entry in lines}) == 1
        assert sum(e.debit for e in self.journal) == sum(e.credit for e in self.journal)

    @invariant()
    def cached_balances_agree_with_the_journal(self):
        for source in self.sources.values():
            balance = balances([e for e in self.journal if e.source_id == source.id])
            contracts = [
                c.contract_id for c in self.commitments.values() if c.source_id == source.id
            ]

            def total(account, contracts=contracts, balance=balance):
                return sum(balance.get(account(contract), 0) for contract in contracts)

            assert -balance.get(income(source.id), 0) == source.amount
            assert balance.get(available(source.id), 0) == source.available
            assert total(committed) + total(approved) + total(paid) == source.committed
            assert total(approved) + total(paid) == source.disbursed
            assert total(paid) == source.paid
            assert source.amount == source.available + source.committed
            assert min(source.amount, source.available, source.committed) >= 0
            assert source.committed >= source.disbursed >= source.paid >= 0
            for contract in contracts:
                for account in (committed, approved, paid):
                    assert balance.get(account(contract), 0) >= 0

    @invariant()
    def commitments_add_up(self):
        balance = balances(self.journal)
        for contract, commitment in self.commitments.items():
            mine = [d for d in self.disbursements.values() if d.contract_id == contract]
            disbursed = sum(
                d.amount
                for d in mine
                if d.status in ("approved", "paid") or d.held_from == "approved"
            )
            assert commitment.released + commitment.disbursed <= commitment.amount
            assert 0 <= commitment.paid <= commitment.disbursed
            assert commitment.disbursed == disbursed
            assert commitment.paid == sum(d.amount for d in mine if d.status == "paid")
            assert balance.get(committed(contract), 0) == commitment.outstanding
            assert balance.get(approved(contract), 0) == commitment.disbursed - commitment.paid
            assert balance.get(paid(contract), 0) == commitment.paid <= commitment.amount

    @invariant()
    def every_disbursement_is_paid_at_most_once_and_never_beyond_its_amount(self):
        moves = defaultdict(list)
        for entry in self.journal:
            if entry.cause.startswith("disbursement:") and entry.debit:
                moves[entry.cause.removeprefix("disbursement:")].append(entry)
        for disbursement in self.disbursements.values():
            kinds = [entry.kind for entry in moves[disbursement.id]]
            payments = [e for e in moves[disbursement.id] if e.kind == "payment"]
            was_approved = disbursement.status in ("approved", "paid") or (
                disbursement.held_from == "approved"
            )
            assert kinds.count("approval") == int(was_approved)
            assert len(payments) == int(disbursement.status == "paid")
            assert sum(e.debit for e in payments) in (0, disbursement.amount)
            if disbursement.status == "held":
                assert disbursement.held_from in ("pending", "approved")
            assert disbursement.status in DISBURSEMENT_STATUSES
        references = [
            d.payment_reference for d in self.disbursements.values() if d.payment_reference
        ]
        assert len(references) == len(set(references)), "a payment reference used twice"


Bank.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    # no "explain" phase: tracing every line of a 40-step run makes a failure take minutes
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedger = Bank.TestCase
