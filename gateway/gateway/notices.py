"""Notifications: who is told what, for each event that calls for a notice. Plain Python.

An event names organizations (the contractor, the purchaser, the funding source's owner) or
a user (a team's leader); the gateway keeps the accounts, so it turns those into people: an
``Audience`` is "the active users of this role in this organization", or "this user". Each
person gets one notice per event, whichever audiences she is in, with a Chinese title and
body and the console's route of the object it is about.

Producers are being extended while this runs: an event may lack an optional field
(``milestone_rejected`` without ``contractor_id``, ``disbursement_requested`` without
``owner_id``); its audience is then skipped and the skip logged, and the event is done with.

``record_notices`` writes the notices through a ``NoticeStore`` (SQL in
``gateway.noticestore``, an in-memory one in the unit tests) with a pending e-mail delivery
for each recipient who has an address, when e-mail is on; the mail relay (``gateway.mail``)
sends those after the transaction committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: the channel of the deliveries besides the app (one so far)
EMAIL = "email"
#: a read notice is kept this many days (``NOTICE_RETENTION_DAYS``), then purged
RETENTION_DAYS = 180
#: how often the purge runs (``NOTICE_PURGE_SECONDS``)
PURGE_EVERY_SECONDS = 3600.0
#: the states of a delivery that is done with (no attempt follows)
FINISHED = ("sent", "failed")


@dataclass(frozen=True)
class Audience:
    """The active users of ``role`` in ``organization_id``, or the one user ``user_id``."""

    role: str | None = None
    organization_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Recipient:
    id: str
    email: str | None = None


@dataclass(frozen=True)
class Draft:
    """What an event says to its audiences."""

    kind: str
    title: str
    body: str
    link: str | None
    audiences: tuple[Audience, ...]
    #: who should have been told but cannot be named (a field the event lacks)
    unresolved: tuple[str, ...] = ()


@dataclass
class Notice:
    user_id: str
    kind: str
    title: str
    body: str
    link: str | None
    event_id: str
    created_at: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    read_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    notification_id: str
    channel: str
    address: str
    next_attempt_at: datetime


@dataclass(frozen=True)
class Retention:
    """How long notices and deliveries are kept: a notice read and older than ``days`` goes,
    with its deliveries; a finished (sent or failed) delivery older than ``days`` goes. An
    unread notice stays, however old; so does a delivery still pending."""

    days: int = RETENTION_DAYS
    every_seconds: float = PURGE_EVERY_SECONDS

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Retention:
        days = int(config.get("NOTICE_RETENTION_DAYS") or RETENTION_DAYS)
        every = float(config.get("NOTICE_PURGE_SECONDS") or PURGE_EVERY_SECONDS)
        if days < 1 or every <= 0:
            raise ValueError("NOTICE_RETENTION_DAYS must be >= 1 and NOTICE_PURGE_SECONDS > 0")
        return cls(days=days, every_seconds=every)

    def cutoff(self, now: datetime) -> datetime:
        """What was created before this moment is old enough to go."""
        return now - timedelta(days=self.days)

    def notice_expired(self, notice: Notice, now: datetime) -> bool:
        return notice.read_at is not None and notice.created_at < self.cutoff(now)

    def delivery_expired(self, status: str, created_at: datetime, now: datetime) -> bool:
        return status in FINISHED and created_at < self.cutoff(now)


class NoticeStore(Protocol):
    def recipients(self, audience: Audience) -> list[Recipient]: ...

    def add(self, notices: list[Notice], deliveries: list[Delivery]) -> None: ...


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _day(value: Any) -> str:
    """A date as the console writes it (``2026-03-28``)."""
    if isinstance(value, date):
        return value.isoformat()
    return _text(value)


def yuan(fen: int) -> str:
    """Integer fen as the console writes money: ``¥12,345.67``."""
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _contract_link(event: dict[str, Any]) -> str:
    return f"/contracts/{event['contract_id']}"


def _contractor(event: dict[str, Any]) -> tuple[tuple[Audience, ...], tuple[str, ...]]:
    contractor = event.get("contractor_id")
    if contractor is None:
        return (), ("contractor_id",)
    return (Audience(role="contractor", organization_id=str(contractor)),), ()


def _milestone_due(event: dict[str, Any]) -> Draft:
    title, due_on = _text(event["title"]), _day(event["due_on"])
    audiences, unresolved = _contractor(event)
    if event["notice"] == "due_today":
        heading = "里程碑今天到期"
        body = f"里程碑「{title}」今天（{due_on}）到期，请尽快提交阶段报告。"
    else:
        heading = "里程碑 7 天后到期"
        body = f"里程碑「{title}」将于{due_on}到期，还有 7 天，请按时提交阶段报告。"
    return Draft("milestone_due", heading, body, _contract_link(event), audiences, unresolved)


def _milestone_overdue(event: dict[str, Any]) -> Draft:
    title, due_on = _text(event["title"]), _day(event["due_on"])
    contractor, unresolved = _contractor(event)
    staff = (Audience(role="federation_staff", organization_id=str(event["purchaser_id"])),)
    body = (
        f"里程碑「{title}」应于{due_on}完成，已逾期 {event['days_overdue']} 天，"
        "仍无验收通过的阶段报告。"
        "该合同未支付的拨付已暂停拨付，阶段报告验收通过后自动恢复。"
    )
    return Draft(
        "milestone_overdue",
        "里程碑已逾期",
        body,
        _contract_link(event),
        staff + contractor,
        unresolved,
    )


def _report_awaiting_decision(event: dict[str, Any]) -> Draft:
    title = _text(event["title"])
    waited = ""
    submitted, occurred = event.get("submitted_at"), event.get("occurred_at")
    if isinstance(submitted, datetime) and isinstance(occurred, datetime):
        waited = f"已等待 {max((occurred - submitted).days, 0)} 天，"
    body = f"里程碑「{title}」的阶段报告{waited}请尽快验收（验收通过或退回）。"
    staff = (Audience(role="federation_staff", organization_id=str(event["purchaser_id"])),)
    return Draft("report_awaiting_decision", "阶段报告待验收", body, _contract_link(event), staff)


def _milestone_rejected(event: dict[str, Any]) -> Draft:
    audiences, unresolved = _contractor(event)
    body = f"您提交的阶段报告被退回，原因：{_text(event['reason'])}。请修改后重新提交。"
    return Draft(
        "milestone_rejected",
        "阶段报告被退回",
        body,
        _contract_link(event),
        audiences,
        unresolved,
    )


def _disbursement_requested(event: dict[str, Any]) -> Draft:
    owner = event.get("owner_id")
    audiences: tuple[Audience, ...] = ()
    unresolved: tuple[str, ...] = ()
    if owner is None:
        unresolved = ("owner_id",)
    else:
        audiences = (Audience(role="finance_officer", organization_id=str(owner)),)
    body = f"一笔 {yuan(int(event['amount']))} 的拨付已申请，等待审批。"
    return Draft("disbursement_requested", "拨付待审批", body, "/approvals", audiences, unresolved)


def _hours_awaiting_verification(event: dict[str, Any]) -> Draft:
    body = f"您带领的服务队有 {event['entries']} 条服务时长记录等待核验。"
    leader = _text(event.get("leader_user_id"))
    audiences = (Audience(user_id=leader),) if leader else ()
    unresolved = () if leader else ("leader_user_id",)
    return Draft(
        "hours_awaiting_verification",
        "服务时长待核验",
        body,
        "/service-hours",
        audiences,
        unresolved,
    )


#: event type -> its source service and what it says to whom
DRAFTS: dict[str, tuple[str, Callable[[dict[str, Any]], Draft]]] = {
    "milestone_due": ("projects", _milestone_due),
    "milestone_overdue": ("projects", _milestone_overdue),
    "report_awaiting_decision": ("projects", _report_awaiting_decision),
    "milestone_rejected": ("projects", _milestone_rejected),
    "disbursement_requested": ("funding", _disbursement_requested),
    "hours_awaiting_verification": ("volunteers", _hours_awaiting_verification),
}


def draft(event_type: str, event: dict[str, Any]) -> Draft:
    """What ``event`` (loaded by the catalogue) says, and to whom."""
    return DRAFTS[event_type][1](event)


def resolve(store: NoticeStore, audiences: tuple[Audience, ...]) -> list[Recipient]:
    """The people of ``audiences``, each once, in the order first found."""
    seen: dict[str, Recipient] = {}
    for audience in audiences:
        for recipient in store.recipients(audience):
            seen.setdefault(recipient.id, recipient)
    return list(seen.values())


def record_notices(
    store: NoticeStore,
    event_type: str,
    event: dict[str, Any],
    now: datetime,
    *,
    email: bool = False,
) -> list[Notice]:
    """Write one notice per recipient of ``event`` (and, with ``email``, a pending e-mail
    delivery for each who has an address); return the notices written."""
    said = draft(event_type, event)
    event_id = str(event["event_id"])
    for missing in said.unresolved:
        log.warning(
            "%s %s has no %s: the notice it calls for reaches nobody there",
            event_type,
            event_id,
            missing,
        )
    recipients = resolve(store, said.audiences)
    if not recipients:
        log.info("%s %s: nobody to notify", event_type, event_id)
        return []
    notices = [
        Notice(r.id, said.kind, said.title, said.body, said.link, event_id, now) for r in recipients
    ]
    deliveries = [
        Delivery(notice.id, EMAIL, recipient.email, now)
        for notice, recipient in zip(notices, recipients, strict=True)
        if email and recipient.email
    ]
    store.add(notices, deliveries)
    return notices
