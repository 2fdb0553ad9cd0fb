"""The audit trail, for auditors only (三员分立): search the five logs, one record, a CSV of a
search, each log's chain. No route creates, changes or deletes a record; an admin reads none.

The auditor reads the records of her federation's subtree: each service scopes its own log
(``kit.audit.AuditDesk``); the gateway's log is scoped here by her organization's path (and
the auditor of a federation at the top of the hierarchy also reads the platform-wide records:
admins' and ops' logins, requests refused before anybody was known).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from nameko.exceptions import MethodNotFound
from werkzeug.wrappers import Request

from gateway import audit, exports
from gateway.auditsearch import LOGS, LogUnavailable, every_record, merged_page, record_key
from gateway.errors import (
    BrokerUnavailable,
    Forbidden,
    NotFound,
    ServiceTimeout,
    ServiceUnavailable,
)
from gateway.http import Call, api
from gateway.schemas import Strict
from gateway.store import UserStore
from kit import audit as trail
from kit.audit import AuditEntry
from kit.clock import utcnow
from kit.fields import Text
from language.actor import SYSTEM, Actor

AUDITORS = ("auditor",)
#: a chain's check reads the whole log: longer than an ordinary call may take
VERIFY_TIMEOUT = 60.0
OUTCOMES = ("ok", "denied", "failed")

#: the CSV's columns: (header, the record's field)
CSV_COLUMNS = (
    ("时间（UTC）", "at"),
    ("日志", "log"),
    ("序号", "seq"),
    ("用户名", "username"),
    ("用户ID", "user_id"),
    ("角色", "role"),
    ("所属组织ID", "organization_id"),
    ("客户端地址", "client_address"),
    ("请求ID", "request_id"),
    ("操作", "action"),
    ("对象类型", "object_type"),
    ("对象ID", "object_id"),
    ("结果", "outcome"),
    ("变更内容", "changes"),
    ("记录ID", "record_id"),
    ("哈希", "hash"),
)


class AuditFilters(Strict):
    log = fields.String(validate=validate.OneOf(LOGS))
    user_id = Text(validate=validate.Length(max=36))
    username = Text(validate=validate.Length(max=150))
    object_type = Text(validate=validate.Length(max=64))
    object_id = Text(validate=validate.Length(max=64))
    action = Text(validate=validate.Length(max=64))
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    since = fields.AwareDateTime(metadata={"description": "from this moment (ISO 8601)"})
    until = fields.AwareDateTime(metadata={"description": "before this moment (ISO 8601)"})


class AuditQuery(AuditFilters):
    limit = fields.Integer(validate=validate.Range(min=1, max=200))
    cursor = fields.String()


class Change(Schema):
    field = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class AuditRecordOut(Schema):
    log = fields.String(
        metadata={"description": "gateway | registry | projects | funding | volunteers"}
    )
    seq = fields.Integer()
    record_id = fields.String()
    at = fields.String()
    user_id = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    organization_id = fields.String(allow_none=True)
    client_address = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String(allow_none=True)
    outcome = fields.String()
    changes = fields.List(fields.Nested(Change))
    scope_path = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class AuditRecordPage(Schema):
    items = fields.List(fields.Nested(AuditRecordOut))
    next_cursor = fields.String(allow_none=True)
    unavailable = fields.List(
        fields.String(),
        metadata={"description": "logs that did not answer: their records are missing"},
    )


class ChainOut(Schema):
    log = fields.String()
    ok = fields.Boolean(allow_none=True, metadata={"description": "null: the log did not answer"})
    records = fields.Integer(allow_none=True)
    first_broken_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    head_seq = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class ChainsOut(Schema):
    items = fields.List(fields.Nested(ChainOut))


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(f"{c.get('field')}: {c.get('before')} → {c.get('after')}" for c in value)
    return value


class AuditRoutes:
    # --- the gateway's own log -------------------------------------------------------------

    @audit.audit_timer()
    def keep_audit_log(self) -> None:
        """Anchor the gateway log's head in the projects service's chain; prune the log."""
        client = getattr(self, audit.ANCHORED_IN)

        def send(anchor: dict[str, Any]) -> None:
            client.call("record_gateway_anchor", SYSTEM.to_dict(), anchor)

        audit.keep_log(
            self.db,
            self.audit_keeper,
            send,
            now=utcnow(),
            options=audit.KeeperOptions.of(self.config),
            key=lambda: trail.audit_key(self.config),
        )

    def record_refusal(
        self, request: Request, actor: Actor | None, status: int, code: str, request_id: str
    ) -> None:
        """A request refused with 401 or 403: one record (``gateway.http`` calls this)."""
        from gateway.http import request_address

        origin = audit.Origin(request_address(self, request), request_id)
        scope = self._scope_of(actor.user_id) if actor is not None else None
        entry = audit.refusal(request.method, request.path, status, code, actor)
        entry = AuditEntry(**{**entry.__dict__, "scope_path": scope})
        audit.write_alone(self.db, audit.who(actor, origin), [entry])

    def _scope_of(self, user_id: str) -> str | None:
        with self.db(readonly=True) as uow:
            user = UserStore(uow.session).get(user_id)
        return user.scope_path if user else None

    def _search_gateway(self, actor: Actor, filters: dict[str, Any]) -> dict[str, Any]:
        scope = self._scope_of(actor.user_id)
        if scope is None:
            raise Forbidden(
                "the auditor's federation is not known to the gateway", code="AUDITOR_SCOPE_UNKNOWN"
            )
        with self.db(readonly=True) as uow:
            return trail.search(
                uow.session,
                filters,
                scope_path=scope,
                platform_wide=trail.reads_platform_wide(scope),
            )

    def _searcher(self, call: Call, *, tolerant: bool = False) -> Any:
        """Asks one log; ``tolerant``: a service that does not answer is left out of the
        page (and named), rather than failing the whole search."""
        actor = call.actor
        assert actor is not None
        mapping = actor.to_dict()

        def search(log: str, filters: dict[str, Any]) -> dict[str, Any]:
            if log == "gateway":
                return self._search_gateway(actor, filters)
            try:
                return getattr(self, log).call("audit_search", mapping, filters)
            except (ServiceUnavailable, ServiceTimeout, BrokerUnavailable):
                if tolerant:
                    raise LogUnavailable(log) from None
                raise
            except MethodNotFound:
                # a service not serving the audit yet (an older version)
                if tolerant:
                    raise LogUnavailable(log) from None
                raise

        return search

    def _filters(self, call: Call, schema: type[Schema]) -> tuple[dict[str, Any], tuple[str, ...]]:
        loaded = schema().load(call.query)
        logs = (loaded.pop("log"),) if loaded.get("log") else LOGS
        for name in ("since", "until"):
            if name in loaded:
                loaded[name] = loaded[name].isoformat()
        return loaded, logs

    @api(
        "GET",
        "/audit/records",
        summary="Search the audit trail",
        tag="Audit",
        roles=AUDITORS,
        query=AuditQuery,
        response=AuditRecordPage,
    )
    def audit_records(self, call: Call) -> Any:
        """The records of your federation's subtree in the gateway's log and the four
        services', newest first: who (`user_id` or `username`), what (`object_type`,
        `object_id`, `action`), `outcome`, the period [`since`, `until`), one `log`."""
        filters, logs = self._filters(call, AuditQuery)
        limit = filters.pop("limit", 50)
        cursor = filters.pop("cursor", None)
        search = self._searcher(call, tolerant=True)
        page = merged_page(search, filters, limit=limit, cursor=cursor, logs=logs)
        return AuditRecordPage().dump(
            {"items": page.items, "next_cursor": page.next_cursor, "unavailable": page.unavailable}
        )

    @api(
        "GET",
        "/audit/records/{log}/{seq}",
        summary="One audit record",
        tag="Audit",
        roles=AUDITORS,
        response=AuditRecordOut,
    )
    def audit_record(self, call: Call) -> Any:
        """A record by its log and seq, with what changed; another subtree's is a 404."""
        log, seq = record_key(call.path["log"], call.path["seq"])
        found = self._searcher(call)(log, {"cursor": seq + 1, "limit": 1})["items"]
        if not found or int(found[0]["seq"]) != seq:
            raise NotFound(f"no audit record {log}/{seq}", code="AUDIT_RECORD_NOT_FOUND")
        return AuditRecordOut().dump({**found[0], "log": log})

    @api(
        "GET",
        "/audit/records.csv",
        summary="A search of the audit trail as CSV",
        tag="Audit",
        roles=AUDITORS,
        query=AuditFilters,
    )
    def audit_records_csv(self, call: Call) -> Any:
        """Every record of the search (headers in Chinese), newest first, streamed a page at a
        time. The export is itself recorded (`audit_exported`, with its filters)."""
        filters, logs = self._filters(call, AuditFilters)
        search = self._searcher(call)
        rows_per_page = min(exports.page_rows(self.config), 500)
        first = merged_page(search, filters, limit=rows_per_page, logs=logs)  # refusals now
        entry = AuditEntry(
            action="audit_exported",
            object_type="audit_records",
            object_id=None,
            changes=tuple(
                {"field": name, "before": None, "after": value}
                for name, value in sorted({**filters, "log": ",".join(logs)}.items())
            ),
            scope_path=self._scope_of(call.actor.user_id),
        )
        audit.write_alone(self.db, call.actor.to_dict(), [entry], utcnow())

        def records() -> Any:
            yield from first.items
            if first.next_cursor:
                yield from every_record(
                    search, filters, page_rows=rows_per_page, logs=logs, cursor=first.next_cursor
                )

        rows = ([_text(record.get(name)) for _, name in CSV_COLUMNS] for record in records())
        return exports.csv_response([header for header, _ in CSV_COLUMNS], rows, "jinguo-audit.csv")

    @api(
        "GET",
        "/audit/chains",
        summary="Each audit log's chain checked",
        tag="Audit",
        roles=AUDITORS,
        response=ChainsOut,
    )
    def audit_chains(self, call: Call) -> Any:
        """Each of the five logs checked from its first record (or its signed checkpoint):
        `ok`, how many records, and the first broken record with the reason. A log that does
        not answer says so (`ok` null, `error`)."""
        mapping = call.actor.to_dict()
        chains = []
        with self.db(readonly=True) as uow:
            chains.append({"log": "gateway", **trail.verify(uow.session).to_dict()})
        for log in LOGS[1:]:
            try:
                result = getattr(self, log).call("audit_verify", mapping, timeout=VERIFY_TIMEOUT)
                chains.append({"log": log, **result})
            except Exception as exc:  # noqa: BLE001 - one log down does not hide the others
                chains.append(
                    {"log": log, "ok": None, "error": getattr(exc, "code", type(exc).__name__)}
                )
        return ChainsOut().dump({"items": chains})
