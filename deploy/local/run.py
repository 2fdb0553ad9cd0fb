"""`make run`: the whole platform on this machine, with SQLite files under var/.

Checks that RabbitMQ answers (and says how to start it if not), creates the admin password on
first run, migrates every service, starts the processes of deploy/local/Procfile with honcho,
waits until the gateway reports healthy and prints where to go and how to log in.
The gateway's token signing secret (JINGUO_JWT_SECRET), the volunteers service's keys for
personal data (VOLUNTEERS_DATA_KEY, VOLUNTEERS_HASH_KEY) and JINGUO_RPC_KEY, the key the gateway
and the services sign and check RPC requests with (kit.trust), are generated the same way into
var/ when not set (mode 0600), and never printed. Set
REGISTRY_DATABASE_URL / PROJECTS_DATABASE_URL / FUNDING_DATABASE_URL / VOLUNTEERS_DATABASE_URL /
GATEWAY_DATABASE_URL to run on PostgreSQL instead; nothing else changes.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"
BIN = Path(sys.executable).parent
CONFIGS = [
    "services/registry/config.yaml",
    "services/projects/config.yaml",
    "services/funding/config.yaml",
    "services/volunteers/config.yaml",
    "gateway/config.yaml",
]
#: the volunteers service's keys for personal data and the certificates' signing key (base64
#: of 32 random bytes each)
VOLUNTEER_KEYS = ("VOLUNTEERS_DATA_KEY", "VOLUNTEERS_HASH_KEY", "CERTIFICATE_SIGNING_KEY")
#: the key RPC requests are signed with (base64 of 32 random bytes), shared by every process
RPC_KEY = "JINGUO_RPC_KEY"
#: where a generated secret is kept under var/ when not by its variable's name
SECRET_FILES = {"JINGUO_ADMIN_PASSWORD": "admin-password"}


def broker_address(amqp_uri: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(amqp_uri)
    return parts.hostname or "127.0.0.1", parts.port or 5672


def broker_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def admin_password() -> str:
    """JINGUO_ADMIN_PASSWORD if set; else one generated on first run and kept in var/."""
    return kept_secret("JINGUO_ADMIN_PASSWORD", lambda: secrets.token_urlsafe(12))


def kept_secret(name: str, make: Callable[[], str]) -> str:
    """``name`` from the environment if set; else made on first run and kept in
    var/<name in lower case, dashes> (mode 0600), then reused. Never printed."""
    given = os.environ.get(name)
    if given:
        return given
    path = VAR / SECRET_FILES.get(name, name.lower().replace("_", "-"))
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        # written aside, then linked into place: two first runs at once agree on one value
        draft = VAR / f".{path.name}.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def volunteer_keys() -> dict[str, str]:
    """The volunteers' keys (base64 of 32 random bytes each), so volunteers' phones and ID
    numbers stay readable across runs."""
    return {name: kept_secret(name, random_key) for name in VOLUNTEER_KEYS}


def rpc_key() -> dict[str, str]:
    """JINGUO_RPC_KEY: the key every process signs and checks RPC requests with."""
    return {RPC_KEY: kept_secret(RPC_KEY, random_key)}


def audit_key() -> dict[str, str]:
    """JINGUO_AUDIT_KEY: the key audit checkpoints are signed with (kit.audit); kept, so the
    checkpoints of earlier runs still verify."""
    return {"JINGUO_AUDIT_KEY": kept_secret("JINGUO_AUDIT_KEY", random_key)}


def random_key() -> str:
    """Base64 of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def jwt_secret() -> str:
    """The gateway's token signing secret (64 hex characters: 32 random bytes); kept, so
    tokens stay good across restarts."""
    return kept_secret("JINGUO_JWT_SECRET", lambda: secrets.token_hex(32))


def main() -> int:
    os.chdir(ROOT)
    env = dict(os.environ)
    env.setdefault("JINGUO_ENV", "dev")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    amqp_uri = env.setdefault("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    host, port = broker_address(amqp_uri)
    if not broker_answers(host, port):
        print(
            f"RabbitMQ is not answering on {host}:{port}.\n"
            "Start it, then run `make run` again:\n"
            "  on this machine:   rabbitmq-server -detached\n"
            "  with Docker:       docker compose -f deploy/docker-compose.yml up -d rabbitmq\n"
            "  elsewhere:         set AMQP_URI=amqp://user:password@host:5672/vhost",
            file=sys.stderr,
        )
        return 2
    env["JINGUO_ADMIN_PASSWORD"] = password = admin_password()
    env.update(volunteer_keys())
    env.update(rpc_key())
    env.update(audit_key())
    env["JINGUO_JWT_SECRET"] = jwt_secret()
    VAR.mkdir(exist_ok=True)
    for config in CONFIGS:
        subprocess.run([str(BIN / "jinguo-migrate"), config], env=env, check=True)  # noqa: S603

    honcho = subprocess.Popen(  # noqa: S603
        [str(BIN / "honcho"), "start", "-f", "deploy/local/Procfile", "-d", str(ROOT)],
        env=env,
        start_new_session=True,
    )
    gateway = env.get("GATEWAY_HTTP_ADDRESS", "127.0.0.1:8000")
    base = f"http://{gateway}/api/v1"
    if not wait_healthy(base, honcho):
        stop(honcho)
        print("The platform did not become healthy; see the log above.", file=sys.stderr)
        return 1
    # a generated password stays out of the terminal (and its scrollback): the shell reads it
    generated = not os.environ.get("JINGUO_ADMIN_PASSWORD")
    print(banner(base, "'\"$(cat var/admin-password)\"'" if generated else password), flush=True)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    try:
        return honcho.wait()
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        stop(honcho)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def wait_healthy(base: str, honcho: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if honcho.poll() is not None:
            return False
        try:
            if requests.get(f"{base}/health", timeout=3).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def stop(honcho: subprocess.Popen) -> None:
    if honcho.poll() is None:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)


def banner(base: str, password: str) -> str:
    return f"""
  Jinguo is running.

  Console    {base.removesuffix("/api/v1")}/
  API        {base}
  API docs   {base}/docs
  Health     {base}/health

  Log in as admin (password from JINGUO_ADMIN_PASSWORD, or generated into var/admin-password):
    curl -s -X POST {base}/auth/token -H 'Content-Type: application/json' \\
         -d '{{"username": "admin", "password": "{password}"}}'
  then send the access_token as 'Authorization: Bearer <token>'.

  Ctrl-C stops everything.
"""


if __name__ == "__main__":
    sys.exit(main())
