"""`make run` as a newcomer uses it (deploy/local/run.py, which the make target calls)."""

import base64
import importlib.util
import os
import signal
import subprocess
import sys
import time

import jwt
import pytest
import requests

from tests.support.infra import scratch_postgres_database
from tests.support.platform import NAMEKO, ROOT, free_port, new_vhost, vhost_uri

RUN = [sys.executable, str(ROOT / "deploy/local/run.py")]


def test_without_a_broker_it_says_how_to_start_one():
    env = {**os.environ, "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{free_port()}/"}
    result = subprocess.run(RUN, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "rabbitmq-server -detached" in result.stderr
    assert "deploy/docker-compose.yml" in result.stderr


@pytest.fixture
def postgres_urls(postgres_admin_url):
    with (
        scratch_postgres_database(postgres_admin_url, "jinguo_run_registry") as registry,
        scratch_postgres_database(postgres_admin_url, "jinguo_run_projects") as projects,
        scratch_postgres_database(postgres_admin_url, "jinguo_run_funding") as funding,
        scratch_postgres_database(postgres_admin_url, "jinguo_run_volunteers") as volunteers,
        scratch_postgres_database(postgres_admin_url, "jinguo_run_gateway") as gateway,
    ):
        yield {
            "registry": registry,
            "projects": projects,
            "funding": funding,
            "volunteers": volunteers,
            "gateway": gateway,
        }


def test_it_starts_everything_on_postgresql_by_url_alone(
    rabbit_manager, infra, postgres_urls, tmp_path
):
    vhost = new_vhost(rabbit_manager)
    port = free_port()
    env = {
        **os.environ,
        "AMQP_URI": vhost_uri(infra.amqp_uri, vhost),
        "GATEWAY_HTTP_ADDRESS": f"127.0.0.1:{port}",
        "REGISTRY_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
        "REGISTRY_DATABASE_URL": postgres_urls["registry"],
        "PROJECTS_DATABASE_URL": postgres_urls["projects"],
        "PROJECTS_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
        "FUNDING_DATABASE_URL": postgres_urls["funding"],
        "FUNDING_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
        "VOLUNTEERS_DATABASE_URL": postgres_urls["volunteers"],
        "VOLUNTEERS_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
        "VOLUNTEERS_DATA_KEY": base64.b64encode(os.urandom(32)).decode(),
        "VOLUNTEERS_HASH_KEY": base64.b64encode(os.urandom(32)).decode(),
        "GATEWAY_DATABASE_URL": postgres_urls["gateway"],
        "JINGUO_ADMIN_PASSWORD": "first-day-password",
    }
    log = open(tmp_path / "run.log", "w+")  # noqa: SIM115
    process = subprocess.Popen(RUN, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180  # a loaded machine migrates slowly
        while (
            time.monotonic() < deadline
            and "Jinguo is running" not in (tmp_path / "run.log").read_text()
        ):
            assert process.poll() is None, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
        output = (tmp_path / "run.log").read_text()
        assert f"http://127.0.0.1:{port}/api/v1/docs" in output
        assert '"username": "admin", "password": "first-day-password"' in output
        assert env["VOLUNTEERS_DATA_KEY"] not in output
        assert env["VOLUNTEERS_HASH_KEY"] not in output

        base = f"http://127.0.0.1:{port}/api/v1"
        health = requests.get(f"{base}/health", timeout=10).json()
        assert health["dependencies"]["gateway_database"]["backend"] == "postgresql"
        assert health["dependencies"]["registry"]["database"]["backend"] == "postgresql"
        assert health["dependencies"]["projects"]["database"]["backend"] == "postgresql"
        assert health["dependencies"]["funding"]["database"]["backend"] == "postgresql"
        assert health["dependencies"]["volunteers"]["database"]["backend"] == "postgresql"
        token = requests.post(
            f"{base}/auth/token",
            json={"username": "admin", "password": "first-day-password"},
            timeout=10,
        ).json()["access_token"]
        created = requests.post(
            f"{base}/organizations",
            json={"name": "某市妇联", "kind": "federation", "level": "city"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert created.status_code == 201

        # a token signed with the development secret once written in gateway/auth.py is
        # nobody's: make run signs with a secret of its own (var/jwt-secret, never printed)
        now = int(time.time())
        forged = jwt.encode(
            {
                "iss": "jinguo",
                "sub": "00000000-0000-0000-0000-000000000000",
                "name": "admin",
                "role": "admin",
                "org": None,
                "iat": now,
                "exp": now + 600,
                "ver": 0,
            },
            "jinguo-development-secret-never-deploy-this",
            algorithm="HS256",
        )
        refused = requests.get(
            f"{base}/users", headers={"Authorization": f"Bearer {forged}"}, timeout=10
        )
        assert refused.status_code == 401, refused.text
        secret = (ROOT / "var" / "jinguo-jwt-secret").read_text().strip()
        assert secret not in output
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()
        rabbit_manager.delete_vhost(vhost)
    assert not _listening(port)


def _listening(port):
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_gateway_refuses_to_start_in_production_with_the_default_secret(tmp_path):
    env = {
        **os.environ,
        "JINGUO_ENV": "production",
        "JINGUO_JWT_SECRET": "",
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        "GATEWAY_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    args = [NAMEKO, "run", "--config", "gateway/config.yaml", "gateway.service:GatewayService"]
    result = subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "JINGUO_JWT_SECRET is not set: set JINGUO_JWT_SECRET" in result.stdout + result.stderr


def test_the_volunteer_keys_are_generated_once_kept_private_and_reused(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("jinguo_run", ROOT / "deploy/local/run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.setattr(run, "VAR", tmp_path / "var")
    for name in run.VOLUNTEER_KEYS:
        monkeypatch.delenv(name, raising=False)
    first = run.volunteer_keys()
    assert set(first) == {"VOLUNTEERS_DATA_KEY", "VOLUNTEERS_HASH_KEY", "CERTIFICATE_SIGNING_KEY"}
    assert all(len(base64.b64decode(key)) == 32 for key in first.values())
    assert first["VOLUNTEERS_DATA_KEY"] != first["VOLUNTEERS_HASH_KEY"]
    for path in (tmp_path / "var").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert run.volunteer_keys() == first  # kept: phones sealed yesterday still open today
    monkeypatch.setenv("VOLUNTEERS_DATA_KEY", "given")
    assert run.volunteer_keys()["VOLUNTEERS_DATA_KEY"] == "given"


def test_the_rpc_key_is_generated_once_kept_private_and_reused(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("jinguo_run", ROOT / "deploy/local/run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.setattr(run, "VAR", tmp_path / "var")
    monkeypatch.delenv("JINGUO_RPC_KEY", raising=False)
    first = run.rpc_key()["JINGUO_RPC_KEY"]
    assert len(first) >= 32 and len(base64.b64decode(first)) == 32
    path = tmp_path / "var" / "jinguo-rpc-key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert run.rpc_key()["JINGUO_RPC_KEY"] == first
    monkeypatch.setenv("JINGUO_RPC_KEY", "given-" * 8)
    assert run.rpc_key()["JINGUO_RPC_KEY"] == "given-" * 8


def test_the_audit_key_is_generated_once_kept_private_and_reused(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("jinguo_run", ROOT / "deploy/local/run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.setattr(run, "VAR", tmp_path / "var")
    monkeypatch.delenv("JINGUO_AUDIT_KEY", raising=False)
    first = run.audit_key()["JINGUO_AUDIT_KEY"]
    assert len(base64.b64decode(first)) == 32
    assert (tmp_path / "var" / "jinguo-audit-key").stat().st_mode & 0o777 == 0o600
    assert run.audit_key()["JINGUO_AUDIT_KEY"] == first
