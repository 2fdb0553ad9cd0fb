"""Whoever can publish to the broker cannot act as anybody: a service runs an RPC request only
with proof (kit.trust) that it comes from the platform.

Requests here are published straight to the broker with kombu, as an intruder with a broker
account would, against the registry in a real container on SQLite and PostgreSQL.
"""

import contextlib
import json
import time
import uuid

import pytest
import sqlalchemy as sa
from kombu import Connection, Consumer, Exchange, Producer, Queue
from nameko.exceptions import deserialize
from nameko.testing.services import dummy, entrypoint_hook

from gateway.errors import describe
from gateway.rpc import ServiceRpc
from kit import trust
from kit.calls import SystemRpc
from kit.db import connect
from kit.metrics import RPC_REFUSED
from kit.rpc import RemoteFailure, rpc
from language.actor import SYSTEM
from registry.models import organizations
from registry.service import RegistryService
from tests.support.rpc import ServiceRpcProxy

ADMIN = {"user_id": "a0000000-0000-4000-8000-000000000001", "username": "admin", "role": "admin"}
STAFF = {
    "user_id": "a0000000-0000-4000-8000-000000000002",
    "username": "staff",
    "role": "federation_staff",
    "organization_id": "b0000000-0000-4000-8000-000000000001",
}
CITY = {"name": "杭州市妇联", "kind": "federation", "level": "city"}
TARGET = "registry.register_organization"


class Intruder:
    """Publishes RPC requests to the ``nameko-rpc`` exchange by hand and reads the answers."""

    def __init__(self, amqp_uri):
        self.connection = Connection(amqp_uri)
        self.exchange = Exchange("nameko-rpc", type="topic", durable=True)
        self.reply_to = str(uuid.uuid4())
        channel = self.connection.channel()
        queue = Queue(
            f"rpc.reply-intruder-{self.reply_to}",
            exchange=self.exchange,
            routing_key=self.reply_to,
            exclusive=True,
            auto_delete=True,
        )
        self.replies = {}
        self.consumer = Consumer(channel, [queue], callbacks=[self._received], no_ack=True)
        self.consumer.consume()
        self.producer = Producer(channel)

    def _received(self, body, message):
        self.replies[message.properties["correlation_id"]] = body

    def send(self, body: bytes, routing_key=TARGET, proof=None):
        correlation_id = str(uuid.uuid4())
        headers = {f"nameko.{trust.PROOF_KEY}": proof} if proof else {}
        self.producer.publish(
            body,
            exchange=self.exchange,
            routing_key=routing_key,
            reply_to=self.reply_to,
            correlation_id=correlation_id,
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers,
        )
        deadline = time.monotonic() + 20
        while correlation_id not in self.replies and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                self.connection.drain_events(timeout=1)
        reply = self.replies.pop(correlation_id)
        if reply["error"]:
            raise deserialize(reply["error"])
        return reply["result"]

    def close(self):
        self.connection.release()


def body(actor, payload=CITY):
    return json.dumps({"args": [payload], "kwargs": {"actor": actor}}).encode()


def proof(data: bytes, routing_key=TARGET, expires=None, key=None):
    key = key or trust.rpc_keys({})[0]
    return trust.sign(key, routing_key, data, time.time() + 30 if expires is None else expires)


@pytest.fixture
def registry(container_factory, registry_config):
    container_factory(RegistryService, registry_config).start()
    intruder = Intruder(registry_config["AMQP_URI"])
    yield intruder
    intruder.close()


def organization_count(url):
    with connect(url) as db, db.begin(write=False) as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(organizations)
        ).scalar_one()


def refused(call):
    with pytest.raises(RemoteFailure) as failure:
        call()
    assert failure.value.kind == "untrusted"
    assert failure.value.code == "RPC_UNTRUSTED"
    return failure.value.details["reason"]


def refusals(reason):
    return RPC_REFUSED.labels("registry", "register_organization", reason)._value.get()


def test_a_forged_admin_without_proof_is_refused_logged_and_counted(registry, registry_db, caplog):
    before = refusals("missing")

    with caplog.at_level("WARNING", logger="kit.rpc"):
        assert refused(lambda: registry.send(body(ADMIN))) == "missing"

    assert organization_count(registry_db) == 0
    assert refusals("missing") == before + 1
    assert "refused an RPC request to registry.register_organization" in caplog.text


def test_a_request_with_valid_proof_runs(registry, registry_db):
    data = body(ADMIN)

    organization = registry.send(data, proof=proof(data))

    assert organization["name"] == CITY["name"]
    assert organization_count(registry_db) == 1


def test_a_proof_for_another_actor_is_refused(registry, registry_db):
    """Proof made for a federation's staff does not carry a forged admin."""
    signed_for_staff = proof(body(STAFF))

    assert refused(lambda: registry.send(body(ADMIN), proof=signed_for_staff)) == "invalid"
    assert organization_count(registry_db) == 0


def test_a_proof_for_another_method_is_refused(registry, registry_db):
    data = body(ADMIN)
    signed_for_reading = proof(data, routing_key="registry.list_organizations")

    assert refused(lambda: registry.send(data, proof=signed_for_reading)) == "invalid"
    assert organization_count(registry_db) == 0


def test_an_expired_proof_is_refused(registry, registry_db):
    data = body(ADMIN)

    assert refused(lambda: registry.send(data, proof=proof(data, expires=time.time() - 1))) == (
        "expired"
    )
    assert organization_count(registry_db) == 0


def test_a_proof_made_with_another_key_is_refused(registry, registry_db):
    data = body(ADMIN)
    guessed = proof(data, key=b"guessed-guessed-guessed-guessed-guessed")

    assert refused(lambda: registry.send(data, proof=guessed)) == "invalid"
    assert organization_count(registry_db) == 0


def test_a_call_without_an_actor_needs_proof_too(registry):
    data = json.dumps({"args": [], "kwargs": {}}).encode()

    assert refused(lambda: registry.send(data, routing_key="registry.health")) == "missing"
    assert registry.send(data, "registry.health", proof(data, "registry.health"))["status"]


class Asker:
    """A service that asks the registry for itself, as the system actor."""

    name = "asker"
    registry = SystemRpc("registry", actor=SYSTEM.to_dict())

    @rpc
    def organization_name(self, organization_id, actor):
        return self.registry.call("get_organization", organization_id)["name"]


def test_a_service_asks_another_as_the_system_actor(
    container_factory, registry_config, rabbit_config
):
    container_factory(RegistryService, registry_config).start()
    container_factory(Asker, rabbit_config).start()
    with ServiceRpcProxy("registry", registry_config) as registry:
        city = registry.register_organization(CITY, ADMIN)
    with ServiceRpcProxy("asker", rabbit_config) as asker:
        assert asker.organization_name(city["id"], ADMIN) == CITY["name"]


class Gateway:
    """The gateway's RPC client, configured with a key the services do not share."""

    name = "gateway"
    registry = ServiceRpc("registry")

    @dummy
    def ask(self):
        return self.registry.call("health")


def test_a_gateway_signing_with_another_key_gets_a_clear_503(
    container_factory, registry_config, rabbit_config
):
    container_factory(RegistryService, registry_config).start()
    gateway = container_factory(Gateway, {**rabbit_config, "RPC_KEY": "not-the-services-key-" * 2})
    gateway.start()

    with entrypoint_hook(gateway, "ask") as ask, pytest.raises(RemoteFailure) as refused:
        ask()

    status, code, _, details = describe(refused.value)
    assert (status, code, details["reason"]) == (503, "RPC_UNTRUSTED", "invalid")
