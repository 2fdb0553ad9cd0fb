"""The tamper-evident audit trail: one hash-chained record per attributable act.

Every service's database (and the gateway's) holds one log, the table ``audit_records``
(``kit.tables``). A record says when (UTC), who (user id, username, role, organization), from
where (client address, request id: the gateway adds ``"request"`` to the actor mapping it
sends with every RPC), what (action, object type and id), the outcome (``ok``, ``denied``,
``failed``), what changed (``[{field, before, after}]``, personal fields masked) and the
federation line the object belongs to (``scope_path``, a materialised path; None means
platform-wide), and is appended **in the transaction of the act**::

    entry = AuditEntry("publish_project", "project", project.id, changes=(...,), scope_path=p)
    append(session, actor, entry, at=clock.now())

Records form a hash chain: ``hash = sha256(canonical record, prev_hash included)``; ``seq``
runs 1, 2, 3 … without a gap. Appends are serialised per log (a transaction-scoped advisory
lock on PostgreSQL; SQLite has one writer), and the primary key on ``seq`` refuses a fork
whatever happens. A trigger refuses UPDATE and DELETE (DELETE of a record a signed checkpoint
covers excepted: that is pruning) — and someone who drops the trigger is still caught by
``verify``, which recomputes every hash and names the first record that does not fit.

Pruning (``prune``) removes the records older than the retention (default 180 days; never the
head) and first writes a checkpoint — the last pruned record's seq and hash, HMAC-signed with
the audit key — so the chain verifies from it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kit.errors import Forbidden, InvalidInput
from kit.rpc import rpc
from kit.tables import audit_checkpoints, audit_metadata, audit_records

metadata = audit_metadata

#: the hash a log's first record chains to
GENESIS = "0" * 64
OUTCOMES = ("ok", "denied", "failed")
#: PostgreSQL advisory lock key that serialises appends to a database's log ("AUDT")
APPEND_LOCK = 0x41554454
#: default retention of records, in days (MLPS 2.0 asks for at least six months)
DEFAULT_RETENTION_DAYS = 180
#: what a personal field's before and after read as in a record
MASKED = "***"
#: fields whose values never enter a record in clear, whatever the service (a service adds its
#: own with ``personal=`` where records are built)
PERSONAL_FIELDS = frozenset(
    {
        "phone",
        "mobile",
        "id_number",
        "id_card",
        "password",
        "password_hash",
        "phone_cipher",
        "phone_hash",
        "id_number_cipher",
        "id_number_hash",
        "contact_phone",
    }
)
#: the development key for checkpoint signatures (JINGUO_ENV dev or test, no key set)
DEV_KEY = "jinguo-development-audit-key-never-use-it-in-production"


@dataclass(frozen=True)
class AuditEntry:
    """What an act was: the caller says it; ``append`` adds who, when, where and the chain."""

    action: str
    object_type: str
    object_id: str | None
    outcome: str = "ok"
    #: ``({"field": ..., "before": ..., "after": ...}, ...)``, personal values already masked
    changes: tuple[Mapping[str, Any], ...] = ()
    scope_path: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    #: records checked (those after the checkpoint the chain starts from)
    records: int
    first_broken_seq: int | None = None
    reason: str | None = None
    #: the last record's seq and hash (what anchoring writes into the other logs)
    head_seq: int = 0
    head_hash: str = GENESIS
    #: the checkpoint the chain was verified from (0: from the genesis)
    start_seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_broken_seq": self.first_broken_seq,
            "reason": self.reason,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "start_seq": self.start_seq,
        }


# --- values ------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A value as JSON keeps it identically on every backend (what is hashed is what is read
    back): str, int, bool, None, lists and mappings of them; the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return str(value)


def change(
    field_name: str, before: Any, after: Any, *, personal: Iterable[str] = ()
) -> dict[str, Any]:
    """One ``{field, before, after}``; a personal field's values are masked (a value that is
    set reads ``***``; an absent one stays None, so "was empty" is still visible)."""
    if field_name in PERSONAL_FIELDS or field_name in set(personal):
        before = MASKED if before not in (None, "") else before
        after = MASKED if after not in (None, "") else after
    return {"field": field_name, "before": plain(before), "after": plain(after)}


def _stamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime: audit records keep aware UTC")
    # isoformat is the C fast path; on a naive UTC moment it is "%Y-%m-%dT%H:%M:%S.%f"
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_HASHED = (
    "seq",
    "record_id",
    "user_id",
    "username",
    "role",
    "organization_id",
    "client_address",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "changes",
    "scope_path",
    "prev_hash",
)


#: one encoder for every record (``json.dumps`` with options builds one a call)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash is taken over: every column but ``hash``, as sorted compact
    JSON, ``at`` to the microsecond in UTC."""
    body = {name: record[name] for name in _HASHED}
    body["at"] = _stamp(record["at"])
    return _CANONICAL.encode(body).encode()


def _digest(body: dict[str, Any], at: datetime) -> str:
    """``record_hash`` of a record's hashed columns as a fresh dict (``verify``'s loop)."""
    body["at"] = _stamp(at)
    return hashlib.sha256(_CANONICAL.encode(body).encode()).hexdigest()


def record_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


# --- appending -----------------------------------------------------------------------------


def _connection(target: Any) -> sa.Connection:
    if isinstance(target, Session):
        return target.connection()
    session = getattr(target, "session", None)  # a kit UnitOfWork
    if isinstance(session, Session):
        return session.connection()
    return target


_HEAD = (
    sa.select(audit_records.c.seq, audit_records.c.hash)
    .order_by(audit_records.c.seq.desc())
    .limit(1)
)
_LAST_CHECKPOINT = (
    sa.select(audit_checkpoints.c.seq, audit_checkpoints.c.hash)
    .order_by(audit_checkpoints.c.seq.desc())
    .limit(1)
)


def head(connection: sa.Connection) -> tuple[int, str]:
    """The log's last seq and hash: its last record, else the last checkpoint, else 0 and
    the genesis hash."""
    row = connection.execute(_HEAD).first()
    if row is None:
        row = connection.execute(_LAST_CHECKPOINT).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)


def lock_log(connection: sa.Connection) -> None:
    """Serialise appends to this database's log until the transaction ends (PostgreSQL; on
    SQLite the writer already holds the database)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_LOCK)


_LOCK = f"SELECT pg_advisory_xact_lock({APPEND_LOCK})"
#: on PostgreSQL the lock and the read of the head go in one round trip: two statements, the
#: second with a snapshot taken after the first has the lock (READ COMMITTED)
_LOCKED_HEAD = (
    f"SELECT pg_advisory_xact_lock({APPEND_LOCK}); "  # noqa: S608 - a constant
    "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
)


def locked_head(connection: sa.Connection) -> tuple[int, str]:
    """Take the log's lock and read its head (``lock_log`` then ``head``)."""
    if connection.dialect.name != "postgresql":
        return head(connection)
    row = connection.exec_driver_sql(_LOCKED_HEAD).first()
    if row is None:
        row = connection.execute(_LAST_CHECKPOINT).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)


def _who(actor: Mapping[str, Any] | None) -> dict[str, Any]:
    actor = actor or {}
    request = actor.get("request") or {}
    return {
        "user_id": _text(actor.get("user_id"), 36),
        "username": _text(actor.get("username"), 150),
        "role": _text(actor.get("role"), 32),
        "organization_id": _text(actor.get("organization_id"), 36),
        "client_address": _text(request.get("client_address"), 64),
        "request_id": _text(request.get("request_id"), 64),
    }


def _text(value: Any, length: int) -> str | None:
    return None if value in (None, "") else str(value)[:length]


def build_record(
    actor: Mapping[str, Any] | None,
    entry: AuditEntry,
    at: datetime,
    *,
    seq: int,
    prev_hash: str,
    record_id: str | None = None,
) -> dict[str, Any]:
    """The record ``append`` writes after ``prev_hash``, hash included (plain Python)."""
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {entry.outcome!r} is not one of {OUTCOMES}")
    record: dict[str, Any] = {
        "seq": seq,
        "record_id": record_id or str(uuid.uuid4()),
        "at": at.astimezone(UTC),
        **_who(actor),
        "action": entry.action[:64],
        "object_type": entry.object_type[:64],
        "object_id": _text(entry.object_id, 64),
        "outcome": entry.outcome,
        "changes": list(entry.changes)
        if isinstance(entry.changes, _Plain)
        else [plain(dict(item)) for item in entry.changes],
        "scope_path": entry.scope_path,
        "prev_hash": prev_hash,
    }
    record["hash"] = record_hash(record)
    return record


_INSERT = audit_records.insert()

#: the columns of a record, in the table's order
_NAMES = tuple(column.name for column in audit_records.c)
#: insert a record only if the log's head is the one it chains to (``prev_seq``, its
#: ``prev_hash``): that record is there and none after it; one index probe each on ``seq``
_GUARDED_INSERT = (
    f"INSERT INTO audit_records ({', '.join(_NAMES)}) "  # noqa: S608 - constants
    f"SELECT {', '.join(':' + name for name in _NAMES)} "
    "WHERE EXISTS (SELECT 1 FROM audit_records WHERE seq = :prev_seq AND hash = :prev_hash) "
    "AND NOT EXISTS (SELECT 1 FROM audit_records WHERE seq > :prev_seq)"
)


def _guarded(lock: bool) -> Any:
    statement = sa.text((_LOCK + "; " if lock else "") + _GUARDED_INSERT).bindparams(
        *(sa.bindparam(name, type_=audit_records.c[name].type) for name in _NAMES),
        sa.bindparam("prev_seq", type_=sa.BigInteger()),
    )
    return statement


#: PostgreSQL: the lock and the guarded insert in one round trip (two statements: the insert's
#: snapshot is taken after the lock is held, READ COMMITTED); SQLite has one writer
_APPEND_AFTER = {"postgresql": _guarded(lock=True), "sqlite": _guarded(lock=False)}

#: per engine, the head this process last appended (seq, hash): a guess the guarded insert
#: checks under the lock, never trusted (another replica, a rolled back act, pruning)
_HEADS: weakref.WeakKeyDictionary[sa.Engine, tuple[int, str]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _DriverStatement:
    """``_APPEND_AFTER`` compiled once for a dialect, with its columns' bind processors: each
    append hands the driver its SQL and parameters directly (no compile-cache lookup, no
    per-call parameter processing by the ORM)."""

    sql: str
    #: the parameters in their positional order (qmark drivers), None for named ones
    order: tuple[str, ...] | None
    processors: tuple[tuple[str, Any], ...]

    def parameters(self, values: dict[str, Any]) -> Any:
        for name, process in self.processors:
            values[name] = process(values[name])
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


_DRIVER_STATEMENTS: weakref.WeakKeyDictionary[Any, _DriverStatement] = weakref.WeakKeyDictionary()


def _driver_statement(dialect: Any) -> _DriverStatement | None:
    found = _DRIVER_STATEMENTS.get(dialect)
    if found is None:
        statement = _APPEND_AFTER.get(dialect.name)
        if statement is None:
            return None
        compiled = statement.compile(dialect=dialect)
        processors = []
        for name in _NAMES:
            process = audit_records.c[name].type.bind_processor(dialect)
            if process is not None:
                processors.append((name, process))
        order = compiled.positiontup
        found = _DriverStatement(
            compiled.string, tuple(order) if order else None, tuple(processors)
        )
        _DRIVER_STATEMENTS[dialect] = found
    return found


def _append_after(connection: sa.Connection, record: dict[str, Any], prev_seq: int) -> bool:
    """Insert ``record`` if the log's head is still ``prev_seq`` (one statement/round trip)."""
    statement = _driver_statement(connection.dialect)
    if statement is None:
        return False
    parameters = statement.parameters({**record, "prev_seq": prev_seq})
    result = connection.exec_driver_sql(statement.sql, parameters)
    return bool(result.rowcount == 1)


def append(
    connection_or_session: Any,
    actor: Mapping[str, Any] | None,
    entry: AuditEntry,
    at: datetime,
) -> dict[str, Any]:
    """Append one chained record in the caller's transaction and return it (as written).

    ``connection_or_session``: a SQLAlchemy Connection or Session (or a kit UnitOfWork) in
    a write transaction; the record commits or rolls back with the act.

    The head this process wrote last is tried first: the lock and an insert guarded by "the
    head is still that record" go in one round trip. If another writer moved the head (or the
    act that wrote it rolled back), the head is read under the lock and the record rebuilt.
    """
    connection = _connection(connection_or_session)
    engine = connection.engine
    guess = _HEADS.get(engine)
    if guess is not None:
        record = build_record(actor, entry, at, seq=guess[0] + 1, prev_hash=guess[1])
        if _append_after(connection, record, guess[0]):
            _HEADS[engine] = (record["seq"], record["hash"])
            return record
    seq, prev_hash = locked_head(connection)
    record = build_record(actor, entry, at, seq=seq + 1, prev_hash=prev_hash)
    connection.execute(_INSERT, record)
    _HEADS[engine] = (record["seq"], record["hash"])
    return record


# --- verifying -----------------------------------------------------------------------------

_COLUMNS = [audit_records.c[name] for name in (*_HASHED, "at", "hash")]


def sign_checkpoint(key: bytes, seq: int, hash_: str, at: datetime) -> str:
    message = f"jinguo-audit-checkpoint:v1:{seq}:{hash_}:{_stamp(at)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def audit_key(config: Mapping[str, Any] | None = None) -> bytes:
    """The key checkpoints are signed with: ``AUDIT_KEY`` in config or ``JINGUO_AUDIT_KEY``;
    the development key only where JINGUO_ENV is dev or test."""
    config = config or {}
    value = config.get("AUDIT_KEY") or os.environ.get("JINGUO_AUDIT_KEY")
    if value:
        return str(value).encode()
    environment = config.get("JINGUO_ENV") or os.environ.get("JINGUO_ENV") or "production"
    if str(environment).lower() in ("dev", "development", "test"):
        return DEV_KEY.encode()
    raise RuntimeError("JINGUO_AUDIT_KEY is not set: audit checkpoints cannot be signed")


def _start(connection: sa.Connection, first_seq: int | None, key: bytes | None) -> Any:
    """Where the chain starts: (seq, hash, problem) — the genesis, or the checkpoint just
    before the first record kept (its signature checked when a key is given)."""
    if first_seq is None or first_seq == 1:
        return 0, GENESIS, None
    row = connection.execute(
        sa.select(audit_checkpoints).where(audit_checkpoints.c.seq == first_seq - 1)
    ).first()
    if row is None:
        return 0, GENESIS, f"records 1 to {first_seq - 1} are missing and no checkpoint covers them"
    if key is not None:
        expected = sign_checkpoint(key, row.seq, row.hash, row.at)
        if not hmac.compare_digest(expected, row.signature):
            return row.seq, row.hash, f"the checkpoint at {row.seq} is not signed with the key"
    return int(row.seq), str(row.hash), None


def verify(connection: Any, *, key: bytes | None = None, batch: int = 10_000) -> VerifyResult:
    """Walk the log in seq order, recompute every hash and check every link; name the first
    record that breaks the chain (a changed field, a missing record, two records swapped)."""
    connection = _connection(connection)
    first = connection.execute(sa.select(sa.func.min(audit_records.c.seq))).scalar()
    start_seq, prev_hash, problem = _start(connection, first, key)
    if problem is not None:
        return VerifyResult(
            False,
            0,
            first_broken_seq=start_seq + 1 if not start_seq else first,
            reason=problem,
            start_seq=start_seq,
        )
    expected_seq = start_seq + 1
    checked = 0
    rows = connection.execution_options(stream_results=True, yield_per=batch).execute(
        sa.select(*_COLUMNS).order_by(audit_records.c.seq)
    )
    hashed = len(_HASHED)
    for row in rows:  # tuples in _COLUMNS' order: the hashed columns, at, hash
        if (
            row[0] != expected_seq
            or row[hashed - 1] != prev_hash
            or _digest(dict(zip(_HASHED, row, strict=False)), row[hashed]) != row[hashed + 1]
        ):
            broken = _check(row._mapping, expected_seq, prev_hash)
            if broken is not None:
                rows.close()
                return VerifyResult(
                    False, checked, broken[0], broken[1], expected_seq - 1, prev_hash, start_seq
                )
        checked += 1
        prev_hash = row[hashed + 1]
        expected_seq += 1
    return VerifyResult(
        True, checked, head_seq=expected_seq - 1, head_hash=prev_hash, start_seq=start_seq
    )


def _check(row: Mapping[str, Any], expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    seq = row["seq"]
    if seq != expected_seq:
        missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq} to {seq - 1}"
        return expected_seq, f"record {missing} is missing: {expected_seq - 1} is followed by {seq}"
    if row["prev_hash"] != prev_hash:
        return seq, f"record {seq} does not chain to record {seq - 1} (prev_hash differs)"
    if record_hash(row) != row["hash"]:
        return seq, f"record {seq} was altered: its content does not match its hash"
    return None


# --- pruning -------------------------------------------------------------------------------


def prune(
    connection_or_session: Any,
    *,
    now: datetime,
    key: bytes,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> dict[str, Any] | None:
    """Remove the records older than ``retention_days`` (never the log's last one), after a
    signed checkpoint of the last removed record; the checkpoint, or None if nothing was due."""
    connection = _connection(connection_or_session)
    lock_log(connection)
    before = now - timedelta(days=retention_days)
    last_seq, _ = head(connection)
    row = connection.execute(
        sa.select(audit_records.c.seq, audit_records.c.hash)
        .where(audit_records.c.at < before, audit_records.c.seq < last_seq)
        .order_by(audit_records.c.seq.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    first = connection.execute(sa.select(sa.func.min(audit_records.c.seq))).scalar() or 0
    checkpoint = {
        "seq": int(row.seq),
        "hash": row.hash,
        "at": now,
        "pruned_before": before,
        "records": int(row.seq) - int(first) + 1,
        "signature": sign_checkpoint(key, int(row.seq), row.hash, now),
    }
    connection.execute(audit_checkpoints.insert(), checkpoint)
    connection.execute(audit_records.delete().where(audit_records.c.seq <= row.seq))
    return checkpoint


# --- protection (migrations call these) -----------------------------------------------------

_PG_PROTECT = """
CREATE OR REPLACE FUNCTION jinguo_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_records' AND EXISTS (
        SELECT 1 FROM audit_checkpoints WHERE seq >= OLD.seq
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""


def _pg_statements() -> list[str]:
    statements = [_PG_PROTECT]
    for table in ("audit_records", "audit_checkpoints"):
        statements += [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION jinguo_audit_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION jinguo_audit_append_only()",
        ]
    return statements


_SQLITE_STATEMENTS = [
    "CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records BEGIN "
    "SELECT RAISE(ABORT, 'audit records are append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE seq >= OLD.seq) BEGIN "
    "SELECT RAISE(ABORT, 'audit records are append-only: DELETE refused'); END",
    "CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN "
    "SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN "
    "SELECT RAISE(ABORT, 'audit checkpoints are append-only: DELETE refused'); END",
]


def protection_statements(dialect: str) -> list[str]:
    """The DDL of the triggers that refuse UPDATE and DELETE on the audit tables."""
    return _pg_statements() if dialect == "postgresql" else list(_SQLITE_STATEMENTS)


def unprotection_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            *(
                f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}"
                for table in ("audit_records", "audit_checkpoints")
                for name in ("append_only", "no_truncate")
            ),
            "DROP FUNCTION IF EXISTS jinguo_audit_append_only()",
        ]
    return [
        f"DROP TRIGGER IF EXISTS {name}"
        for name in (
            "audit_records_no_update",
            "audit_records_no_delete",
            "audit_checkpoints_no_update",
            "audit_checkpoints_no_delete",
        )
    ]


def create_tables(op: Any) -> None:
    """A migration's upgrade: the audit tables, their indexes and their triggers (``op`` is
    Alembic's)."""
    bind = op.get_bind()
    for table in (audit_records, audit_checkpoints):
        table.create(bind)
    for statement in protection_statements(bind.dialect.name):
        op.execute(sa.text(statement))


def drop_tables(op: Any) -> None:
    bind = op.get_bind()
    for statement in unprotection_statements(bind.dialect.name):
        op.execute(sa.text(statement))
    for table in (audit_checkpoints, audit_records):
        table.drop(bind)


def record_changes(
    fields: Sequence[str], before: Any, after: Any, *, personal: Iterable[str] = ()
) -> tuple[dict[str, Any], ...]:
    """``change`` for each of ``fields`` that differs between two objects (or mappings)."""

    def value(source: Any, name: str) -> Any:
        if source is None:
            return None
        return source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)

    out = []
    for name in fields:
        old, new = value(before, name), value(after, name)
        if old != new:
            out.append(change(name, old, new, personal=personal))
    return tuple(out)


# --- what a use case changed (the hook in ``kit.usecase.UseCases.execute``) ------------------

#: at most this many ``{field, before, after}`` per record, and this many characters a value
MAX_CHANGES = 100
MAX_VALUE = 500
#: objects whose changes one record follows (an import of thousands is not itemised)
MAX_TRACKED = 50
#: attributes naming the organization an object belongs to, most telling first: its federation
#: line is the record's ``scope_path``
OWNER_ATTRIBUTES = ("purchaser_id", "owner_id", "host_id", "organization_id", "federation_id")


class _Plain(tuple):  # type: ignore[type-arg]
    """Changes already in their recorded form (``_changes`` made them): not converted again."""


@functools.lru_cache(maxsize=512)
def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _short(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is str:  # most columns: no conversion to make
        return value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + "…"
    value = plain(value)
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[:MAX_VALUE] + "…"
    if isinstance(value, list | dict) and len(json.dumps(value, ensure_ascii=False)) > MAX_VALUE:
        return json.dumps(value, ensure_ascii=False)[:MAX_VALUE] + "…"
    return value


def _object_changes(instance: Any, state: Any, kind: str) -> list[tuple[str, Any, Any]]:
    """(field, before, after) of one flushed object's columns: all that are set of a new one,
    those that changed of a changed one (only they have a committed state)."""
    if kind == "deleted":
        return [("deleted", False, True)]
    columns = state.mapper.column_attrs
    out: list[tuple[str, Any, Any]] = []
    if kind == "new":
        for attribute in columns:
            value = state.dict.get(attribute.key)
            if value is not None:
                out.append((attribute.key, None, value))
        return out
    for key in list(state.committed_state):
        if key not in columns:
            continue  # a relationship: its objects are tracked on their own
        history = state.attrs[key].history
        if history.added or history.deleted:
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                out.append((key, before, after))
    return out


def track_changes(sessions: Any) -> None:
    """Remember, before each flush of a session from ``sessions``, what every added, changed
    or deleted object's columns were and became (``session.info["audit_changes"]``: object ->
    {field: [before, after]}, the first before and the last after kept across flushes)."""
    from sqlalchemy import event, inspect

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        tracked = session.info.setdefault("audit_changes", {})
        for kind, instances in (
            ("new", session.new),
            ("dirty", session.dirty),
            ("deleted", session.deleted),
        ):
            for instance in instances:
                if len(tracked) >= MAX_TRACKED and id(instance) not in tracked:
                    return  # a bulk act: its first objects say what it was
                state = inspect(instance)
                found = _object_changes(instance, state, kind)
                if not found:
                    continue
                slot = tracked.setdefault(id(instance), (instance, {}))[1]
                for key, before, after in found:
                    if key in slot:
                        slot[key][1] = after
                    else:
                        slot[key] = [before, after]

    event.listen(sessions, "before_flush", before_flush)


def declare(uow: Any, entry: AuditEntry) -> None:
    """Say what the act is instead of letting the hook guess it (a read of personal data in
    clear, an export): the unit of work records these and nothing else."""
    declared = getattr(uow, "audit_declared", None)
    if declared is None:
        declared = []
        uow.audit_declared = declared
    declared.append(entry)


def _identity(value: Any) -> tuple[str | None, str | None]:
    """(object_type, object_id) of a use case's answer, if it names one object."""
    if isinstance(value, list | tuple) and value:
        return _identity(value[0])
    if isinstance(value, Mapping):
        found = value.get("id")
        return None, (str(found) if found is not None else None)
    found = getattr(value, "id", None)
    if found is None or isinstance(value, type):
        return None, None
    return snake(type(value).__name__), str(found)


def _from_command(command: Any) -> tuple[str | None, str | None]:
    fields = getattr(command, "__dataclass_fields__", {})
    for name in fields:
        if name.endswith("_id"):
            value = getattr(command, name, None)
            if value is not None:
                return name[:-3], str(value)
    return None, None


def _masked(object_type: str, name: str, personal: frozenset[str]) -> bool:
    return name in PERSONAL_FIELDS or name in personal or f"{object_type}.{name}" in personal


def _changes(
    tracked: Mapping[int, tuple[Any, dict[str, list[Any]]]],
    main: Any,
    personal: frozenset[str],
) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    for instance, fields in tracked.values():
        kind = snake(type(instance).__name__)
        prefix = "" if instance is main else f"{kind}:{getattr(instance, 'id', '?')}."
        for name, (before, after) in fields.items():
            if _masked(kind, name, personal):
                before = MASKED if before not in (None, "") else before
                after = MASKED if after not in (None, "") else after
            out.append({"field": prefix + name, "before": _short(before), "after": _short(after)})
            if len(out) >= MAX_CHANGES:
                return _Plain(out)
    return _Plain(out)


def entry_for(
    use_case: Any,
    command: Any,
    result: Any,
    tracked: Mapping[int, tuple[Any, dict[str, list[Any]]]],
    *,
    personal: frozenset[str] = frozenset(),
) -> tuple[AuditEntry, Any]:
    """The record of a use case run (action: its name), and the object it names: the one it
    answered with, else the first it wrote, else the one its command names by id."""
    object_type, object_id = _identity(result)
    main = None
    for instance, _fields in tracked.values():
        if object_id is None or str(getattr(instance, "id", "")) == object_id:
            main = instance
            break
    if main is not None:
        object_type = snake(type(main).__name__)
        object_id = str(getattr(main, "id", None) or object_id or "") or None
    if object_type is None:
        object_type, fallback_id = _from_command(command)
        object_id = object_id or fallback_id
    entry = AuditEntry(
        action=name_of(use_case),
        object_type=object_type or "unknown",
        object_id=object_id,
        changes=_changes(tracked, main, personal),
    )
    return entry, main if main is not None else result


def _path_in(context: Any, organization_id: Any) -> str | None:
    if not organization_id:
        return None
    remembered = getattr(context, "entry", None)  # a context that remembers directory rows
    if callable(remembered):
        entry = remembered(str(organization_id))
        return entry.get("path") if entry else None
    directory = getattr(context, "directory", None)
    if directory is not None:
        entry = directory.get(str(organization_id))
        return entry.get("path") if entry else None
    organizations = getattr(context, "organizations", None)  # the registry's own
    if organizations is not None:
        found = organizations.find(str(organization_id))
        return getattr(found, "path", None)
    return None


def scope_of(context: Any, subject: Any, actor: Mapping[str, Any] | None) -> str | None:
    """The federation line a record belongs to: the object's own path (an organization), else
    that of the organization it belongs to, else that of the actor's organization; None is
    platform-wide."""
    candidates: list[Any] = [subject]
    if isinstance(subject, list | tuple):
        candidates = list(subject[:1])
    for item in candidates:
        path = item.get("path") if isinstance(item, Mapping) else getattr(item, "path", None)
        if isinstance(path, str) and path.startswith("/"):
            return path
        for name in OWNER_ATTRIBUTES:
            owner = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
            if owner:
                found = _path_in(context, owner)
                if found:
                    return found
    return _path_in(context, (actor or {}).get("organization_id"))


def record_act(
    uow: Any,
    context: Any,
    actor: Mapping[str, Any] | None,
    use_case: Any,
    command: Any,
    result: Any,
    *,
    personal: frozenset[str] = frozenset(),
    unless_unchanged: bool = False,
) -> list[dict[str, Any]]:
    """Append the record(s) of a use case that ran in ``uow`` (before its commit): the entries
    it declared, else one for the act as the session saw it. Nothing when the unit of work
    says the trail is off (the benchmark's switch), nor, with ``unless_unchanged``, when the
    act changed nothing (the platform's own periodic checks: a check every five minutes that
    found nothing to do is not an act anybody needs to answer for)."""
    if not getattr(uow, "audit_enabled", True):
        return []
    at = context.clock.now()
    declared = getattr(uow, "audit_declared", None)
    if declared:
        uow.audit_declared = []
        return [uow.audit(actor, entry, at) for entry in declared]
    tracked = uow.audit_changes()
    if unless_unchanged and not tracked:
        return []
    entry, subject = entry_for(use_case, command, result, tracked, personal=personal)
    entry = AuditEntry(
        entry.action,
        entry.object_type,
        entry.object_id,
        changes=entry.changes,
        scope_path=scope_of(context, subject, actor),
    )
    return [uow.audit(actor, entry, at)]


#: kinds of ``ServiceError`` recorded as a ``denied`` act
DENIALS = ("not_found", "forbidden")


def name_of(use_case: Any) -> str:
    return str(getattr(use_case, "__name__", use_case))


def record_denial(
    uow: Any,
    context: Any,
    actor: Mapping[str, Any] | None,
    use_case: Any,
    command: Any,
    exc: Any,
) -> dict[str, Any]:
    """The ``denied`` record of a use case refused with ``exc`` (in a unit of work of its own:
    the act's was rolled back)."""
    object_type, object_id = _from_command(command)
    entry = AuditEntry(
        action=name_of(use_case),
        object_type=object_type or "unknown",
        object_id=object_id,
        outcome="denied",
        changes=({"field": "refusal", "before": None, "after": str(getattr(exc, "code", exc))},),
        scope_path=_path_in(context, (actor or {}).get("organization_id")),
    )
    return uow.audit(actor, entry, context.clock.now())


# --- searching (the auditor's RPCs) ----------------------------------------------------------

#: what ``audit_search`` filters on; ``since``/``until`` are ISO 8601 moments (until exclusive)
SEARCH_FILTERS = (
    "user_id",
    "username",
    "object_type",
    "object_id",
    "action",
    "outcome",
    "since",
    "until",
    "cursor",
    "limit",
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
AUDITOR_ROLE = "auditor"


def _moment(filters: Mapping[str, Any], name: str) -> datetime | None:
    value = filters.get(name)
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} is not an ISO 8601 moment", field=name, rule="iso_datetime"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _whole(filters: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = filters.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} is not a whole number", field=name, rule="integer") from None
    if number < 1:
        raise InvalidInput(f"{name} must be at least 1", field=name, rule="min")
    return number


def reads_platform_wide(scope_path: str | None) -> bool:
    """Whether the auditor of ``scope_path`` also reads the platform-wide records (those
    without a line: admins' and ops' acts, requests refused before anybody was known): the
    auditor of a federation at the top of the hierarchy (``/<id>/``) does. One rule for the
    gateway's log and the services'."""
    return scope_path is not None and scope_path.count("/") == 2


def search_statement(
    filters: Mapping[str, Any], scope_path: str | None, *, platform_wide: bool = False
) -> Any:
    """The query ``search`` runs: newest first, ``cursor`` = the seq to read below.

    ``scope_path``: the reader's subtree (records whose object lies under it), with the
    platform-wide records (``scope_path`` None) too when ``platform_wide``; None reads the
    whole log, platform-wide records included."""
    unknown = sorted(set(filters) - set(SEARCH_FILTERS))
    if unknown:
        raise InvalidInput(f"unknown filter {unknown[0]!r}", field=unknown[0], rule="unknown")
    table = audit_records
    limit = min(_whole(filters, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    statement = sa.select(table).order_by(table.c.seq.desc()).limit(limit + 1)
    for name in ("user_id", "username", "object_type", "object_id", "action", "outcome"):
        value = filters.get(name)
        if value not in (None, ""):
            statement = statement.where(table.c[name] == str(value))
    since, until = _moment(filters, "since"), _moment(filters, "until")
    if since is not None:
        statement = statement.where(table.c.at >= since)
    if until is not None:
        statement = statement.where(table.c.at < until)
    cursor = _whole(filters, "cursor", None)
    if cursor is not None:
        statement = statement.where(table.c.seq < cursor)
    if scope_path is not None:
        escaped = scope_path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        mine = table.c.scope_path.like(f"{escaped}%", escape="\\")
        statement = statement.where(
            sa.or_(mine, table.c.scope_path.is_(None)) if platform_wide else mine
        )
    return statement, limit


def dump_record(row: Any) -> dict[str, Any]:
    record = dict(row)
    record["at"] = _stamp(record["at"])
    return record


def search(
    connection: Any,
    filters: Mapping[str, Any],
    *,
    scope_path: str | None,
    platform_wide: bool = False,
) -> dict[str, Any]:
    """A page of records, newest first: ``{items, next_cursor}``."""
    statement, limit = search_statement(filters, scope_path, platform_wide=platform_wide)
    rows = [dump_record(row) for row in _connection(connection).execute(statement).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": str(rows[-1]["seq"]) if more else None}


def auditor_only(actor: Any) -> None:
    role = actor.get("role") if isinstance(actor, Mapping) else None
    if role != AUDITOR_ROLE:
        error = Forbidden("only auditors read the audit trail", role=role)
        error.code = "ROLE_NOT_ALLOWED"
        raise error


class AuditDesk:
    """Mixed into a service (like ``kit.operations.Operations``): the auditor's RPCs over the
    service's own log.

    The auditor reads the records of her organization's subtree: its materialised path comes
    from the service's copy of the organizations (``audit_directory_table``: a table with
    ``id`` and ``path``; the registry names its own ``organizations``). The auditor of a
    federation at the top of the hierarchy also reads the platform-wide records
    (``reads_platform_wide``), as in the gateway's log. An auditor belongs to a federation
    (the gateway creates no other): one without an organization is refused.
    """

    db: Any
    audit_directory_table = "directory_organizations"

    def audit_scope_of(self, uow: Any, organization_id: str) -> str | None:
        """The materialised path of ``organization_id`` (None when unknown)."""
        directory = sa.table(self.audit_directory_table, sa.column("id"), sa.column("path"))
        return uow.session.execute(
            sa.select(directory.c.path).where(directory.c.id == str(organization_id))
        ).scalar()

    def _auditor_scope(self, uow: Any, actor: Mapping[str, Any]) -> str | None:
        organization_id = actor.get("organization_id")
        path = self.audit_scope_of(uow, str(organization_id)) if organization_id else None
        if path is None:
            error = Forbidden("the auditor's organization is not known here")
            error.code = "AUDITOR_SCOPE_UNKNOWN"
            raise error
        return path

    @rpc
    def audit_search(self, actor: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
        """Records of this service's log under the auditor's subtree, newest first; filters:
        ``SEARCH_FILTERS``."""
        auditor_only(actor)
        if not isinstance(filters, Mapping):
            raise InvalidInput("filters must be an object", field="filters", rule="object")
        with self.db(readonly=True) as uow:
            scope = self._auditor_scope(uow, actor)
            return search(
                uow.session, filters, scope_path=scope, platform_wide=reads_platform_wide(scope)
            )

    @rpc
    def audit_verify(self, actor: dict[str, Any]) -> dict[str, Any]:
        """The whole log's chain checked: ``VerifyResult`` as a mapping."""
        auditor_only(actor)
        # a transaction of its own: PostgreSQL streams the log through a server-side cursor
        with self.db.begin(write=False) as connection:
            return verify(connection).to_dict()


__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "GENESIS",
    "MASKED",
    "AuditDesk",
    "AuditEntry",
    "VerifyResult",
    "append",
    "audit_checkpoints",
    "audit_key",
    "audit_records",
    "build_record",
    "canonical",
    "change",
    "create_tables",
    "declare",
    "drop_tables",
    "head",
    "metadata",
    "prune",
    "reads_platform_wide",
    "record_act",
    "record_changes",
    "record_hash",
    "search",
    "track_changes",
    "verify",
]
