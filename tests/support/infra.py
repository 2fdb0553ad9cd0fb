"""Finding the real RabbitMQ and PostgreSQL the tests talk to."""

from __future__ import annotations

import os
import socket
import urllib.parse
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no permission, no socket: all no
        return False


class Infrastructure:
    def __init__(self) -> None:
        self.amqp_uri = ""
        self.rabbit_api_uri = ""
        self.postgres_url: str | None = None
        self._containers: list = []
        self._problems: list[str] = []

    def resolve(self) -> None:
        self._resolve_rabbit()
        self._resolve_postgres()
        if not self.amqp_uri:
            pytest.exit(
                "No RabbitMQ for the tests. Set AMQP_URI (and RABBIT_API_URI for the management "
                "API, port 15672), run a Docker engine so testcontainers can start one, or start "
                "one on localhost:5672 (here: `rabbitmq-server -detached` and "
                "`rabbitmq-plugins enable rabbitmq_management`).",
                returncode=3,
            )

    def _resolve_rabbit(self) -> None:
        uri = os.environ.get("AMQP_URI")
        if not uri and _docker_answers():
            uri, api = self._start_rabbit_container()
            os.environ.setdefault("RABBIT_API_URI", api)
        if not uri:
            host_ok = _answers("127.0.0.1", 5672)
            uri = DEFAULT_AMQP if host_ok else ""
        if not uri:
            return
        self.amqp_uri = uri
        parts = urllib.parse.urlsplit(uri)
        user = parts.username or "guest"
        password = parts.password or "guest"
        self.rabbit_api_uri = os.environ.get("RABBIT_API_URI") or (
            f"http://{user}:{password}@{parts.hostname or '127.0.0.1'}:15672"
        )

    def _resolve_postgres(self) -> None:
        url = os.environ.get("JINGUO_TEST_POSTGRES_URL")
        if not url and _docker_answers():
            url = self._start_postgres_container()
        if not url and _answers("127.0.0.1", 5432):
            url = DEFAULT_POSTGRES
        self.postgres_url = url or None

    def require_postgres(self) -> str:
        if self.postgres_url is None:
            pytest.fail(
                "No PostgreSQL for the tests. Set JINGUO_TEST_POSTGRES_URL to a URL whose user "
                "may CREATE DATABASE, run a Docker engine, or start one on localhost:5432 "
                "(here: `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
                "start`)."
            )
        return self.postgres_url

    def _start_rabbit_container(self) -> tuple[str, str]:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs

        container = DockerContainer("rabbitmq:3.13-management").with_exposed_ports(5672, 15672)
        container.start()
        wait_for_logs(container, "Server startup complete", timeout=120)
        self._containers.append(container)
        host = container.get_container_host_ip()
        amqp = f"amqp://guest:guest@{host}:{container.get_exposed_port(5672)}/"
        api = f"http://guest:guest@{host}:{container.get_exposed_port(15672)}"
        return amqp, api

    def _start_postgres_container(self) -> str:
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16", username="postgres", password="postgres")
        container.start()
        self._containers.append(container)
        return container.get_connection_url(driver=None)

    def close(self) -> None:
        for container in self._containers:
            container.stop()


@contextmanager
def scratch_postgres_database(admin_url: str, prefix: str = "jinguo_test"):
    """A new, empty PostgreSQL database for one test (or module); dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    # no pool: a connection kept from the CREATE would be dead after a server restart
    admin = sa.create_engine(
        _psycopg2(admin_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(_psycopg2(admin_url)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _psycopg2(url: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg2://" + url[len(plain) :]
    return url
