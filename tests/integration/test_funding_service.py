"""The funding service in a real container, against a real broker and both databases.

Awards and accepted milestones arrive as projects' events, payees' standing as the
registry's; finance officers act through RPC, as the gateway would for them.
"""

import json
import uuid

import eventlet
import kombu
import pytest
import sqlalchemy as sa

from funding.commands import ContractAwarded
from funding.context import database_context
from funding.domain import ledger
from funding.handlers import commitments
from funding.models import journal_entries, metadata
from funding.repository import FundingRepository
from funding.service import DEFAULT_DUAL_APPROVAL_THRESHOLD, FundingService
from kit import deadletters
from kit.clock import utcnow
from kit.db import connect
from kit.migrate import downgrade, drift, upgrade
from kit.rpc import RemoteFailure
from kit.tables import outbox
from language.actor import SYSTEM
from language.directory import metadata as directory_metadata
from tests.support.events import publish_event
from tests.support.paging import walk
from tests.support.registry_events import FakeRegistry
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import wait_until


def person(role, organization_id=None, name=None):
    return {
        "user_id": str(uuid.uuid4()),
        "username": name or role,
        "role": role,
        "organization_id": organization_id,
    }


class Money:
    """The world of a funding test: a city federation owning sources, a provider to pay, the
    people who decide, and projects' facts published the way projects publishes them."""

    def __init__(self, amqp_uri, svc, db_url):
        self.amqp_uri = amqp_uri
        self.svc = svc
        self.db_url = db_url
        registry = FakeRegistry(amqp_uri)
        self.registry = registry
        self.city = registry.register("federation", "某市妇联", level="city")
        self.other_city = registry.register("federation", "另一市妇联", level="city")
        self.provider = registry.register("service_provider", "阳光社工", self.city)
        self.verifier = person("federation_staff", self.city, name="核验人")
        registry.change(
            self.provider, "service_provider", "verified", actor_id=self.verifier["user_id"]
        )
        self.officer = person("finance_officer", self.city, name="会计甲")
        self.second_officer = person("finance_officer", self.city, name="会计乙")
        self.third_officer = person("finance_officer", self.city, name="会计丙")
        self.other_officer = person("finance_officer", self.other_city, name="外市会计")
        self.other_second_officer = person("finance_officer", self.other_city, name="外市会计乙")
        self.admin = person("admin")
        self.staff = person("federation_staff", self.city)
        self.contractor = person("contractor", self.provider)
        wait_until(lambda: self._known(self.city))
        wait_until(lambda: self._known(self.other_city, self.other_officer))

    def _known(self, organization_id, officer=None):
        try:
            self.svc.create_source(
                {
                    "name": "探测",
                    "kind": "other",
                    "owner_id": organization_id,
                    "fiscal_year": 2027,
                    "amount": 0,
                },
                officer or self.officer,
            )
            return True
        except RemoteFailure as failure:
            assert failure.details.get("rule") == "federation", failure.details
            return False

    def source(self, amount, name="2027年妇女儿童专项资金", owner=None, officer=None):
        """A source with ``amount`` in the journal: at or above the threshold a second finance
        officer of the owner confirms the initial amount."""
        officer = officer or self.officer
        created = self.svc.create_source(
            {
                "name": name,
                "kind": "fiscal_special_fund",
                "owner_id": owner or self.city,
                "fiscal_year": 2027,
                "amount": amount,
            },
            officer,
        )
        pending = created.pop("pending_adjustment")
        if pending is None:
            return created
        if officer is self.other_officer:
            confirmer = self.other_second_officer
        else:
            confirmer = (
                self.third_officer if officer is self.second_officer else self.second_officer
            )
        self.svc.confirm_adjustment(pending["id"], confirmer)
        confirmed = self.svc.get_source(created["id"], officer)
        return confirmed

    def award(
        self, source, amount, *, project_id=None, contract_id=None, purchaser=None, awarded_by=None
    ):
        contract_id = contract_id or str(uuid.uuid4())
        project_id = project_id or str(uuid.uuid4())
        publish_event(
            self.amqp_uri,
            "projects",
            "contract_awarded",
            {
                "contract_id": contract_id,
                "project_id": project_id,
                "contractor_id": self.provider,
                "purchaser_id": purchaser or self.city,
                "funding_source_id": source["id"],
                "amount": amount,
                "milestones": [
                    {
                        "milestone_id": str(uuid.uuid4()),
                        "title": "全部",
                        "due_on": "2027-06-30",
                        "amount": amount,
                    }
                ],
                "actor_id": awarded_by or self.staff["user_id"],
            },
        )
        return contract_id, project_id

    def accept(self, contract_id, project_id, source, amount, accepted_by=None):
        milestone_id = str(uuid.uuid4())
        publish_event(
            self.amqp_uri,
            "projects",
            "milestone_accepted",
            {
                "contract_id": contract_id,
                "milestone_id": milestone_id,
                "project_id": project_id,
                "amount": amount,
                "payee_id": self.provider,
                "funding_source_id": source["id"],
                "accepted_by": accepted_by or self.staff["user_id"],
            },
        )
        return milestone_id

    def refusal(self, contract_id):
        with connect(self.db_url) as db, db.unit_of_work(readonly=True) as uow:
            return FundingRepository(uow.session).commitment_refusal(contract_id)

    def commitment(self, contract_id):
        try:
            return self.svc.get_commitment(contract_id, self.officer)
        except RemoteFailure:
            return None

    def disbursement_for(self, milestone_id):
        items = self.svc.list_disbursements({"limit": 500}, self.officer)["items"]
        return next((d for d in items if d["milestone_id"] == milestone_id), None)

    def ledger(self):
        with connect(self.db_url) as db, db.begin(write=False) as connection:
            return connection.execute(sa.select(journal_entries)).all()


@pytest.fixture
def money(container_factory, funding_config, funding_db, rabbit_config):
    container_factory(FundingService, funding_config).start()
    with ServiceRpcProxy("funding", funding_config) as svc:
        yield Money(rabbit_config["AMQP_URI"], svc, funding_db)


def assert_books_balance(money, source_id):
    """Every transaction balances, and the source's balances are the journal's."""
    entries = money.ledger()
    by_transaction = {}
    for entry in entries:
        by_transaction.setdefault(entry.transaction_id, [0, 0])
        by_transaction[entry.transaction_id][0] += entry.debit
        by_transaction[entry.transaction_id][1] += entry.credit
    assert all(debit == credit for debit, credit in by_transaction.values())
    balances = ledger.balances([e for e in entries if e.source_id == source_id])
    source = money.svc.get_source(source_id, money.officer)
    contract_money = {
        k: v for k, v in balances.items() if k.split(":")[0] in ("committed", "approved", "paid")
    }
    assert -balances.get(ledger.income(source_id), 0) == source["amount"]
    assert balances.get(ledger.available(source_id), 0) == source["available"]
    assert sum(contract_money.values()) == source["committed"]
    assert (
        sum(v for k, v in contract_money.items() if k.split(":")[0] in ("approved", "paid"))
        == source["disbursed"]
    )
    assert sum(v for k, v in contract_money.items() if k.startswith("paid:")) == source["paid"]
    assert source["amount"] == source["available"] + source["committed"]


def test_award_commit_accept_approve_pay(money, tap_factory):
    tap = tap_factory("funding")
    source = money.source(10_000_000_000)
    contract_id, project_id = money.award(source, 3_000_000)
    commitment = wait_until(lambda: money.commitment(contract_id))
    assert (commitment["amount"], commitment["outstanding"], commitment["payee_id"]) == (
        3_000_000,
        3_000_000,
        money.provider,
    )
    assert (
        money.svc.get_source(source["id"], money.officer)["available"] == 10_000_000_000 - 3_000_000
    )

    milestone_id = money.accept(contract_id, project_id, source, 1_000_000)
    pending = wait_until(lambda: money.disbursement_for(milestone_id))
    assert pending["status"] == "pending" and pending["required_approvals"] == 1
    queue = money.svc.list_disbursements({"status": "pending"}, money.officer)["items"]
    assert [d["id"] for d in queue] == [pending["id"]] and queue[0]["age_seconds"] >= 0

    with pytest.raises(RemoteFailure) as failure:
        money.svc.approve_disbursement(pending["id"], money.staff)
    assert failure.value.code == "MAKER_CHECKER"
    with pytest.raises(RemoteFailure) as failure:
        money.svc.pay_disbursement(pending["id"], {"payment_reference": "X"}, money.officer)
    assert failure.value.details["current_status"] == "pending"
    approved = money.svc.approve_disbursement(pending["id"], money.officer)
    assert approved["status"] == "approved" and [
        a["approver_name"] for a in approved["approvals"]
    ] == ["会计甲"]
    paid = money.svc.pay_disbursement(
        pending["id"], {"payment_reference": "ICBC-2027-000123"}, money.second_officer
    )
    assert paid["status"] == "paid" and paid["payment_reference"] == "ICBC-2027-000123"
    with pytest.raises(RemoteFailure) as failure:
        money.svc.pay_disbursement(
            pending["id"], {"payment_reference": "ICBC-2027-000124"}, money.officer
        )
    assert failure.value.details["current_status"] == "paid"

    source_now = money.svc.get_source(source["id"], money.officer)
    assert (source_now["committed"], source_now["disbursed"], source_now["paid"]) == (
        3_000_000,
        1_000_000,
        1_000_000,
    )
    events = [key for key, _ in tap.collect(5)]
    assert events == [
        "funding_source_created",
        "commitment_made",
        "disbursement_requested",
        "disbursement_approved",
        "disbursement_paid",
    ]
    assert_books_balance(money, source["id"])


def test_nobody_approves_what_they_caused_and_big_sums_need_two(money):
    source = money.source(100_000_000)
    contract_id, project_id = money.award(source, 60_000_000)
    wait_until(lambda: money.commitment(contract_id))
    # the officer accepted the milestone himself (he also works as staff): he may not approve
    caused = money.accept(
        contract_id, project_id, source, 5_000_000, accepted_by=money.officer["user_id"]
    )
    mine = wait_until(lambda: money.disbursement_for(caused))
    with pytest.raises(RemoteFailure) as failure:
        money.svc.approve_disbursement(mine["id"], money.officer)
    assert failure.value.code == "MAKER_CHECKER"
    assert failure.value.details["reason"] == "accepted_milestone"
    # a small tranche of a large contract still needs two approvers
    assert mine["required_approvals"] == 2
    money.svc.approve_disbursement(mine["id"], money.second_officer)
    assert money.svc.approve_disbursement(mine["id"], money.third_officer)["status"] == "approved"

    big = money.accept(contract_id, project_id, source, 50_000_000)
    large = wait_until(lambda: money.disbursement_for(big))
    assert large["required_approvals"] == 2
    # the officer accepted a milestone of this contract: he approves none of its tranches
    with pytest.raises(RemoteFailure) as failure:
        money.svc.approve_disbursement(large["id"], money.officer)
    assert failure.value.details["reason"] == "accepted_milestone"
    once = money.svc.approve_disbursement(large["id"], money.third_officer)
    assert once["status"] == "pending" and len(once["approvals"]) == 1
    with pytest.raises(RemoteFailure) as failure:
        money.svc.approve_disbursement(large["id"], money.third_officer)
    assert (
        failure.value.code == "MAKER_CHECKER" and failure.value.details["required_approvals"] == 2
    )
    assert money.svc.approve_disbursement(large["id"], money.second_officer)["status"] == "approved"
    # and neither approver records the payment: a third person does
    for approver in (money.second_officer, money.third_officer):
        with pytest.raises(RemoteFailure) as failure:
            money.svc.pay_disbursement(large["id"], {"payment_reference": "P-9"}, approver)
        assert (failure.value.code, failure.value.details["reason"]) == (
            "MAKER_CHECKER",
            "approved_disbursement",
        )
    paid = money.svc.pay_disbursement(large["id"], {"payment_reference": "P-9"}, money.officer)
    assert paid["status"] == "paid"
    assert_books_balance(money, source["id"])


def test_a_source_that_cannot_afford_the_award_rejects_the_commitment(money, tap_factory):
    tap = tap_factory("funding", "commitment_rejected")
    source = money.source(1_000_000)
    contract_id, _ = money.award(source, 1_500_000)
    ((_, body),) = tap.collect(1)
    assert (body["contract_id"], body["shortfall"]) == (contract_id, 500_000)
    unknown = {"id": str(uuid.uuid4())}
    money.award(unknown, 10)
    (_, body) = tap.collect(2)[1]
    assert body["reason"] == "unknown funding source" and body["shortfall"] == 10
    assert money.svc.get_source(source["id"], money.officer)["available"] == 1_000_000


def test_a_milestone_accepted_on_an_unfunded_contract_is_rejected_not_parked(
    money, tap_factory, rabbit_config
):
    """No money was committed to the contract, so none will come: funding answers the
    acceptance with disbursement_rejected (naming the refusal) instead of retrying it until
    it dead-letters, and opens no disbursement."""
    tap = tap_factory("funding", "disbursement_rejected")
    source = money.source(1_000_000)
    contract_id, project_id = money.award(source, 1_500_000)
    wait_until(lambda: money.refusal(contract_id))
    milestone = money.accept(contract_id, project_id, source, 1_500_000)
    ((_, body),) = tap.collect(1)
    assert body["milestone_id"] == milestone and body["contract_id"] == contract_id
    assert (body["disbursement_id"], body["rejected_by"], body["amount"]) == (None, None, 1_500_000)
    assert body["reason"] == (
        "no money was committed to the contract: the funding source lacks available money"
    )
    assert money.disbursement_for(milestone) is None
    queue = "evt-projects-milestone_accepted--funding.milestone_accepted"
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        assert deadletters.depth(connection, queue) == 0
    assert money.svc.get_source(source["id"], money.officer)["available"] == 1_000_000


def test_a_milestone_that_overtakes_a_refused_award_is_rejected_once_it_arrives(money, tap_factory):
    tap = tap_factory("funding", "disbursement_rejected")
    unknown = {"id": str(uuid.uuid4())}
    contract_id, project_id = str(uuid.uuid4()), str(uuid.uuid4())
    milestone = money.accept(contract_id, project_id, unknown, 300_000)
    assert tap.collect(1, timeout=0.5) == []  # it waits for the award: money may still come
    money.award(unknown, 300_000, contract_id=contract_id, project_id=project_id)
    ((_, body),) = tap.collect(1)
    assert body["milestone_id"] == milestone
    assert body["reason"] == "no money was committed to the contract: unknown funding source"


def test_migrations_match_the_models_and_take_earlier_refusals_from_the_outbox(database_url):
    """Revision 0002 remembers the refusals funding announced before it existed (still in the
    outbox), so their milestones are rejected rather than parked once more."""
    upgrade("funding", database_url, "0001")
    contract_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    refusal = {
        "event_id": event_id,
        "contract_id": contract_id,
        "project_id": str(uuid.uuid4()),
        "funding_source_id": str(uuid.uuid4()),
        "amount": 800_000,
        "shortfall": 300_000,
        "reason": "the funding source lacks available money",
    }
    with connect(database_url) as db, db.begin() as connection:
        connection.execute(
            sa.insert(outbox).values(
                event_id=event_id,
                event_type="commitment_rejected",
                body=json.dumps(refusal, ensure_ascii=False),
                status="sent",
                created_at=utcnow(),
                attempts=1,
            )
        )
    upgrade("funding", database_url)
    assert drift(database_url, metadata, include=[directory_metadata]) == []
    with connect(database_url) as db, db.unit_of_work(readonly=True) as uow:
        remembered = FundingRepository(uow.session).commitment_refusal(contract_id)
    assert (remembered["shortfall"], remembered["reason"], remembered["cause"]) == (
        300_000,
        "the funding source lacks available money",
        f"outbox:{event_id}",
    )
    downgrade("funding", database_url, "base")
    upgrade("funding", database_url)
    assert drift(database_url, metadata, include=[directory_metadata]) == []


def test_a_suspended_payee_is_held_and_released(money):
    source = money.source(100_000_000)
    contract_id, project_id = money.award(source, 2_000_000)
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 1_000_000)
    disbursement = wait_until(lambda: money.disbursement_for(milestone))
    money.registry.change(money.provider, "service_provider", "suspended", "违规调查")
    wait_until(
        lambda: money.svc.get_disbursement(disbursement["id"], money.officer)["status"] == "held"
    )
    with pytest.raises(RemoteFailure) as failure:
        money.svc.approve_disbursement(disbursement["id"], money.officer)
    assert failure.value.details["current_status"] == "held"
    money.registry.change(money.provider, "service_provider", "reinstated")
    wait_until(
        lambda: money.svc.get_disbursement(disbursement["id"], money.officer)["status"] == "pending"
    )
    assert money.svc.approve_disbursement(disbursement["id"], money.officer)["status"] == "approved"


def test_a_milestone_that_overtakes_its_award_waits_for_it(money):
    source = money.source(100_000_000)
    contract_id, project_id = str(uuid.uuid4()), str(uuid.uuid4())
    milestone = money.accept(contract_id, project_id, source, 400_000)
    eventlet.sleep(0.5)
    assert money.disbursement_for(milestone) is None
    publish_event(
        money.amqp_uri,
        "projects",
        "contract_awarded",
        {
            "contract_id": contract_id,
            "project_id": project_id,
            "contractor_id": money.provider,
            "purchaser_id": money.city,
            "funding_source_id": source["id"],
            "amount": 400_000,
            "milestones": [
                {
                    "milestone_id": milestone,
                    "title": "全部",
                    "due_on": "2027-06-30",
                    "amount": 400_000,
                }
            ],
        },
    )
    assert wait_until(lambda: money.disbursement_for(milestone))["amount"] == 400_000


def test_a_project_that_ends_releases_what_it_will_not_draw(money):
    source = money.source(10_000_000)
    contract_id, project_id = money.award(source, 6_000_000)
    wait_until(lambda: money.commitment(contract_id))
    paid_milestone = money.accept(contract_id, project_id, source, 2_000_000)
    waiting = money.accept(contract_id, project_id, source, 1_000_000)
    first = wait_until(lambda: money.disbursement_for(paid_milestone))
    wait_until(lambda: money.disbursement_for(waiting))
    money.svc.approve_disbursement(first["id"], money.officer)
    money.svc.pay_disbursement(first["id"], {"payment_reference": "P-1"}, money.second_officer)
    publish_event(
        money.amqp_uri,
        "projects",
        "project_closed",
        {"project_id": project_id, "funding_source_id": source["id"], "reason": None},
    )
    wait_until(lambda: money.commitment(contract_id)["status"] == "released")
    commitment = money.commitment(contract_id)
    # 6.0 committed: 2.0 paid, 1.0 still awaited by an open disbursement, 3.0 back to the source
    assert (commitment["released"], commitment["outstanding"]) == (3_000_000, 1_000_000)
    assert money.svc.get_source(source["id"], money.officer)["available"] == 7_000_000
    assert_books_balance(money, source["id"])


def test_adjustments_are_new_entries_and_cannot_take_committed_money(money):
    source = money.source(5_000_000)
    contract_id, _ = money.award(source, 4_000_000)
    wait_until(lambda: money.commitment(contract_id))
    topped = money.svc.adjust_source(
        source["id"], {"amount": 1_000_000, "reason": "追加拨款"}, money.officer
    )
    assert (topped["amount"], topped["available"]) == (6_000_000, 2_000_000)
    with pytest.raises(RemoteFailure) as failure:
        money.svc.adjust_source(
            source["id"], {"amount": -2_500_000, "reason": "更正"}, money.officer
        )
    assert (
        failure.value.code == "INSUFFICIENT_FUNDS" and failure.value.details["shortfall"] == 500_000
    )
    corrected = money.svc.adjust_source(
        source["id"], {"amount": -2_000_000, "reason": "更正录入错误"}, money.officer
    )
    assert (corrected["amount"], corrected["available"]) == (4_000_000, 0)
    with pytest.raises(RemoteFailure) as failure:
        money.svc.adjust_source(source["id"], {"amount": 10, "reason": "x"}, money.contractor)
    assert failure.value.code == "MAKER_CHECKER"
    journal = money.svc.journal({"source_id": source["id"]}, money.officer)["items"]
    assert [e["kind"] for e in journal].count("correction") == 2
    assert any(
        e["memo"] == "更正录入错误" and e["actor_id"] == money.officer["user_id"] for e in journal
    )
    assert_books_balance(money, source["id"])
    with connect(money.db_url) as db, pytest.raises(sa.exc.DBAPIError), db.begin() as connection:
        connection.execute(sa.update(journal_entries).values(debit=1))


def test_contractors_see_only_their_own_money(money):
    source = money.source(10_000_000)
    contract_id, project_id = money.award(source, 1_000_000)
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 1_000_000)
    mine = wait_until(lambda: money.disbursement_for(milestone))
    assert money.svc.get_disbursement(mine["id"], money.contractor)["id"] == mine["id"]
    stranger = person("contractor", str(uuid.uuid4()))
    with pytest.raises(RemoteFailure) as failure:
        money.svc.get_disbursement(mine["id"], stranger)
    assert failure.value.code == "DISBURSEMENT_NOT_FOUND"
    assert money.svc.list_disbursements({}, stranger)["items"] == []
    with pytest.raises(RemoteFailure):
        money.svc.get_source(source["id"], money.contractor)


def test_twenty_payments_racing_for_one_disbursement_pay_once(money, funding_config):
    source = money.source(10_000_000)
    contract_id, project_id = money.award(source, 1_000_000)
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 1_000_000)
    disbursement = wait_until(lambda: money.disbursement_for(milestone))
    money.svc.approve_disbursement(disbursement["id"], money.officer)

    def pay(n):
        with ServiceRpcProxy("funding", funding_config) as svc:
            try:
                return svc.pay_disbursement(
                    disbursement["id"], {"payment_reference": f"REF-{n}"}, money.second_officer
                )["status"]
            except RemoteFailure as failure:
                return failure.code

    outcomes = list(eventlet.GreenPool(20).imap(pay, range(20)))
    assert outcomes.count("paid") == 1, outcomes
    assert set(outcomes) <= {"paid", "INVALID_TRANSITION"}
    paid_entries = [e for e in money.ledger() if e.kind == "payment"]
    assert len(paid_entries) == 2  # one balanced transaction: debit paid, credit approved
    assert money.svc.get_source(source["id"], money.officer)["paid"] == 1_000_000


def test_fifty_commitments_racing_for_a_source_that_affords_ten(money):
    source = money.source(10 * 100_000)
    resource_url = money.db_url
    outcomes = []

    def award(n):
        event = {
            "event_id": str(uuid.uuid4()),
            "contract_id": str(uuid.uuid4()),
            "project_id": str(uuid.uuid4()),
            "contractor_id": money.provider,
            "purchaser_id": money.city,
            "funding_source_id": source["id"],
            "amount": 100_000,
        }
        with connect(resource_url, service_name="funding") as db:
            for _ in range(
                20
            ):  # a deadlock or serialisation failure is retried, as the consumer would
                try:
                    with db() as uow:
                        ctx = database_context(
                            uow, SYSTEM, dual_approval_threshold=DEFAULT_DUAL_APPROVAL_THRESHOLD
                        )
                        commitments.contract_awarded(ctx, ContractAwarded.from_event(event))
                        written = uow.commit()
                    made = (
                        "commitment_id" in written[0]
                    )  # commitment_made; else commitment_rejected
                    outcomes.append("commitment_made" if made else "commitment_rejected")
                    return
                except sa.exc.OperationalError:
                    eventlet.sleep(0.01)

    list(eventlet.GreenPool(50).imap(award, range(50)))
    assert len(outcomes) == 50
    assert outcomes.count("commitment_made") == 10 and outcomes.count("commitment_rejected") == 40
    final = money.svc.get_source(source["id"], money.officer)
    assert (final["available"], final["committed"]) == (0, 1_000_000)
    assert_books_balance(money, source["id"])


# --- one federation's money, out of another's reach ------------------------------------------


def test_an_award_on_another_federations_source_is_refused_in_funding(money, tap_factory):
    """The last line of defence: whatever projects let through, funding commits money only
    from a source of the purchaser or a federation above it."""
    tap = tap_factory("funding", "commitment_rejected", "commitment_made")
    theirs = money.source(10_000_000, owner=money.other_city, officer=money.other_officer)
    contract_id, _ = money.award(theirs, 1_000_000)  # the first city's contract
    ((key, body),) = tap.collect(1)
    assert key == "commitment_rejected" and body["contract_id"] == contract_id
    assert body["reason"].startswith("source_not_available")
    assert wait_until(lambda: money.refusal(contract_id))["reason"].startswith(
        "source_not_available"
    )
    untouched = money.svc.get_source(theirs["id"], money.other_officer)
    assert (untouched["available"], untouched["committed"]) == (10_000_000, 0)
    ours = money.source(10_000_000)
    money.award(ours, 1_000_000)
    assert tap.collect(2)[1][0] == "commitment_made"


def test_finance_officers_reach_only_their_federations_money(money):
    source = money.source(10_000_000)
    contract_id, project_id = money.award(source, 1_000_000)
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 1_000_000)
    disbursement = wait_until(lambda: money.disbursement_for(milestone))
    theirs = money.source(5_000_000, owner=money.other_city, officer=money.other_officer)
    stranger = money.other_officer

    def refused(call, *args):
        with pytest.raises(RemoteFailure) as failure:
            call(*args, stranger)
        return failure.value.code

    assert refused(money.svc.get_source, source["id"]) == "FUNDING_SOURCE_NOT_FOUND"
    assert refused(money.svc.get_commitment, contract_id) == "COMMITMENT_NOT_FOUND"
    assert refused(money.svc.get_disbursement, disbursement["id"]) == "DISBURSEMENT_NOT_FOUND"
    assert refused(money.svc.approve_disbursement, disbursement["id"]) == "DISBURSEMENT_NOT_FOUND"
    assert (
        refused(money.svc.reject_disbursement, disbursement["id"], {"reason": "x"})
        == "DISBURSEMENT_NOT_FOUND"
    )
    assert (
        refused(money.svc.adjust_source, source["id"], {"amount": 10, "reason": "x"})
        == "FUNDING_SOURCE_NOT_FOUND"
    )
    assert refused(money.svc.journal, {"source_id": source["id"]}) == "FUNDING_SOURCE_NOT_FOUND"
    with pytest.raises(RemoteFailure) as failure:
        money.svc.create_source(
            {
                "name": "冒名",
                "kind": "other",
                "owner_id": money.city,
                "fiscal_year": 2027,
                "amount": 1,
            },
            stranger,
        )
    assert (failure.value.code, failure.value.details["field"]) == ("OUT_OF_SCOPE", "owner_id")
    # lists hold their own federation's money only
    listed = {s["id"] for s in money.svc.list_sources({"limit": 500}, stranger)["items"]}
    assert theirs["id"] in listed and source["id"] not in listed
    assert money.svc.list_disbursements({"limit": 500}, stranger)["items"] == []
    lines = money.svc.journal({"limit": 500}, stranger)["items"]
    assert lines and {line["source_id"] for line in lines} <= listed
    report = money.svc.monthly_report({}, stranger)["items"]
    assert sum(row.get("receipt", 0) for row in report) == 5_000_000
    # the city's own officers see theirs, and admins everything
    assert money.svc.get_disbursement(disbursement["id"], money.officer)["id"]
    everything = {s["id"] for s in money.svc.list_sources({"limit": 500}, money.admin)["items"]}
    assert {source["id"], theirs["id"]} <= everything
    # a finance officer of no federation sees nothing
    loose = person("finance_officer")
    assert money.svc.list_sources({"limit": 500}, loose)["items"] == []
    with pytest.raises(RemoteFailure) as failure:
        money.svc.get_source(source["id"], loose)
    assert failure.value.code == "FUNDING_SOURCE_NOT_FOUND"


# --- separation of duties ----------------------------------------------------------------------


def test_nobody_approves_a_contract_they_awarded_or_whose_provider_they_verified(money):
    source = money.source(100_000_000)
    # the officer awarded the contract (she once worked as staff)
    contract_id, project_id = money.award(source, 1_000_000, awarded_by=money.officer["user_id"])
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 500_000)
    disbursement = wait_until(lambda: money.disbursement_for(milestone))
    with pytest.raises(RemoteFailure) as failure:
        money.svc.approve_disbursement(disbursement["id"], money.officer)
    assert (failure.value.code, failure.value.details["reason"]) == (
        "MAKER_CHECKER",
        "awarded_contract",
    )
    # the provider's verifier later became a finance officer
    verifier = {**money.verifier, "role": "finance_officer"}
    with pytest.raises(RemoteFailure) as failure:
        money.svc.approve_disbursement(disbursement["id"], verifier)
    assert (failure.value.code, failure.value.details["reason"]) == (
        "MAKER_CHECKER",
        "verified_provider",
    )
    approved = money.svc.approve_disbursement(disbursement["id"], money.second_officer)
    assert approved["status"] == "approved"
    with pytest.raises(RemoteFailure) as failure:
        money.svc.pay_disbursement(
            disbursement["id"], {"payment_reference": "P-77"}, money.second_officer
        )
    assert failure.value.details["reason"] == "approved_disbursement"
    paid = money.svc.pay_disbursement(disbursement["id"], {"payment_reference": "P-77"}, verifier)
    assert paid["status"] == "paid"


# --- large top-ups and corrections need a second finance officer -----------------------------


def test_a_large_top_up_waits_for_a_second_officer_before_it_enters_the_journal(money):
    source = money.source(50_000_000)
    before = len(money.svc.journal({"source_id": source["id"]}, money.officer)["items"])
    asked = money.svc.adjust_source(
        source["id"], {"amount": 10_000_000, "reason": "追加拨款"}, money.officer
    )
    pending = asked["pending_adjustment"]
    assert (asked["amount"], pending["status"], pending["amount"]) == (
        50_000_000,
        "pending",
        10_000_000,
    )
    assert len(money.svc.journal({"source_id": source["id"]}, money.officer)["items"]) == before
    queue = money.svc.list_adjustments({"status": "pending"}, money.second_officer)["items"]
    assert [a["id"] for a in queue] == [pending["id"]]
    assert money.svc.list_adjustments({"status": "pending"}, money.other_officer)["items"] == []
    with pytest.raises(RemoteFailure) as failure:
        money.svc.confirm_adjustment(pending["id"], money.other_officer)
    assert failure.value.code == "ADJUSTMENT_NOT_FOUND"
    with pytest.raises(RemoteFailure) as failure:
        money.svc.confirm_adjustment(pending["id"], money.officer)
    assert (failure.value.code, failure.value.details["reason"]) == (
        "MAKER_CHECKER",
        "requested_adjustment",
    )
    confirmed = money.svc.confirm_adjustment(pending["id"], money.second_officer)
    assert (confirmed["status"], confirmed["requested_by"], confirmed["decided_by"]) == (
        "confirmed",
        money.officer["user_id"],
        money.second_officer["user_id"],
    )
    assert money.svc.get_source(source["id"], money.officer)["amount"] == 60_000_000
    lines = money.svc.journal({"source_id": source["id"]}, money.officer)["items"]
    entered = [line for line in lines if line["cause"] == f"adjustment:{pending['id']}"]
    assert {(e["kind"], e["actor_id"], e["memo"]) for e in entered} == {
        ("receipt", money.second_officer["user_id"], "追加拨款")
    }
    with pytest.raises(RemoteFailure) as failure:
        money.svc.refuse_adjustment(pending["id"], {"reason": "晚了"}, money.third_officer)
    assert failure.value.details["current_status"] == "confirmed"

    correction = money.svc.adjust_source(
        source["id"], {"amount": -20_000_000, "reason": "更正"}, money.officer
    )["pending_adjustment"]
    refused = money.svc.refuse_adjustment(
        correction["id"], {"reason": "无批文"}, money.third_officer
    )
    assert (refused["status"], refused["refusal_reason"]) == ("refused", "无批文")
    assert money.svc.get_source(source["id"], money.officer)["amount"] == 60_000_000
    small = money.svc.adjust_source(
        source["id"], {"amount": 9_999_999, "reason": "小额追加"}, money.officer
    )
    assert (small["pending_adjustment"], small["amount"]) == (None, 69_999_999)
    assert_books_balance(money, source["id"])


def test_a_large_initial_amount_waits_for_a_second_officer_like_a_top_up(money):
    """A new source's initial amount is money entering the journal like a top-up: at or above
    the threshold one officer alone cannot put it there (else a source created with the whole
    budget at once skips the second officer a top-up of the same money needs)."""
    created = money.svc.create_source(
        {
            "name": "一人建的大额资金",
            "kind": "fiscal_special_fund",
            "owner_id": money.city,
            "fiscal_year": 2027,
            "amount": 10_000_000,
        },
        money.officer,
    )
    pending = created["pending_adjustment"]
    assert (created["amount"], created["available"]) == (0, 0)
    assert (pending["status"], pending["amount"], pending["requested_by"]) == (
        "pending",
        10_000_000,
        money.officer["user_id"],
    )
    assert money.svc.journal({"source_id": created["id"]}, money.officer)["items"] == []
    with pytest.raises(RemoteFailure) as failure:
        money.svc.confirm_adjustment(pending["id"], money.officer)
    assert (failure.value.code, failure.value.details["reason"]) == (
        "MAKER_CHECKER",
        "requested_adjustment",
    )
    money.svc.confirm_adjustment(pending["id"], money.second_officer)
    assert money.svc.get_source(created["id"], money.officer)["available"] == 10_000_000
    lines = money.svc.journal({"source_id": created["id"]}, money.officer)["items"]
    assert {(line["kind"], line["actor_id"]) for line in lines} == {
        ("receipt", money.second_officer["user_id"])
    }
    assert_books_balance(money, created["id"])
    # below the threshold it enters at once, as a small top-up does
    small = money.svc.create_source(
        {
            "name": "小额资金",
            "kind": "fiscal_special_fund",
            "owner_id": money.city,
            "fiscal_year": 2027,
            "amount": 9_999_999,
        },
        money.officer,
    )
    assert (small["amount"], small["pending_adjustment"]) == (9_999_999, None)


def test_sources_count_and_sort_on_the_server(money):
    amounts = [3_000_000, 500_000, 9_000_000, 500_000, 1_200_000]
    for n, amount in enumerate(amounts):
        money.source(amount, name=f"排序资金{n}")

    def by(sort):
        return walk(
            lambda q: money.svc.list_sources(q, money.officer),
            owner_id=money.city,
            limit=2,
            sort=sort,
        )

    everything = money.svc.list_sources({"owner_id": money.city, "limit": 500}, money.officer)
    richest, totals = by("-amount")
    assert totals == {len(everything["items"])} == {everything["total"]}
    assert [s["amount"] for s in richest] == sorted((s["amount"] for s in richest), reverse=True)
    mine = [s for s in richest if s["name"].startswith("排序资金")]
    assert [s["amount"] for s in mine] == sorted(amounts, reverse=True)
    assert len({s["id"] for s in richest}) == len(richest)  # nothing twice across pages
    ties = [s["name"] for s in mine if s["amount"] == 500_000]
    assert sorted(ties) == ["排序资金1", "排序资金3"]
    by_name, _ = by("name")
    assert [s["name"] for s in by_name] == sorted(s["name"] for s in by_name)
    with pytest.raises(RemoteFailure) as failure:
        money.svc.list_disbursements({"sort": "payee_id"}, money.officer)
    assert failure.value.details == {"field": "sort", "rule": "one_of"}


# --- the finance screens' rows: names beside the money, per contract -------------------------


def test_disbursement_rows_name_the_payee_and_source_within_the_officers_federation(money):
    source = money.source(50_000_000, name="春蕾助学捐赠资金")
    contract_id, project_id = money.award(source, 3_000_000)
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 1_000_000)
    disbursement = wait_until(lambda: money.disbursement_for(milestone))

    rows = money.svc.disbursement_rows({"status": "pending", "limit": 500}, money.officer)
    assert rows["total"] == len(rows["items"])
    row = next(r for r in rows["items"] if r["id"] == disbursement["id"])
    assert (row["payee_name"], row["source_name"]) == ("阳光社工", "春蕾助学捐赠资金")
    assert (row["amount"], row["required_approvals"], row["milestone_id"]) == (
        1_000_000,
        1,
        milestone,
    )
    assert row["age_seconds"] >= 0 and row["approvals"] == []
    # another federation's officer: not one row of the city's; a contractor: its own
    assert money.svc.disbursement_rows({"limit": 500}, money.other_officer)["items"] == []
    own = money.svc.disbursement_rows({"limit": 500}, money.contractor)["items"]
    assert disbursement["id"] in {r["id"] for r in own}


def test_commitments_list_each_contracts_money_and_what_remains(money):
    source = money.source(80_000_000, name="妇女儿童发展专项")
    contract_id, project_id = money.award(source, 5_000_000)
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 2_000_000)
    disbursement = wait_until(lambda: money.disbursement_for(milestone))
    money.svc.approve_disbursement(disbursement["id"], money.officer)
    money.svc.pay_disbursement(
        disbursement["id"], {"payment_reference": f"ABC-{uuid.uuid4()}"}, money.second_officer
    )

    found = money.svc.list_commitments({"source_id": source["id"]}, money.officer)
    assert (found["next_cursor"], found["total"]) == (None, 1)
    [row] = found["items"]
    assert row["contract_id"] == contract_id
    assert (row["amount"], row["disbursed"], row["paid"], row["released"], row["remaining"]) == (
        5_000_000,
        2_000_000,
        2_000_000,
        0,
        3_000_000,
    )
    assert (row["payee_name"], row["source_name"]) == ("阳光社工", "妇女儿童发展专项")
    # paging: one at a time, in the order money was committed
    second_contract, _ = money.award(source, 1_000_000)
    wait_until(lambda: money.commitment(second_contract))
    first = money.svc.list_commitments({"source_id": source["id"], "limit": 1}, money.officer)
    assert [r["contract_id"] for r in first["items"]] == [contract_id] and first["total"] == 2
    biggest = money.svc.list_commitments(
        {"source_id": source["id"], "sort": "-amount"}, money.officer
    )
    assert [r["amount"] for r in biggest["items"]] == [5_000_000, 1_000_000]
    rest = money.svc.list_commitments(
        {"source_id": source["id"], "limit": 1, "cursor": first["next_cursor"]}, money.officer
    )
    assert [r["contract_id"] for r in rest["items"]] == [second_contract]
    # another federation's source is not there; its officers list none of the city's
    with pytest.raises(RemoteFailure) as failure:
        money.svc.list_commitments({"source_id": source["id"]}, money.other_officer)
    assert failure.value.code == "FUNDING_SOURCE_NOT_FOUND"
    theirs = money.svc.list_commitments({"limit": 500}, money.other_officer)["items"]
    assert contract_id not in {r["contract_id"] for r in theirs}
    # the contractor reads its own contracts' money
    own = money.svc.list_commitments({"limit": 500}, money.contractor)["items"]
    assert contract_id in {r["contract_id"] for r in own}
