"""Test set-up shared by every tier.

eventlet's monkeypatch comes first, before anything imports socket or threading: nameko and
the services under test run on green threads, as they do under ``nameko run``.

Real parts: RabbitMQ and PostgreSQL are found, in order, from the environment (``AMQP_URI``,
``RABBIT_API_URI``, ``JINGUO_TEST_POSTGRES_URL``), from containers started with
testcontainers when a Docker engine answers, or on localhost's default ports. If none answers,
the run stops and says exactly what is missing.
"""

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import urllib.parse  # noqa: E402

import pytest  # noqa: E402

from tests.support.infra import Infrastructure  # noqa: E402

INFRA = Infrastructure()

# benchmarks print figures and take minutes: `make bench` runs them, `make test` does not
collect_ignore = [] if os.environ.get("JINGUO_BENCH") else ["bench"]
# the fault suite stops this machine's broker and database: `make faults` runs it on its own
if not os.environ.get("JINGUO_FAULTS"):
    collect_ignore.append("faults")
# the console's browser tests run in their own pytest process (tests/browser/pytest.ini):
# Playwright hangs under the eventlet monkeypatch above
collect_ignore.append("browser")


def pytest_configure(config):
    INFRA.resolve()
    # nameko's own fixtures (rabbit_config, container_factory, ...) read these options
    config.option.RABBIT_AMQP_URI = INFRA.amqp_uri
    config.option.RABBIT_API_URI = INFRA.rabbit_api_uri


def pytest_unconfigure(config):
    INFRA.close()


def pytest_report_header(config):
    return [
        f"rabbitmq: {_safe(INFRA.amqp_uri)} (management {_safe(INFRA.rabbit_api_uri)})",
        f"postgresql: {_safe(INFRA.postgres_url) if INFRA.postgres_url else 'not available'}",
    ]


def _safe(url):
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


@pytest.fixture(scope="session")
def infra():
    return INFRA


@pytest.fixture(scope="session")
def postgres_admin_url():
    return INFRA.require_postgres()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_port():
    return free_port()


os.environ.setdefault("JINGUO_ENV", "test")
# the key that signs RPC requests (kit.trust), fresh for every run: services started in this
# process, the processes a platform starts and tests.support.rpc's proxies all read it
os.environ.setdefault("JINGUO_RPC_KEY", secrets.token_hex(32))
