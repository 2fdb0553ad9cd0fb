"""``jinguo-audit verify`` itself, as an operator runs it over the services' config files:
untouched logs exit 0 with a summary (each chain, where each head is anchored); a record
altered with SQL, or the gateway's whole log rewritten, exits non-zero naming the log and the
record."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kit import anchoring, audit
from kit.db import connect
from kit.migrate import upgrade
from tests.integration.conftest import ROOT
from tests.integration.test_audit import records, tamper

AT = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
ACTOR = {
    "user_id": "u-9",
    "username": "city.staff",
    "role": "federation_staff",
    "organization_id": "org-1",
    "request": {"client_address": "10.0.0.9", "request_id": "req-9"},
}
CONFIGS = {
    "registry": "services/registry/config.yaml",
    "projects": "services/projects/config.yaml",
    "gateway": "gateway/config.yaml",
}


@pytest.fixture
def logs(tmp_path):
    urls = {name: f"sqlite:///{tmp_path / f'{name}.sqlite3'}" for name in CONFIGS}
    for name, url in urls.items():
        upgrade(name, url)
    for name in ("registry", "gateway"):
        with connect(urls[name]) as db:
            for number in range(3):
                entry = audit.AuditEntry("act", "thing", f"{name}-{number}", scope_path="/o/")
                with db.begin() as connection:
                    audit.append(connection, ACTOR, entry, AT + timedelta(seconds=number))
    # the projects service holds both heads, as its keeper and the gateway's write them
    with connect(urls["projects"]) as db:
        for name in ("registry", "gateway"):
            seq, hash_ = head(urls[name])
            with db() as uow:
                anchoring.record_anchor(uow, {"service": name, "seq": seq, "hash": hash_}, None)
                uow.commit()
    return urls


def head(url: str) -> tuple[int, str]:
    with connect(url) as db, db.begin(write=False) as connection:
        return audit.head(connection)


def run_verify(urls: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "JINGUO_ENV": "test",
        **{f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()},
    }
    env.pop("JINGUO_AUDIT_KEY", None)
    command = [str(Path(sys.executable).parent / "jinguo-audit"), "verify", *CONFIGS.values()]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_untouched_logs_exit_0_with_a_summary_of_each_chain_and_its_anchors(logs):
    done = run_verify(logs)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "registry: ok (3 records from 1, head 3)" in lines
    assert "gateway: ok (3 records from 1, head 3)" in lines
    assert "projects: ok (2 records from 1, head 2)" in lines
    assert "gateway: anchored in projects (up to record 3)" in lines
    assert "projects: anchored in no other log" in lines
    assert lines[-1] == "every audit log verifies"


def test_one_record_altered_with_sql_exits_non_zero_naming_the_log_and_record(logs):
    tamper(logs["gateway"], "UPDATE audit_records SET username = 'someone else' WHERE seq = 2")
    done = run_verify(logs)
    assert done.returncode == 1, done.stdout
    assert "gateway: BROKEN at record 2 (" in done.stdout
    assert "BROKEN gateway: record 2 was altered" in done.stdout
    assert "every audit log verifies" not in done.stdout


def test_the_gateway_log_rewritten_whole_is_caught_by_its_anchor_in_projects(logs):
    original = records(logs["gateway"])
    tamper(logs["gateway"], "DELETE FROM audit_records")
    prev = audit.GENESIS
    with connect(logs["gateway"]) as db, db.begin() as connection:
        for row in original:  # a chain consistent in itself, the second record's author changed
            actor = {**ACTOR, "username": "nobody"} if row["seq"] == 2 else ACTOR
            entry = audit.AuditEntry(row["action"], row["object_type"], row["object_id"])
            forged = audit.build_record(actor, entry, row["at"], seq=row["seq"], prev_hash=prev)
            connection.execute(audit.audit_records.insert(), forged)
            prev = forged["hash"]
    done = run_verify(logs)
    assert done.returncode == 1, done.stdout
    assert "gateway: ok (3 records from 1, head 3)" in done.stdout  # holds in itself
    assert (
        "BROKEN gateway: record 3 is not the one anchored (the log was rewritten) — anchored in "
        "projects's record 2"
    ) in done.stdout
