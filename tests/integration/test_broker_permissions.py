"""The broker users of deploy/rabbitmq/definitions.json, loaded into a fresh vhost of the real
RabbitMQ: each service runs under its own user, and cannot publish another service's events.

The definitions are loaded through the management API's definitions import (the code path
RabbitMQ's ``load_definitions`` at boot takes), with the vhost renamed to the test's, the users
prefixed (the broker is shared) and random passwords.
"""

import json
import secrets
import urllib.parse
import uuid
from pathlib import Path

import amqp.exceptions
import eventlet
import kombu
import pytest
import requests
from nameko.testing.services import dummy, entrypoint_hook

from funding.service import FundingService
from gateway.rpc import ServiceRpc
from kit import changes
from kit.config import load_config
from kit.migrate import upgrade
from projects.service import ProjectsService
from registry.service import RegistryService
from tests.conftest import free_port
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import wait_until
from volunteers.service import VolunteersService

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "deploy/rabbitmq/definitions.json"
SERVICES = {
    "registry": RegistryService,
    "projects": ProjectsService,
    "funding": FundingService,
    "volunteers": VolunteersService,
}
ADMIN = {"user_id": "a0000000-0000-4000-8000-000000000001", "username": "admin", "role": "admin"}


class BrokerUsers:
    """The definitions' users in one vhost: ``uri(name)`` connects as that user."""

    def __init__(self, api_uri: str, amqp_uri: str, vhost: str) -> None:
        self.api = api_uri.rstrip("/")
        self.amqp = urllib.parse.urlsplit(amqp_uri)
        self.vhost = vhost
        self.prefix = f"t{uuid.uuid4().hex[:8]}_"
        self.passwords: dict[str, str] = {}
        definitions = json.loads(DEFINITIONS.read_text())
        for user in definitions["users"]:
            self.passwords[user["name"]] = secrets.token_hex(16)
            user["password"] = self.passwords[user["name"]]
            user["name"] = self.prefix + user["name"]
        for permission in definitions["permissions"]:
            permission["user"] = self.prefix + permission["user"]
            permission["vhost"] = vhost
        for policy in definitions["policies"]:
            policy["vhost"] = vhost
        definitions["vhosts"] = []  # the test's vhost exists already
        response = requests.post(f"{self.api}/api/definitions", json=definitions, timeout=30)
        assert response.status_code in (201, 204), response.text

    def uri(self, name: str) -> str:
        host = self.amqp.hostname or "127.0.0.1"
        port = self.amqp.port or 5672
        return f"amqp://{self.prefix}{name}:{self.passwords[name]}@{host}:{port}/{self.vhost}"

    def remove(self) -> None:
        for name in self.passwords:
            requests.delete(f"{self.api}/api/users/{self.prefix}{name}", timeout=30)


@pytest.fixture
def users(infra, rabbit_config):
    broker_users = BrokerUsers(
        infra.rabbit_api_uri, rabbit_config["AMQP_URI"], rabbit_config["vhost"]
    )
    yield broker_users
    broker_users.remove()


def service_config(name: str, amqp_uri: str, tmp_path: Path) -> dict:
    url = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    upgrade(name, url)
    return load_config(
        ROOT / f"services/{name}/config.yaml",
        AMQP_URI=amqp_uri,
        DATABASE_URL=url,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        JINGUO_ENV="test",
        OUTBOX={"poll_interval": 0.2, "lease_ttl": 3, "confirm_timeout": 5},
    )


def publish(amqp_uri: str, exchange: str, routing_key: str = "organization_suspended") -> None:
    """Publish one event-like message with a publisher confirm (so a refusal is seen here)."""
    with kombu.Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        producer = connection.Producer()
        producer.publish(
            {"event_id": str(uuid.uuid4()), "organization_id": str(uuid.uuid4())},
            exchange=exchange,
            routing_key=routing_key,
            serializer="json",
        )


def test_each_service_starts_and_serves_under_its_own_user(
    users, container_factory, rabbit_config, tmp_path, tap_factory
):
    """Every queue, binding, dead-letter queue and exchange the kit declares for the four
    services is within their users' permissions (a refusal would stop the container)."""
    for name, service_class in SERVICES.items():
        container_factory(service_class, service_config(name, users.uri(name), tmp_path)).start()
    for name in SERVICES:
        with ServiceRpcProxy(name, rabbit_config) as service:
            assert service.health()["consumers"] == "ready", name
    tap = tap_factory("registry", "organization_registered")
    with ServiceRpcProxy("registry", rabbit_config) as registry:
        city = registry.register_organization(
            {"name": "杭州市妇联", "kind": "federation", "level": "city"}, ADMIN
        )
    # the registry's relay published its event as the registry user
    ((_, event),) = tap.collect(1)
    assert event["organization_id"] == city["id"]


class Gateway:
    """The gateway's broker use: RPC with its own reply queue, change notices followed."""

    name = "gateway"
    registry = ServiceRpc("registry")

    @dummy
    def ask(self):
        return self.registry.call("health")


def test_the_gateway_calls_and_follows_change_notices_under_its_own_user(
    users, container_factory, tmp_path
):
    config = service_config("registry", users.uri("registry"), tmp_path)
    container_factory(RegistryService, config).start()
    gateway = container_factory(Gateway, {"AMQP_URI": users.uri("gateway"), "RPC_TIMEOUT": 10})
    gateway.start()
    with entrypoint_hook(gateway, "ask") as ask:
        assert ask()["consumers"] == "ready"

    heard, connected, stop = [], [], []
    follower = eventlet.spawn(
        changes.follow,
        users.uri("gateway"),
        [("projects", "project"), ("gateway", "user")],
        heard.append,
        lambda: connected.append(True),
        stopped=lambda: bool(stop),
        retry_interval=0.2,
    )
    try:
        wait_until(lambda: connected, timeout=10)
        with kombu.Connection(users.uri("projects")) as connection:
            connection.Producer().publish(
                {"service": "projects", "kind": "project", "id": "p-1"},
                exchange=changes.CHANGES_EXCHANGE,
                routing_key=changes.routing_key("projects", "project"),
                declare=[changes.CHANGES_EXCHANGE],
                serializer="json",
            )
        wait_until(lambda: heard, timeout=10)
        # a user's tokens ended in one gateway process: it tells the others, as itself
        with kombu.Connection(users.uri("gateway")) as connection:
            connection.Producer().publish(
                {"service": "gateway", "kind": "user", "id": "u-1"},
                exchange=changes.CHANGES_EXCHANGE,
                routing_key=changes.routing_key("gateway", "user"),
                declare=[changes.CHANGES_EXCHANGE],
                serializer="json",
            )
        wait_until(lambda: len(heard) == 2, timeout=10)
    finally:
        stop.append(True)
        follower.wait()


def test_the_gateway_consumes_the_events_of_its_notifications_under_its_own_user(
    users, container_factory, tmp_path
):
    """Its notification consumers' queues, dead-letter queues and retry exchanges are within
    the gateway user's permissions, and a reminder published as projects reaches it."""
    import sqlalchemy as sa

    from gateway.models import notifications
    from kit.db import create_engine
    from tests.integration.test_notices import NoticeService, reminder
    from tests.support.events import publish_event

    url = f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
    upgrade("gateway", url)
    config = load_config(
        ROOT / "gateway/config.yaml", AMQP_URI=users.uri("gateway"), DATABASE_URL=url
    )
    container_factory(NoticeService, config).start()  # a refused declaration stops it
    engine = create_engine(url, pool_size=1)
    contractor = reminder()["contractor_id"]
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (id, username, password_hash, role, organization_id,"
                " disabled, token_version, created_at) VALUES"
                " ('u-1', 'c.one', 'x', 'contractor', :org, 0, 0, '2027-01-01 00:00:00')"
            ),
            {"org": contractor},
        )
    publish_event(users.uri("projects"), "projects", "milestone_due", reminder(notice="due_today"))

    def told():
        with engine.connect() as connection:
            return connection.execute(sa.select(notifications.c.user_id)).scalars().all()

    try:
        assert wait_until(told, timeout=15, what="the reminder consumed as gateway") == ["u-1"]
    finally:
        engine.dispose()


def test_a_service_cannot_publish_another_services_events(users, rabbit_config):
    # both exchanges exist (declared by the vhost's administrator), so only permissions decide
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        for name in ("funding.events", "projects.events", "registry.events"):
            kombu.Exchange(name, type="topic", durable=True)(connection.default_channel).declare()

    publish(users.uri("funding"), "funding.events", "commitment_made")  # its own: accepted

    for exchange in ("projects.events", "registry.events"):
        with pytest.raises(amqp.exceptions.AccessRefused) as refused:
            publish(users.uri("funding"), exchange)
        assert "ACCESS_REFUSED" in str(refused.value) or refused.value.code == 403
    # nor straight into another service's queue through the default exchange
    with pytest.raises(amqp.exceptions.AccessRefused):
        publish(users.uri("funding"), "", "evt-registry-organization_suspended--projects.x")
    # nor another service's events from the gateway's user
    with pytest.raises(amqp.exceptions.AccessRefused):
        publish(users.uri("gateway"), "registry.events")
