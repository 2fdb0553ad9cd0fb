"""A deregistered provider is not paid (issue #11, hole 8, funding side): its open
disbursements are held for good with reason ``provider_deregistered``, and one opened after
the deregistration is held at once. Real service, real broker, SQLite and PostgreSQL."""

import eventlet
import pytest

from kit.rpc import RemoteFailure
from tests.integration import test_funding_service as base
from tests.support.events import publish_event
from tests.support.waiting import wait_until

#: the funding service and its world, as test_funding_service has them
money = base.money


def status_of(money, disbursement_id):
    shown = money.svc.get_disbursement(disbursement_id, money.officer)
    return shown["status"], shown.get("hold_reason")


def test_a_deregistered_providers_disbursements_are_held_for_good(money):
    source = money.source(100_000_000)
    contract_id, project_id = money.award(source, 3_000_000)
    wait_until(lambda: money.commitment(contract_id))
    pending = money.accept(contract_id, project_id, source, 1_000_000)
    approved = money.accept(contract_id, project_id, source, 1_000_000)
    pending = wait_until(lambda: money.disbursement_for(pending))
    approved = wait_until(lambda: money.disbursement_for(approved))
    money.svc.approve_disbursement(approved["id"], money.officer)

    money.registry.change(money.provider, "service_provider", "deregistered", "注销登记")
    for disbursement in (pending, approved):
        wait_until(
            lambda d=disbursement: status_of(money, d["id"]) == ("held", "provider_deregistered")
        )
    with pytest.raises(RemoteFailure) as approving:
        money.svc.approve_disbursement(pending["id"], money.officer)
    assert approving.value.details["current_status"] == "held"
    with pytest.raises(RemoteFailure) as paying:
        money.svc.pay_disbursement(
            approved["id"], {"payment_reference": "BOC-DEREG-1"}, money.second_officer
        )
    assert paying.value.details["current_status"] == "held"

    # a milestone accepted before the deregistration but applied after it: held at once
    late = money.accept(contract_id, project_id, source, 1_000_000)
    late = wait_until(lambda: money.disbursement_for(late))
    assert (late["status"], late["hold_reason"]) == ("held", "provider_deregistered")

    # a reinstatement (impossible in the registry, or stale) releases nothing
    publish_event(
        money.amqp_uri,
        "registry",
        "organization_reinstated",
        {
            "organization_id": money.provider,
            "kind": "service_provider",
            "version": money.registry.versions[money.provider] + 1,
            "status": "reinstated",
            "reason": None,
        },
    )
    eventlet.sleep(1.0)
    for disbursement in (pending, approved, late):
        assert status_of(money, disbursement["id"]) == ("held", "provider_deregistered")


def test_a_suspended_then_deregistered_providers_hold_becomes_final(money):
    source = money.source(100_000_000)
    contract_id, project_id = money.award(source, 2_000_000)
    wait_until(lambda: money.commitment(contract_id))
    milestone = money.accept(contract_id, project_id, source, 1_000_000)
    disbursement = wait_until(lambda: money.disbursement_for(milestone))
    money.registry.change(money.provider, "service_provider", "suspended", "调查")
    wait_until(lambda: status_of(money, disbursement["id"]) == ("held", "调查"))
    money.registry.change(money.provider, "service_provider", "deregistered", "注销")
    wait_until(lambda: status_of(money, disbursement["id"]) == ("held", "provider_deregistered"))
