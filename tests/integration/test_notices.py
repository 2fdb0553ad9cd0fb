"""Notifications from events, against a real broker and SQLite and PostgreSQL: each event
reaches the right people once and nobody else, a redelivered event adds nothing, and e-mail
reaches a real SMTP server — later, when that server was down, the notice in the app being
there all along."""

import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.mail import MailRelay, MailRelayProvider, MailSettings
from gateway.models import notice_deliveries, notifications, users
from gateway.notices import Retention
from gateway.routes.notices import NoticeConsumers
from kit.clock import utcnow
from kit.config import load_config
from kit.db import DatabaseResource, create_engine
from kit.dependencies import Database
from kit.migrate import upgrade
from tests.support.events import publish_event
from tests.support.smtp import SmtpServer
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


class NoticeService(NoticeConsumers):
    """The gateway's notification consumers and mail relay, without its web routes."""

    name = "gateway"
    db = Database(outbox=False)
    mail = MailRelayProvider()


CONTRACTOR, OTHER_CONTRACTOR = str(uuid.uuid4()), str(uuid.uuid4())
CITY, OTHER_CITY = str(uuid.uuid4()), str(uuid.uuid4())
CONTRACT = str(uuid.uuid4())
#: username -> (role, organization, e-mail)
PEOPLE = {
    "contractor.a": ("contractor", CONTRACTOR, "a@contractor.test"),
    "contractor.b": ("contractor", CONTRACTOR, None),
    "contractor.other": ("contractor", OTHER_CONTRACTOR, "other@contractor.test"),
    "staff.city": ("federation_staff", CITY, "staff@city.test"),
    "staff.other": ("federation_staff", OTHER_CITY, None),
    "finance.city": ("finance_officer", CITY, None),
    "finance.other": ("finance_officer", OTHER_CITY, None),
    "leader": ("team_leader", None, None),
    "leader.other": ("team_leader", None, None),
}


@pytest.fixture
def gateway_db(database_url):
    upgrade("gateway", database_url)
    engine = create_engine(database_url, pool_size=2)
    ids = {}
    with engine.begin() as connection:
        for username, (role, organization, email) in PEOPLE.items():
            ids[username] = str(uuid.uuid4())
            connection.execute(
                sa.insert(users).values(
                    id=ids[username],
                    username=username,
                    password_hash="x",
                    role=role,
                    organization_id=organization,
                    email=email,
                    created_at=utcnow(),
                )
            )
    yield engine, ids
    engine.dispose()


def service_config(rabbit_config, database_url, **smtp):
    return load_config(
        ROOT / "gateway/config.yaml",
        AMQP_URI=rabbit_config["AMQP_URI"],
        DATABASE_URL=database_url,
        **smtp,
    )


def smtp_settings(server):
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": server.port,
        "SMTP_FROM": "noreply@jinguo.test",
        "SMTP_POLL_SECONDS": 0.2,
        "SMTP_RETRY_SECONDS": 0.5,
        "SMTP_TIMEOUT": 2,
        "CONSOLE_URL": "https://jinguo.test",
    }


def reminder(**extra):
    return {
        "contract_id": CONTRACT,
        "milestone_id": str(uuid.uuid4()),
        "project_id": str(uuid.uuid4()),
        "contractor_id": CONTRACTOR,
        "purchaser_id": CITY,
        "title": "第二期：技能培训",
        "due_on": "2027-03-08",
        **extra,
    }


def the_events():
    """(source, type, data) of every event that calls for a notice, with who must be told."""
    now = utcnow()
    return [
        (
            "projects",
            "milestone_due",
            reminder(notice="due_in_7_days"),
            {"contractor.a", "contractor.b"},
        ),
        (
            "projects",
            "milestone_overdue",
            reminder(days_overdue=31),
            {"contractor.a", "contractor.b", "staff.city"},
        ),
        (
            "projects",
            "report_awaiting_decision",
            reminder(report_id=str(uuid.uuid4()), submitted_at=now - timedelta(days=4)),
            {"staff.city"},
        ),
        (
            "projects",
            "milestone_rejected",
            {
                "contract_id": CONTRACT,
                "milestone_id": str(uuid.uuid4()),
                "project_id": str(uuid.uuid4()),
                "reason": "签到表缺页",
                "rejected_by": "s",
                "contractor_id": CONTRACTOR,
            },
            {"contractor.a", "contractor.b"},
        ),
        (
            "funding",
            "disbursement_requested",
            {
                "disbursement_id": str(uuid.uuid4()),
                "contract_id": CONTRACT,
                "milestone_id": str(uuid.uuid4()),
                "amount": 500_000,
                "payee_id": CONTRACTOR,
                "funding_source_id": str(uuid.uuid4()),
                "requested_by": "system",
                "owner_id": CITY,
            },
            {"finance.city"},
        ),
        (
            "volunteers",
            "hours_awaiting_verification",
            {
                "team_id": str(uuid.uuid4()),
                "leader_user_id": None,
                "entries": 2,
                "oldest_started_at": now - timedelta(days=1),
            },
            {"leader"},
        ),
    ]


def told(engine, ids):
    names = {v: k for k, v in ids.items()}
    with engine.connect() as connection:
        rows = connection.execute(sa.select(notifications.c.kind, notifications.c.user_id))
        found: dict[str, list[str]] = {}
        for kind, user_id in rows:
            found.setdefault(kind, []).append(names[user_id])
    return {kind: sorted(people) for kind, people in found.items()}


def test_each_event_tells_the_right_people_once_and_a_redelivery_adds_nothing(
    container_factory, rabbit_config, gateway_db, database_url
):
    engine, ids = gateway_db
    container_factory(NoticeService, service_config(rabbit_config, database_url)).start()
    expected = {}
    for source, event_type, data, people in the_events():
        if event_type == "hours_awaiting_verification":
            data["leader_user_id"] = ids["leader"]
        body = publish_event(rabbit_config["AMQP_URI"], source, event_type, data)
        # the same event again, as a redelivery or a republished outbox row would bring it
        publish_event(rabbit_config["AMQP_URI"], source, event_type, body)
        expected[event_type] = sorted(people)
    total = sum(len(people) for people in expected.values())

    def all_told():
        with engine.connect() as connection:
            return (
                connection.execute(
                    sa.select(sa.func.count()).select_from(notifications)
                ).scalar_one()
                >= total
            )

    wait_until(all_told, what="every notice written")
    # the duplicates were consumed too (their inbox claims found the first)
    wait_until(lambda: _inbox_count(engine) == len(expected), what="six events claimed")
    assert told(engine, ids) == expected
    with engine.connect() as connection:
        assert connection.execute(sa.select(notice_deliveries)).all() == []  # mail is off
        due = connection.execute(
            sa.select(notifications).where(notifications.c.kind == "milestone_due")
        ).first()
    assert due.title == "里程碑 7 天后到期" and due.link == f"/contracts/{CONTRACT}"
    assert due.read_at is None


def _inbox_count(engine):
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM inbox")).scalar_one()


def test_an_event_without_its_optional_field_is_consumed_and_tells_nobody(
    container_factory, rabbit_config, gateway_db, database_url
):
    engine, _ = gateway_db
    container_factory(NoticeService, service_config(rabbit_config, database_url)).start()
    publish_event(
        rabbit_config["AMQP_URI"],
        "projects",
        "milestone_rejected",
        {
            "contract_id": CONTRACT,
            "milestone_id": str(uuid.uuid4()),
            "project_id": str(uuid.uuid4()),
            "reason": "x",
            "rejected_by": "s",
        },
    )
    wait_until(lambda: _inbox_count(engine) == 1, what="the event consumed")
    assert told(engine, {}) == {}


def test_mail_reaches_the_smtp_server_after_the_notice(
    container_factory, rabbit_config, gateway_db, database_url, tmp_path
):
    engine, ids = gateway_db
    server = SmtpServer(tmp_path / "mail").start()
    try:
        config = service_config(rabbit_config, database_url, **smtp_settings(server))
        container_factory(NoticeService, config).start()
        publish_event(
            rabbit_config["AMQP_URI"], "projects", "milestone_due", reminder(notice="due_today")
        )
        wait_until(lambda: server.messages(), timeout=20, what="a mail at the SMTP server")
        wait_until(lambda: _statuses(engine) == ["sent"], what="the delivery marked sent")
        (mail,) = server.messages()  # contractor.b has no address: no mail for her
    finally:
        server.stop()
    assert mail["To"] == "a@contractor.test"
    assert mail["Subject"] == "【巾帼】里程碑今天到期"
    text = mail.get_content()
    assert "第二期：技能培训" in text and f"https://jinguo.test/contracts/{CONTRACT}" in text
    assert sorted(told(engine, ids)["milestone_due"]) == ["contractor.a", "contractor.b"]


def _statuses(engine):
    with engine.connect() as connection:
        return [row.status for row in connection.execute(sa.select(notice_deliveries))]


def test_with_the_smtp_server_down_the_notice_is_there_and_the_mail_goes_later(
    container_factory, rabbit_config, gateway_db, database_url, tmp_path
):
    engine, ids = gateway_db
    server = SmtpServer(tmp_path / "mail")  # not started: nobody listens on its port
    config = service_config(rabbit_config, database_url, **smtp_settings(server))
    container_factory(NoticeService, config).start()
    publish_event(
        rabbit_config["AMQP_URI"],
        "projects",
        "report_awaiting_decision",
        reminder(report_id=str(uuid.uuid4()), submitted_at=utcnow() - timedelta(days=5)),
    )
    wait_until(lambda: told(engine, ids).get("report_awaiting_decision"), what="the notice")

    def failed_once():
        with engine.connect() as connection:
            row = connection.execute(sa.select(notice_deliveries)).first()
        return row is not None and row.attempts >= 1 and row.status == "pending" and row

    row = wait_until(failed_once, what="a failed attempt recorded, to be retried")
    assert row.last_error and row.sent_at is None
    assert told(engine, ids) == {"report_awaiting_decision": ["staff.city"]}
    server.start()
    try:
        wait_until(lambda: server.messages(), timeout=30, what="the mail once the server is up")
        wait_until(lambda: _statuses(engine) == ["sent"], what="the delivery marked sent")
        (mail,) = server.messages()
    finally:
        server.stop()
    assert mail["To"] == "staff@city.test" and "待验收" in mail["Subject"]


def test_one_mail_relay_among_replicas_sends_and_another_takes_over_when_its_lease_lapses(
    gateway_db, database_url
):
    resource = DatabaseResource(database_url, service_name="gateway", pool_size=2)
    try:
        settings = replace(MailSettings(host="127.0.0.1"), lease_ttl=0.5)
        first, second = MailRelay(resource, settings), MailRelay(resource, settings)
        assert first.hold_lease() and first.hold_lease()  # taken, then renewed
        assert not second.hold_lease()  # while the first holds it, the second sends nothing
        assert second.send_once() == 0
        wait_until(second.hold_lease, timeout=5, what="the lapsed lease taken over")
        assert not first.hold_lease()
    finally:
        resource.dispose()


def _notice_row(user_id, created_at, read_at):
    return {
        "id": str(uuid.uuid4()),
        "user_id": user_id,
        "kind": "milestone_due",
        "title": "里程碑 7 天后到期",
        "body": "……",
        "link": None,
        "event_id": str(uuid.uuid4()),
        "created_at": created_at,
        "read_at": read_at,
    }


def _delivery_row(notification_id, status, created_at):
    return {
        "notification_id": notification_id,
        "channel": "email",
        "address": "a@contractor.test",
        "status": status,
        "attempts": 1,
        "next_attempt_at": created_at,
        "created_at": created_at,
    }


def test_the_timer_purges_old_read_notices_and_finished_deliveries_and_keeps_the_rest(
    gateway_db, database_url
):
    """Retention (mail off: the timer runs to purge alone): read and older than the age goes,
    with its deliveries; unread, recent, or a pending delivery stays; once per period."""
    engine, ids = gateway_db
    now = utcnow()
    old, recent = now - timedelta(days=181), now - timedelta(days=179)
    who = ids["contractor.a"]
    rows = {
        "old_read": _notice_row(who, old, old + timedelta(days=1)),
        "old_unread": _notice_row(who, old, None),
        "recent_read": _notice_row(who, recent, recent),
        "old_read_pending_mail": _notice_row(who, old, old),
    }
    deliveries = [
        _delivery_row(rows["old_read"]["id"], "sent", old),
        _delivery_row(rows["old_unread"]["id"], "failed", old),  # finished and old: goes
        _delivery_row(rows["recent_read"]["id"], "sent", recent),
        _delivery_row(rows["old_read_pending_mail"]["id"], "pending", old),
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(notifications), list(rows.values()))
        connection.execute(sa.insert(notice_deliveries), deliveries)
    resource = DatabaseResource(database_url, service_name="gateway", pool_size=2)
    try:
        relay = MailRelay(resource, None, Retention(days=180, every_seconds=3600))
        assert relay.run_once() == 0  # no mail to send with e-mail off; the purge ran
        assert relay.purge_if_due(utcnow()) is None  # not again within the period
    finally:
        resource.dispose()
    with engine.begin() as connection:
        kept = {row.id for row in connection.execute(sa.select(notifications.c.id))}
        kept_mail = {
            (row.notification_id, row.status)
            for row in connection.execute(
                sa.select(notice_deliveries.c.notification_id, notice_deliveries.c.status)
            )
        }
    assert kept == {rows["old_unread"]["id"], rows["recent_read"]["id"]}
    assert kept_mail == {(rows["recent_read"]["id"], "sent")}


def test_the_gateway_runs_the_purge_timer_with_mail_off(
    gateway_db, database_url, rabbit_config, container_factory
):
    engine, ids = gateway_db
    old = utcnow() - timedelta(days=400)
    row = _notice_row(ids["staff.city"], old, old)
    with engine.begin() as connection:
        connection.execute(sa.insert(notifications), [row])
    config = service_config(rabbit_config, database_url, NOTICE_RETENTION_DAYS=365)
    container = container_factory(NoticeService, config)
    container.start()

    def purged():
        with engine.begin() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(notifications)
            ).scalar()

    wait_until(lambda: purged() == 0, timeout=20, what="the old read notice purged")
