"""Notifications: the consumers that make them from events, and each user's own list.

The consumers are thin: the idempotent consumer (``kit.consumer.on_event``) claims the event
in ``inbox`` and opens the unit of work, ``gateway.notices`` says who is told what, and the
notices (and their pending e-mail deliveries) commit with the claim, so a redelivered event
makes no second notice. Mail goes out afterwards (``gateway.mail``).

A user reaches only her own notifications: another's is a 404, as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from gateway import notices
from gateway.errors import NotFound, ValidationFailed
from gateway.http import SIGNED_IN, Call, api
from gateway.noticestore import InboxOfUser, SqlNoticeStore, get_email, set_email
from gateway.schemas import (
    EmailIn,
    EmailOut,
    MarkedReadOut,
    NotificationOut,
    NotificationPage,
    NotificationQuery,
    UnreadCountOut,
)
from kit.clock import utcnow
from kit.consumer import on_event
from kit.db import UnitOfWork
from kit.paging import page, page_request

NOTICE = NotificationOut()
TAG = "Notifications"


class NoticeConsumers:
    """One idempotent consumer per event that calls for a notice (``notices.DRAFTS``)."""

    def _notify(self, event_type: str, event: dict[str, Any], uow: UnitOfWork) -> None:
        assert uow.session is not None
        notices.record_notices(
            SqlNoticeStore(uow.session),
            event_type,
            event,
            utcnow(),
            email=self.mail is not None,  # type: ignore[attr-defined]
        )

    @on_event("projects", "milestone_due")
    def notify_milestone_due(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self._notify("milestone_due", event, uow)

    @on_event("projects", "milestone_overdue")
    def notify_milestone_overdue(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self._notify("milestone_overdue", event, uow)

    @on_event("projects", "report_awaiting_decision")
    def notify_report_awaiting_decision(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self._notify("report_awaiting_decision", event, uow)

    @on_event("projects", "milestone_rejected")
    def notify_milestone_rejected(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self._notify("milestone_rejected", event, uow)

    @on_event("funding", "disbursement_requested")
    def notify_disbursement_requested(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self._notify("disbursement_requested", event, uow)

    @on_event("volunteers", "hours_awaiting_verification")
    def notify_hours_awaiting_verification(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self._notify("hours_awaiting_verification", event, uow)


class NoticesRoutes(NoticeConsumers):
    @api(
        "GET",
        "/notifications",
        summary="List your notifications",
        tag=TAG,
        roles=SIGNED_IN,
        query=NotificationQuery,
        response=NotificationPage,
    )
    def list_notifications(self, call: Call) -> Any:
        """Yours only, newest first; `unread=true` for the ones not read yet."""
        try:
            query = NotificationQuery().load(call.query)
        except ValidationError as exc:
            raise ValidationFailed(
                "the query does not match the schema", fields=exc.messages
            ) from None
        request = page_request(query.get("limit"), query.get("cursor"), arity=2)
        assert call.actor is not None
        with self.db(readonly=True) as uow:  # type: ignore[attr-defined]
            mine = InboxOfUser(uow.session, call.actor.user_id)
            items = mine.list(request.limit, request.after, unread=query["unread"])
            total = mine.count(unread=query["unread"])
            result = page(
                items, request, key_of=lambda n: (n.created_at.isoformat(), n.id), total=total
            )
            result["items"] = [NOTICE.dump(n) for n in result["items"]]
        return result

    @api(
        "GET",
        "/notifications/unread-count",
        summary="How many of your notifications are unread",
        tag=TAG,
        roles=SIGNED_IN,
        response=UnreadCountOut,
    )
    def count_unread_notifications(self, call: Call) -> Any:
        """One small answer, for the console's bell to poll."""
        assert call.actor is not None
        with self.db(readonly=True) as uow:  # type: ignore[attr-defined]
            return {"unread": InboxOfUser(uow.session, call.actor.user_id).count(unread=True)}

    @api(
        "POST",
        "/notifications/{notification_id}/read",
        summary="Mark one of your notifications read",
        tag=TAG,
        roles=SIGNED_IN,
        response=NotificationOut,
    )
    def read_notification(self, call: Call) -> Any:
        """Marking it again keeps the time it was first read. Another user's is a 404."""
        assert call.actor is not None
        with self.db() as uow:  # type: ignore[attr-defined]
            notice = InboxOfUser(uow.session, call.actor.user_id).mark_read(
                call.path["notification_id"], utcnow()
            )
            if notice is None:
                raise NotFound("you have no such notification", code="NOTIFICATION_NOT_FOUND")
            uow.commit()
        return NOTICE.dump(notice)

    @api(
        "POST",
        "/notifications/read-all",
        summary="Mark all your notifications read",
        tag=TAG,
        roles=SIGNED_IN,
        response=MarkedReadOut,
    )
    def read_all_notifications(self, call: Call) -> Any:
        assert call.actor is not None
        with self.db() as uow:  # type: ignore[attr-defined]
            marked = InboxOfUser(uow.session, call.actor.user_id).mark_all_read(utcnow())
            uow.commit()
        return {"marked": marked}

    @api(
        "GET",
        "/users/me/email",
        summary="Your e-mail address for notifications",
        tag=TAG,
        roles=SIGNED_IN,
        response=EmailOut,
    )
    def my_email(self, call: Call) -> Any:
        assert call.actor is not None
        with self.db(readonly=True) as uow:  # type: ignore[attr-defined]
            found, email = get_email(uow.session, call.actor.user_id)
        if not found:
            raise NotFound("your user no longer exists", code="USER_NOT_FOUND")
        return {"email": email}

    @api(
        "PUT",
        "/users/me/email",
        summary="Set your e-mail address for notifications",
        tag=TAG,
        roles=SIGNED_IN,
        body=EmailIn,
        response=EmailOut,
        validate_body=True,
    )
    def set_my_email(self, call: Call) -> Any:
        """Notifications are also mailed there when the platform has an SMTP relay; `null`
        stops them. Only notifications made after the change are mailed to it."""
        assert call.actor is not None and call.body is not None
        email = call.body["email"]
        with self.db() as uow:  # type: ignore[attr-defined]
            if not set_email(uow.session, call.actor.user_id, email):
                raise NotFound("your user no longer exists", code="USER_NOT_FOUND")
            uow.commit()
        return {"email": email}
