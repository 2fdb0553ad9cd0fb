"""Fixtures for integration tests: a real broker (a fresh vhost per test) and a real database
— SQLite and PostgreSQL both, migrated with Alembic."""

from pathlib import Path

import pytest

from kit.config import load_config
from kit.migrate import upgrade
from tests.conftest import free_port
from tests.support.events import EventTap
from tests.support.infra import scratch_postgres_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.sqlite3'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with scratch_postgres_database(admin_url) as url:
        yield url


@pytest.fixture
def registry_db(database_url):
    upgrade("registry", database_url)
    return database_url


@pytest.fixture
def registry_config(rabbit_config, registry_db):
    return load_config(
        ROOT / "services/registry/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=registry_db,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        OUTBOX={"poll_interval": 0.2, "lease_ttl": 3, "confirm_timeout": 5},
    )


@pytest.fixture
def tap_factory(rabbit_config):
    taps = []

    def make(service, *routing_keys):
        tap = EventTap(rabbit_config["AMQP_URI"], service, routing_keys or ("#",))
        taps.append(tap)
        return tap

    yield make
    for tap in taps:
        tap.close()


@pytest.fixture
def projects_db(database_url):
    upgrade("projects", database_url)
    return database_url


@pytest.fixture
def projects_config(rabbit_config, projects_db):
    return load_config(
        ROOT / "services/projects/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=projects_db,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        OUTBOX={"poll_interval": 0.2, "lease_ttl": 3, "confirm_timeout": 5},
    )


@pytest.fixture
def funding_db(database_url):
    upgrade("funding", database_url)
    return database_url


@pytest.fixture
def funding_config(rabbit_config, funding_db):
    return load_config(
        ROOT / "services/funding/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=funding_db,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        DUAL_APPROVAL_THRESHOLD=10_000_000,
        OUTBOX={"poll_interval": 0.2, "lease_ttl": 3, "confirm_timeout": 5},
    )
