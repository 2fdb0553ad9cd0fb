"""In-memory stand-ins for what a use case's context holds, shared by every service's fakes.

cosmicpython's FakeUnitOfWork is the model: the fake commits by remembering, and a test reads
what the use case left — state in the fake repositories, events in ``uow.events`` — in
milliseconds, without a database or a broker. Each service's own fake repository lives in
``tests/unit/fakes/<service>.py``; the rules it stands in for are the real repository's, and
the integration tests keep checking the real one.
"""

from __future__ import annotations

from typing import Any

from kit import audit
from kit.aggregate import Aggregate, DomainEvent
from language import events as catalogue
from language.directory import path_of


class FakeUnitOfWork:
    """Stages events as the real unit of work does, and at ``commit`` checks each against the
    event catalogue (as the outbox write would) and keeps it in ``events``."""

    def __init__(self, service: str, *, readonly: bool = False) -> None:
        self.service = service
        self.readonly = readonly
        self.session = None
        self.committed = False
        #: the bodies committed so far, and their types, in order
        self.events: list[dict[str, Any]] = []
        self.event_types: list[str] = []
        self._staged: list[DomainEvent] = []
        #: aggregates the fake repositories hand out: their recorded events are pulled at commit
        self.seen: list[Aggregate] = []
        #: the audit records this unit of work appended (chained as ``kit.audit`` chains them;
        #: kept when it commits, as the real log keeps them with the act)
        self.records: list[dict[str, Any]] = []
        self.audit_declared: list[audit.AuditEntry] = []
        self.audit_enabled = True
        #: what the fake repositories say changed, per object (``kit.audit.track_changes``
        #: shape); fakes have no flush, so most acts are recorded without field changes
        self.tracked: dict[int, Any] = {}

    def audit_changes(self) -> dict[int, Any]:
        tracked, self.tracked = self.tracked, {}
        return tracked

    def audit(self, actor: Any, entry: audit.AuditEntry, at: Any) -> dict[str, Any]:
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot write the audit trail")
        last = self.records[-1] if self.records else None
        record = audit.build_record(
            actor,
            entry,
            at,
            seq=last["seq"] + 1 if last else 1,
            prev_hash=last["hash"] if last else audit.GENESIS,
        )
        self.records.append(record)
        return record

    def emit(self, event_type: str, **data: Any) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot emit events")
        self._staged.append(DomainEvent(event_type, data))

    def track(self, aggregate: Any) -> Any:
        if isinstance(aggregate, Aggregate) and all(aggregate is not x for x in self.seen):
            self.seen.append(aggregate)
        return aggregate

    def commit(self) -> list[dict[str, Any]]:
        if self.readonly:
            raise RuntimeError("a read-only unit of work does not commit")
        pending = self._staged + [event for item in self.seen for event in item.pull_events()]
        self._staged = []
        pending.sort(key=lambda event: event.seq)
        bodies = [catalogue.outgoing(self.service, event.name, event.data) for event in pending]
        self.events.extend(bodies)
        self.event_types.extend(event.name for event in pending)
        self.committed = True
        return bodies

    def rollback(self) -> None:
        self._staged = []


class FakeDirectory:
    """The organization directory copy as a dict: ``add`` places an organization under its
    parent (the materialised path is built as the real copy builds it)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def add(
        self,
        organization_id: str,
        *,
        kind: str = "federation",
        parent_id: str | None = None,
        status: str = "verified",
        name: str | None = None,
        **more: Any,
    ) -> dict[str, Any]:
        parent_path = self.entries[parent_id]["path"] if parent_id else None
        entry = {
            "id": organization_id,
            "kind": kind,
            "name": name or organization_id,
            "parent_id": parent_id,
            "path": path_of(organization_id, parent_path),
            "status": status,
            "details_version": 1,
            **more,
        }
        self.entries[organization_id] = entry
        return entry

    def get(self, organization_id: str) -> dict[str, Any] | None:
        entry = self.entries.get(str(organization_id))
        return dict(entry) if entry is not None else None

    def many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: dict(self.entries[i]) for i in set(ids) if i in self.entries}


class FakeSentNotices:
    """``kit.schedule.SentNotices`` in a dict: a second mark of the same notice fails, as the
    table's primary key does (and the unit of work with it)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], str] = {}

    def sent(self, kind: str, subject_ids: Any) -> set[tuple[str, str]]:
        wanted = {str(i) for i in subject_ids}
        return {(s, n) for (k, s, n) in self.rows if k == kind and s in wanted}

    def mark(self, kind: str, subject_id: str, notice: str, event_id: str, at: Any) -> None:
        key = (kind, str(subject_id), notice)
        if key in self.rows:
            raise AssertionError(f"notice {key} sent twice")
        self.rows[key] = event_id
