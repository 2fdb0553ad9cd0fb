"""The platform as real processes: `nameko run` for each service and the gateway.

Used by end-to-end tests, benchmarks and fault tests. Each platform gets its own RabbitMQ
vhost and its own databases, so runs never see each other's messages or rows.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from kit.migrate import upgrade
from tests.support import contract

ROOT = Path(__file__).resolve().parents[2]
NAMEKO = str(Path(sys.executable).parent / "nameko")
#: the services a platform runs (besides the gateway), each with its own database
SERVICES = ("registry", "projects", "funding", "volunteers")


def _random_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.popen = subprocess.Popen(
            self.args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    def signal(self, sig: int) -> None:
        assert self.popen is not None
        self.popen.send_signal(sig)

    def stop(self, timeout: float = 15) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGCONT)
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class Platform:
    amqp_uri: str
    workdir: Path
    database_urls: dict[str, str]
    admin_password: str = field(default_factory=lambda: "admin-" + secrets.token_hex(6))
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    rpc_timeout: float = 3.0
    gateway_port: int = field(default_factory=free_port)
    registry_port: int = field(default_factory=free_port)
    projects_port: int = field(default_factory=free_port)
    funding_port: int = field(default_factory=free_port)
    volunteers_port: int = field(default_factory=free_port)
    #: the volunteers service's personal data keys, fresh for every platform
    volunteers_data_key: str = field(default_factory=lambda: _random_key())
    volunteers_hash_key: str = field(default_factory=lambda: _random_key())
    certificate_signing_key: str = field(default_factory=lambda: _random_key())
    #: the key that signs RPC requests (kit.trust): the test run's, so tests.support.rpc's
    #: proxies can call the platform's services too
    rpc_key: str = field(
        default_factory=lambda: os.environ.get("JINGUO_RPC_KEY") or secrets.token_hex(32)
    )
    processes: dict[str, Process] = field(default_factory=dict)
    #: extra environment for the registry process only
    registry_env: dict[str, str] = field(default_factory=dict)
    #: extra environment for every process
    extra_env: dict[str, str] = field(default_factory=dict)
    #: ``/healthz`` of processes outside the gateway's view that must be ready too
    health_urls: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a database for every process that has none given: a SQLite file in the work dir
        for name in (*SERVICES, "gateway"):
            self.database_urls.setdefault(name, f"sqlite:///{self.workdir / f'{name}.sqlite3'}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/api/v1"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "AMQP_URI": self.amqp_uri,
            "JINGUO_ENV": "test",
            "JINGUO_ADMIN_PASSWORD": self.admin_password,
            "JINGUO_JWT_SECRET": self.jwt_secret,
            "JINGUO_RPC_KEY": self.rpc_key,
            "REGISTRY_DATABASE_URL": self.database_urls["registry"],
            "PROJECTS_DATABASE_URL": self.database_urls["projects"],
            "FUNDING_DATABASE_URL": self.database_urls["funding"],
            "VOLUNTEERS_DATABASE_URL": self.database_urls["volunteers"],
            "GATEWAY_DATABASE_URL": self.database_urls["gateway"],
            "REGISTRY_HTTP_ADDRESS": f"127.0.0.1:{self.registry_port}",
            "PROJECTS_HTTP_ADDRESS": f"127.0.0.1:{self.projects_port}",
            "FUNDING_HTTP_ADDRESS": f"127.0.0.1:{self.funding_port}",
            "VOLUNTEERS_HTTP_ADDRESS": f"127.0.0.1:{self.volunteers_port}",
            "VOLUNTEERS_DATA_KEY": self.volunteers_data_key,
            "VOLUNTEERS_HASH_KEY": self.volunteers_hash_key,
            "CERTIFICATE_SIGNING_KEY": self.certificate_signing_key,
            "GATEWAY_HTTP_ADDRESS": f"127.0.0.1:{self.gateway_port}",
            "GATEWAY_RPC_TIMEOUT": str(self.rpc_timeout),
            # an hour: a test that sees a cached project change sees the change notice work,
            # not the copy expire
            "GATEWAY_PROJECT_CACHE_TTL": "3600",
            # small pages: an export in a test already spans several
            "GATEWAY_EXPORT_PAGE_ROWS": "5",
            "OUTBOX_POLL_INTERVAL": "0.2",
            "LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore",
        }
        env.update(self.extra_env)
        env.update(extra)
        return env

    def migrate(self) -> None:
        for package in SERVICES:
            upgrade(package, self.database_urls[package])
        upgrade("gateway", self.database_urls["gateway"])

    def service(self, name: str, config: str, target: str, **extra_env: str) -> Process:
        process = Process(
            name=name,
            args=[NAMEKO, "run", "--config", config, target],
            env=self.env(**extra_env),
            log_path=self.workdir / f"{name}.log",
        )
        self.processes[name] = process.start()
        return process

    def probe(self) -> Process:
        """The test consumer of registry events (``tests.support.probe``), started before the
        platform so its queues exist before events flow; ``wait_healthy`` waits for them."""
        from tests.support.probe import create_probe_tables

        url = self.database_urls.setdefault("probe", f"sqlite:///{self.workdir / 'probe.sqlite3'}")
        create_probe_tables(url)
        address = f"127.0.0.1:{free_port()}"
        self.health_urls["probe"] = f"http://{address}/healthz"
        return self.service(
            "probe",
            "tests/support/probe.yaml",
            "tests.support.probe:ProbeService",
            PROBE_DATABASE_URL=url,
            PROBE_HTTP_ADDRESS=address,
        )

    def start(self) -> Platform:
        self.migrate()
        self.service(
            "registry",
            "services/registry/config.yaml",
            "registry.service:RegistryService",
            **self.registry_env,
        )
        self.service(
            "projects", "services/projects/config.yaml", "projects.service:ProjectsService"
        )
        self.service("funding", "services/funding/config.yaml", "funding.service:FundingService")
        self.service(
            "volunteers",
            "services/volunteers/config.yaml",
            "volunteers.service:VolunteersService",
        )
        self.service("gateway", "gateway/config.yaml", "gateway.service:GatewayService")
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for process in self.processes.values():
                if process.popen is not None and process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            try:
                for url in (f"{self.base_url}/health", *self.health_urls.values()):
                    last = requests.get(url, timeout=5)
                    if last.status_code != 200:
                        break
                else:
                    return
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.2)
        logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.processes.values())
        raise RuntimeError(
            f"platform not healthy after {timeout}s: {getattr(last, 'text', last)}\n{logs}"
        )

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    # --- HTTP helpers --------------------------------------------------------------------

    def token(self, username: str, password: str) -> str:
        response = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": username, "password": password},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self, token: str | None = None) -> Client:
        return Client(self.base_url, token)

    def admin(self) -> Client:
        return self.client(self.token("admin", self.admin_password))


class Client:
    """requests with the base URL and the bearer token filled in; every JSON answer is checked
    against the gateway's API document (``tests.support.contract``)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        response = self.session.request(method, self.base_url + path, **kwargs)
        contract.check(self.base_url, response)  # every answer keeps to the API document
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json=None, **kwargs) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json=None, **kwargs) -> requests.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def create(self, path: str, payload: dict) -> dict:
        response = self.post(path, payload)
        assert response.status_code == 201, (path, payload, response.status_code, response.text)
        return response.json()


def vhost_uri(amqp_uri: str, vhost: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(amqp_uri)
    return f"{parts.scheme}://{parts.netloc}/{vhost}"


def new_vhost(rabbit_manager, username: str = "guest") -> str:
    vhost = f"jinguo_e2e_{uuid.uuid4().hex[:10]}"
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, username, ".*", ".*", ".*")
    return vhost
