"""Keeping the audit logs (``kit.audit``): anchoring their heads in each other, pruning them,
and ``jinguo-audit verify``.

**Anchoring.** Every ``AUDIT.anchor_interval`` seconds (default 300) one replica of each service
(the one that holds the lease ``<service>.audit`` in ``outbox_lease``) publishes its log's head
— the last record's seq and hash — as the event ``audit_anchor``, through its outbox. The other
services record each anchor they hear as a record of their own chain (action ``audit_anchor``,
object ``audit_log`` / the service): rewriting one whole log, or cutting its tail, then
contradicts a record in another chain, and ``jinguo-audit verify`` says so. Who hears whom
follows the broker's permissions (``deploy/rabbitmq/definitions.json``): projects keeps the
anchors of registry, funding and volunteers; funding and volunteers those of registry and
projects. Every log is thus anchored in at least one other; the registry consumes no events,
so it holds none. The gateway publishes no events the services hear: its keeper
(``gateway.audit.GatewayAuditKeeper``) sends its head by RPC to the projects service
(``GatewayAnchors.record_gateway_anchor``), which records it like any other anchor.

**Pruning.** The same holder prunes records older than ``AUDIT.retention_days`` (default 180)
every ``AUDIT.prune_interval`` seconds (default 3600), leaving a checkpoint signed with the
audit key (``JINGUO_AUDIT_KEY``; the development key under JINGUO_ENV dev/test).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import eventlet
import sqlalchemy as sa
from nameko.extensions import DependencyProvider

from kit import audit
from kit.clock import utcnow
from kit.config import load_config
from kit.consumer import on_event
from kit.db import DatabaseResource, connect
from kit.errors import Forbidden, InvalidInput
from kit.rpc import rpc
from kit.tables import audit_checkpoints, audit_records, outbox_lease

log = logging.getLogger(__name__)

ANCHOR_EVENT = "audit_anchor"
DEFAULT_ANCHOR_INTERVAL = 300.0
DEFAULT_PRUNE_INTERVAL = 3600.0


def take_lease(
    resource: DatabaseResource, name: str, holder: str, ttl: float, now: datetime
) -> bool:
    """Take (or keep) the lease ``name`` for ``ttl`` seconds: True when ``holder`` has it."""
    expires = now + timedelta(seconds=ttl)
    with resource.begin() as connection:
        taken = connection.execute(
            sa.update(outbox_lease)
            .where(outbox_lease.c.name == name)
            .where(sa.or_(outbox_lease.c.holder == holder, outbox_lease.c.expires_at < now))
            .values(holder=holder, expires_at=expires)
        ).rowcount
        if taken:
            return True
        exists = connection.execute(
            sa.select(outbox_lease.c.holder).where(outbox_lease.c.name == name)
        ).first()
        if exists is not None:
            return False
        connection.execute(
            sa.insert(outbox_lease).values(name=name, holder=holder, expires_at=expires)
        )
        return True


def publish_anchor(resource: DatabaseResource, service: str) -> tuple[int, str]:
    """Publish this log's head as ``audit_anchor`` (through the outbox); return it."""
    with resource.unit_of_work() as uow:
        assert uow.session is not None
        seq, hash_ = audit.head(uow.session.connection())
        uow.emit(ANCHOR_EVENT, service=service, seq=seq, hash=hash_)
        uow.commit()
    return seq, hash_


def record_anchor(uow: Any, event: Mapping[str, Any], actor: Mapping[str, Any] | None) -> dict:
    """Write another service's anchor into this log, in the consumer's unit of work."""
    entry = audit.AuditEntry(
        action=ANCHOR_EVENT,
        object_type="audit_log",
        object_id=str(event["service"]),
        changes=(
            {"field": "seq", "before": None, "after": int(event["seq"])},
            {"field": "hash", "before": None, "after": str(event["hash"])},
        ),
    )
    return uow.audit(actor, entry, utcnow())


def anchors_from(source: str) -> Callable:
    """An event handler, for a service class, that records ``source``'s anchors::

    registry_audit_anchor = anchors_from("registry")
    """

    def handler(self: Any, event: dict[str, Any], uow: Any) -> None:
        record_anchor(uow, event, getattr(self, "system_actor", None))

    handler.__name__ = handler.__qualname__ = f"{source}_audit_anchor"
    return on_event(source, ANCHOR_EVENT)(handler)


#: the gateway's log, anchored by RPC (it has no events exchange the services hear)
GATEWAY_LOG = "gateway"
#: the platform's own actor (``language.actor.SYSTEM``): the only caller of the gateway anchor
SYSTEM_USER_ID = "00000000-0000-0000-0000-000000000000"


def gateway_anchor(anchor: Any) -> dict[str, Any]:
    """The gateway's head as sent (``{seq, hash}``), checked."""
    if not isinstance(anchor, Mapping):
        raise InvalidInput("the anchor must be an object", field="anchor", rule="object")
    seq, hash_ = anchor.get("seq"), anchor.get("hash")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise InvalidInput("seq is a whole number from 0", field="seq", rule="integer")
    if not isinstance(hash_, str) or len(hash_) != 64 or set(hash_) - set("0123456789abcdef"):
        raise InvalidInput("hash is a record's sha256 (hex)", field="hash", rule="sha256")
    return {"service": GATEWAY_LOG, "seq": seq, "hash": hash_}


class GatewayAnchors:
    """Mixed into the service that keeps the gateway's anchors (projects): the gateway's
    keeper sends its log's head here, to be written into this service's chain."""

    db: Any

    @rpc
    def record_gateway_anchor(self, actor: dict[str, Any], anchor: dict[str, Any]) -> dict:
        """Record the gateway log's head (``{seq, hash}``); the platform's actor only."""
        if not isinstance(actor, Mapping) or actor.get("user_id") != SYSTEM_USER_ID:
            raise Forbidden("only the platform anchors the gateway's audit log")
        event = gateway_anchor(anchor)
        with self.db() as uow:
            record = record_anchor(uow, event, actor)
            uow.commit()
        return {"seq": record["seq"], "hash": record["hash"]}


class AuditKeeper(DependencyProvider):
    """Mixed into a service as ``audit_keeper = AuditKeeper()``: a managed green thread that,
    holding the lease, anchors the log's head and prunes it (config ``AUDIT``:
    ``anchor_interval``, ``prune_interval``, ``retention_days``)."""

    def __init__(self, db_attr: str = "db") -> None:
        self.db_attr = db_attr
        self.holder = str(uuid.uuid4())
        self._thread: Any = None
        self._stopping = False
        self._last_anchor: tuple[int, str] | None = None
        self._last_prune: datetime | None = None

    def setup(self) -> None:
        options = dict(self.container.config.get("AUDIT") or {})
        self.anchor_interval = float(options.get("anchor_interval") or DEFAULT_ANCHOR_INTERVAL)
        self.prune_interval = float(options.get("prune_interval") or DEFAULT_PRUNE_INTERVAL)
        self.retention_days = int(options.get("retention_days") or audit.DEFAULT_RETENTION_DAYS)

    def start(self) -> None:
        self._thread = self.container.spawn_managed_thread(
            self._run, identifier=f"{self.container.service_name}.audit_keeper"
        )

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.kill()

    kill = stop

    def _resource(self) -> DatabaseResource:
        for extension in self.container.dependencies:
            if getattr(extension, "attr_name", None) == self.db_attr:
                return extension.resource
        raise RuntimeError(f"{self.container.service_name} has no {self.db_attr} to audit")

    def _run(self) -> None:
        while not self._stopping:
            eventlet.sleep(self.anchor_interval)
            try:
                self.tick(utcnow())
            except Exception as exc:  # noqa: BLE001 - the database may be away; next round
                log.warning("audit keeper: %s", exc)

    def tick(self, now: datetime) -> None:
        resource = self._resource()
        service = self.container.service_name
        ttl = self.anchor_interval * 0.9
        if not take_lease(resource, f"{service}.audit", self.holder, ttl, now):
            return
        with resource.begin(write=False) as connection:
            current = audit.head(connection)
        if current != self._last_anchor:
            self._last_anchor = publish_anchor(resource, service)
        due = self._last_prune is None or now - self._last_prune >= timedelta(
            seconds=self.prune_interval
        )
        if due:
            self._last_prune = now
            key = audit.audit_key(self.container.config)
            with resource.begin() as connection:
                pruned = audit.prune(
                    connection, now=now, key=key, retention_days=self.retention_days
                )
            if pruned:
                log.info("%s: pruned the audit log up to record %s", service, pruned["seq"])


# --- jinguo-audit verify ---------------------------------------------------------------------


def _anchors(connection: sa.Connection) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(audit_records.c.seq, audit_records.c.object_id, audit_records.c.changes).where(
            audit_records.c.action == ANCHOR_EVENT
        )
    )
    found = []
    for seq, service, changes in rows:
        values = {item["field"]: item["after"] for item in changes}
        found.append(
            {"in_seq": seq, "service": service, "seq": values["seq"], "hash": values["hash"]}
        )
    return found


def check_anchor(connection: sa.Connection, anchor: Mapping[str, Any]) -> str | None:
    """Whether the anchored log (``connection``) still holds the anchored record; a problem
    or None."""
    seq, hash_ = int(anchor["seq"]), str(anchor["hash"])
    if seq == 0:
        return None
    found = connection.execute(
        sa.select(audit_records.c.hash).where(audit_records.c.seq == seq)
    ).scalar()
    if found is None:
        found = connection.execute(
            sa.select(audit_checkpoints.c.hash).where(audit_checkpoints.c.seq == seq)
        ).scalar()
    if found is None:
        first_kept = connection.execute(sa.select(sa.func.min(audit_records.c.seq))).scalar()
        if first_kept is not None and seq < first_kept:
            return None  # pruned since: the checkpoint before the first record vouches for it
        return f"record {seq} is gone (the log was cut or rewritten after it was anchored)"
    if found != hash_:
        return f"record {seq} is not the one anchored (the log was rewritten)"
    return None


def _report_anchors(urls: Mapping[str, str], anchors: Mapping[str, list[dict[str, Any]]]) -> None:
    """One line per log: which other logs hold its head (the last anchor each holds)."""
    for target in urls:
        held = {
            holder: max(int(anchor["seq"]) for anchor in found if anchor["service"] == target)
            for holder, found in anchors.items()
            if any(anchor["service"] == target for anchor in found)
        }
        where = ", ".join(f"{holder} (up to record {seq})" for holder, seq in sorted(held.items()))
        print(f"{target}: anchored in {where}" if held else f"{target}: anchored in no other log")


def verify_all(urls: Mapping[str, str], key: bytes | None) -> list[str]:
    """Every log's chain, then every anchor one log holds of another: the problems found,
    one line each (none: all is well)."""
    problems: list[str] = []
    anchors: dict[str, list[dict[str, Any]]] = {}
    for name, url in urls.items():
        with connect(url, service_name="jinguo-audit") as db, db.begin(write=False) as connection:
            if not sa.inspect(connection).has_table(audit_records.name):
                print(f"{name}: no audit log in this database")
                continue
            result = audit.verify(connection, key=key)
            state = "ok" if result.ok else f"BROKEN at record {result.first_broken_seq}"
            print(
                f"{name}: {state} ({result.records} records from {result.start_seq + 1}, "
                f"head {result.head_seq})"
            )
            if not result.ok:
                problems.append(f"{name}: {result.reason}")
            anchors[name] = _anchors(connection)
    _report_anchors(urls, anchors)
    for holder, held in anchors.items():
        for anchor in held:
            target = anchor["service"]
            if target not in urls:
                continue
            with (
                connect(urls[target], service_name="jinguo-audit") as db,
                db.begin(write=False) as connection,
            ):
                problem = check_anchor(connection, anchor)
            if problem:
                problems.append(
                    f"{target}: {problem} — anchored in {holder}'s record {anchor['in_seq']}"
                )
    return problems


ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIGS = (
    "services/registry/config.yaml",
    "services/projects/config.yaml",
    "services/funding/config.yaml",
    "services/volunteers/config.yaml",
    "gateway/config.yaml",
)


def _cli_key(configs: Sequence[str]) -> bytes | None:
    """The audit key: JINGUO_AUDIT_KEY (or the first config's AUDIT_KEY), else the one
    ``make run`` keeps in var/, else the development key under JINGUO_ENV dev/test."""
    first = configs[0] if configs else str(ROOT / DEFAULT_CONFIGS[0])
    config = load_config(first) if Path(first).exists() else {}
    if not (config.get("AUDIT_KEY") or os.environ.get("JINGUO_AUDIT_KEY")):
        kept = ROOT / "var" / "jinguo-audit-key"
        if kept.exists():
            return kept.read_text().strip().encode()
    try:
        return audit.audit_key(config)
    except RuntimeError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jinguo-audit", description="Check Jinguo's audit logs: every chain and its anchors"
    )
    parser.add_argument("command", choices=("verify",))
    parser.add_argument(
        "configs",
        nargs="*",
        help="the config.yaml of each service whose log to check (their DATABASE_URL); "
        "default: the four services' and the gateway's",
    )
    args = parser.parse_args(argv)
    urls: dict[str, str] = {}
    for path in args.configs or [str(ROOT / name) for name in DEFAULT_CONFIGS]:
        if not Path(path).exists():
            continue
        config = load_config(path)
        urls[str(config.get("SERVICE_PACKAGE") or Path(path).parent.name)] = config["DATABASE_URL"]
    key = _cli_key(args.configs)
    if key is None:
        print("JINGUO_AUDIT_KEY is not set: checkpoint signatures are not checked")
    problems = verify_all(urls, key)
    for problem in problems:
        print(f"BROKEN {problem}")
    if not problems:
        print("every audit log verifies")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
