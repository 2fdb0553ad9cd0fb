"""Start a service the way a container does: wait for its dependencies, migrate, run.

    jinguo-serve services/funding/config.yaml funding.service:FundingService

1. waits (tenacity, backing off, up to READY_TIMEOUT seconds) until the broker and the
   service's database answer — a container starting before them does not crash-loop;
2. applies the service's migrations (MIGRATE_ON_START, default true; on PostgreSQL under an
   advisory lock, so replicas starting together migrate once);
3. replaces itself with ``nameko run`` (no shell, no backdoor, signals go to nameko).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import kombu
import sqlalchemy as sa
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from kit.config import load_config
from kit.db import create_engine
from kit.migrate import upgrade


def _wait(what: str, check: object, timeout: float) -> None:
    @retry(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential(multiplier=0.5, max=5),
        stop=stop_after_delay(timeout),
        reraise=True,
        before_sleep=lambda state: print(
            f"waiting for {what}: {state.outcome.exception()}", flush=True
        ),
    )
    def attempt() -> None:
        check()  # type: ignore[operator]

    attempt()


def broker_answers(amqp_uri: str) -> None:
    with kombu.Connection(amqp_uri, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)


def database_answers(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Wait for dependencies, migrate, run a service")
    parser.add_argument("config")
    parser.add_argument("service", help="module:Class, e.g. funding.service:FundingService")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    timeout = float(os.environ.get("READY_TIMEOUT", "120"))
    _wait("the broker", lambda: broker_answers(config["AMQP_URI"]), timeout)
    if config.get("DATABASE_URL"):
        _wait("the database", lambda: database_answers(config["DATABASE_URL"]), timeout)
        if os.environ.get("MIGRATE_ON_START", "true").lower() != "false":
            upgrade(config["SERVICE_PACKAGE"], config["DATABASE_URL"])
            print(f"{config['SERVICE_PACKAGE']}: migrated", flush=True)
    nameko = shutil.which("nameko") or "nameko"
    os.execvp(nameko, [nameko, "run", "--config", args.config, args.service])  # noqa: S606
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
