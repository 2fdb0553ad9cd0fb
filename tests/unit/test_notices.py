"""Who is told what (gateway.notices), and the mail's settings and text (gateway.mail)."""

import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from gateway import notices, noticestore
from gateway.mail import MailRelay, MailSettings, message
from gateway.noticestore import Outgoing
from language import events as catalogue
from tests.unit.fakes.notices import FakeNoticeStore, FakeUser

NOW = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
CONTRACTOR, OTHER_CONTRACTOR = str(uuid.uuid4()), str(uuid.uuid4())
CITY, OTHER_CITY = str(uuid.uuid4()), str(uuid.uuid4())
CONTRACT = str(uuid.uuid4())


def event(source, event_type, **data):
    """The event as a consumer gets it: published (strict) then read (tolerant)."""
    return catalogue.incoming(source, event_type, catalogue.outgoing(source, event_type, data))


def milestone(**extra):
    return {
        "contract_id": CONTRACT,
        "milestone_id": str(uuid.uuid4()),
        "project_id": str(uuid.uuid4()),
        **extra,
    }


def reminder(**extra):
    return milestone(
        contractor_id=CONTRACTOR,
        purchaser_id=CITY,
        title="第一期：入户走访",
        due_on="2027-03-08",
        **extra,
    )


@pytest.fixture
def store():
    return FakeNoticeStore(
        FakeUser("c1", "contractor", CONTRACTOR, email="c1@example.org"),
        FakeUser("c2", "contractor", CONTRACTOR),
        FakeUser("c-off", "contractor", CONTRACTOR, disabled=True),
        FakeUser("c-other", "contractor", OTHER_CONTRACTOR),
        FakeUser("s1", "federation_staff", CITY, email="s1@example.org"),
        FakeUser("s-other", "federation_staff", OTHER_CITY),
        FakeUser("f1", "finance_officer", CITY),
        FakeUser("f-other", "finance_officer", OTHER_CITY),
        FakeUser("leader", "team_leader", None),
        FakeUser("leader2", "team_leader", None),
    )


def test_a_milestone_due_in_7_days_tells_the_contractors_active_users_only(store):
    due = event("projects", "milestone_due", **reminder(notice="due_in_7_days"))
    made = notices.record_notices(store, "milestone_due", due, NOW)
    assert store.told() == ["c1", "c2"]
    assert {n.event_id for n in made} == {str(due["event_id"])}
    notice = made[0]
    assert notice.title == "里程碑 7 天后到期"
    assert "第一期：入户走访" in notice.body and "2027-03-08" in notice.body
    assert notice.link == f"/contracts/{CONTRACT}"
    assert notice.created_at == NOW and notice.read_at is None


def test_a_milestone_due_today_says_today(store):
    due = event("projects", "milestone_due", **reminder(notice="due_today"))
    (first, _) = notices.record_notices(store, "milestone_due", due, NOW)
    assert first.title == "里程碑今天到期" and "今天" in first.body


def test_an_overdue_milestone_tells_the_purchasers_staff_and_the_contractor(store):
    overdue = event("projects", "milestone_overdue", **reminder(days_overdue=31))
    made = notices.record_notices(store, "milestone_overdue", overdue, NOW)
    assert store.told() == ["c1", "c2", "s1"]
    assert "31 天" in made[0].body and "暂停" in made[0].body


def test_a_report_waiting_for_a_decision_tells_the_purchasers_staff(store):
    waiting = event(
        "projects",
        "report_awaiting_decision",
        **reminder(report_id=str(uuid.uuid4()), submitted_at=NOW - timedelta(days=4)),
        occurred_at=NOW,
    )
    made = notices.record_notices(store, "report_awaiting_decision", waiting, NOW)
    assert store.told() == ["s1"]
    assert made[0].title == "阶段报告待验收" and "已等待 4 天" in made[0].body


def test_a_rejected_report_tells_the_contractor_with_the_reason(store):
    rejected = event(
        "projects",
        "milestone_rejected",
        **milestone(reason="照片不清楚", rejected_by="someone", contractor_id=CONTRACTOR),
    )
    made = notices.record_notices(store, "milestone_rejected", rejected, NOW)
    assert store.told() == ["c1", "c2"]
    assert "照片不清楚" in made[0].body


def test_a_disbursement_request_tells_the_owners_finance_officers_with_the_amount(store):
    requested = event(
        "funding",
        "disbursement_requested",
        disbursement_id=str(uuid.uuid4()),
        contract_id=CONTRACT,
        milestone_id=str(uuid.uuid4()),
        amount=1_234_567,
        payee_id=CONTRACTOR,
        funding_source_id=str(uuid.uuid4()),
        requested_by="system",
        owner_id=CITY,
    )
    made = notices.record_notices(store, "disbursement_requested", requested, NOW)
    assert store.told() == ["f1"]
    assert "¥12,345.67" in made[0].body and made[0].link == "/approvals"


def test_hours_awaiting_verification_tell_the_leader_alone(store):
    waiting = event(
        "volunteers",
        "hours_awaiting_verification",
        team_id=str(uuid.uuid4()),
        leader_user_id="leader",
        entries=3,
        oldest_started_at=NOW - timedelta(days=2),
    )
    made = notices.record_notices(store, "hours_awaiting_verification", waiting, NOW)
    assert store.told() == ["leader"]
    assert "3 条" in made[0].body and made[0].link == "/service-hours"


@pytest.mark.parametrize(
    ("source", "event_type", "data", "missing"),
    [
        (
            "projects",
            "milestone_rejected",
            milestone(reason="缺少签到表", rejected_by="someone"),
            "contractor_id",
        ),
        (
            "funding",
            "disbursement_requested",
            {
                "disbursement_id": str(uuid.uuid4()),
                "contract_id": CONTRACT,
                "milestone_id": str(uuid.uuid4()),
                "amount": 100,
                "payee_id": CONTRACTOR,
                "funding_source_id": str(uuid.uuid4()),
                "requested_by": "system",
            },
            "owner_id",
        ),
    ],
)
def test_an_event_without_an_optional_field_tells_nobody_and_says_so(
    store, caplog, source, event_type, data, missing
):
    loaded = event(source, event_type, **data)
    assert notices.record_notices(store, event_type, loaded, NOW) == []
    assert store.notices == []
    assert missing in caplog.text


def test_nobody_is_told_twice_by_one_event_in_two_audiences(store):
    # a contractor's user who is also (by mistake of data) matched twice is told once
    store.users.append(store.users[0])
    due = event("projects", "milestone_due", **reminder(notice="due_today"))
    notices.record_notices(store, "milestone_due", due, NOW)
    assert store.told() == ["c1", "c2"]


def test_email_deliveries_are_written_only_when_mail_is_on_and_for_those_with_an_address(store):
    overdue = event("projects", "milestone_overdue", **reminder(days_overdue=2))
    notices.record_notices(store, "milestone_overdue", overdue, NOW)
    assert store.deliveries == []
    made = notices.record_notices(store, "milestone_overdue", overdue, NOW, email=True)
    by_id = {n.id: n.user_id for n in made}
    assert sorted((by_id[d.notification_id], d.address) for d in store.deliveries) == [
        ("c1", "c1@example.org"),
        ("s1", "s1@example.org"),
    ]
    assert all(d.channel == "email" and d.next_attempt_at == NOW for d in store.deliveries)


def test_every_consumed_event_type_is_in_the_catalogue_from_its_source():
    for event_type, (source, _) in notices.DRAFTS.items():
        assert catalogue.CATALOGUE[event_type][0] == source


def test_money_is_written_in_yuan_from_fen():
    assert notices.yuan(0) == "¥0.00"
    assert notices.yuan(5) == "¥0.05"
    assert notices.yuan(123_456_789) == "¥1,234,567.89"


def test_mail_is_off_without_an_smtp_host_and_retries_back_off_until_the_last_attempt():
    assert MailSettings.from_config({}) is None
    assert MailSettings.from_config({"SMTP_HOST": "  "}) is None
    settings = MailSettings.from_config(
        {
            "SMTP_HOST": "mail.local",
            "SMTP_PORT": "2525",
            "SMTP_RETRY_SECONDS": "10",
            "SMTP_MAX_ATTEMPTS": "4",
            "SMTP_STARTTLS": "true",
        }
    )
    assert settings is not None and settings.port == 2525 and settings.starttls
    assert [settings.retry_in(n) for n in (1, 2, 3)] == [
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
    ]
    assert settings.retry_in(4) is None
    capped = MailSettings(host="x", retry_seconds=3000, max_attempts=99)
    assert capped.retry_in(5) == timedelta(hours=1)


def test_the_mail_carries_the_notice_and_the_link_in_chinese():
    settings = MailSettings(
        host="x", sender="noreply@jinguo.test", console_url="https://jinguo.test/"
    )
    mail = message(
        settings,
        Outgoing(
            str(uuid.uuid4()),
            "c1@example.org",
            0,
            "里程碑今天到期",
            "请提交报告。",
            "/contracts/abc",
        ),
    )
    assert mail["Subject"] == "【巾帼】里程碑今天到期"
    assert mail["To"] == "c1@example.org" and mail["From"] == "noreply@jinguo.test"
    text = mail.get_content()
    assert "请提交报告。" in text and "https://jinguo.test/contracts/abc" in text


def test_read_notices_and_finished_deliveries_go_after_the_retention_age_unread_ones_stay():
    retention = notices.Retention.from_config({})
    assert (retention.days, retention.every_seconds) == (180, 3600.0)
    now = datetime(2027, 9, 1, tzinfo=UTC)
    old, recent = now - timedelta(days=181), now - timedelta(days=179)

    def notice(created_at, read_at):
        return notices.Notice(
            "u", "milestone_due", "t", "b", None, "e", created_at, read_at=read_at
        )

    assert retention.notice_expired(notice(old, old), now)
    assert not retention.notice_expired(notice(old, None), now)  # unread: kept however old
    assert not retention.notice_expired(notice(recent, recent), now)
    assert retention.delivery_expired("sent", old, now)
    assert retention.delivery_expired("failed", old, now)
    assert not retention.delivery_expired("pending", old, now)
    assert not retention.delivery_expired("sent", recent, now)
    shorter = notices.Retention.from_config({"NOTICE_RETENTION_DAYS": "30"})
    assert shorter.notice_expired(notice(now - timedelta(days=31), now), now)
    with pytest.raises(ValueError, match="NOTICE_RETENTION_DAYS"):
        notices.Retention.from_config({"NOTICE_RETENTION_DAYS": "-1"})


class _Resource:
    """A database resource whose transactions are nothing: the purge's SQL is stubbed."""

    @contextmanager
    def begin(self, write=True):
        yield None


def test_the_timer_purges_once_per_period_as_of_its_cutoff(monkeypatch):
    cutoffs = []

    def purge(connection, cutoff):
        cutoffs.append(cutoff)
        return {"notifications": 2, "deliveries": 1}

    monkeypatch.setattr(noticestore, "purge", purge)
    relay = MailRelay(_Resource(), None, notices.Retention(days=180, every_seconds=3600))
    assert relay.poll_seconds == 60.0  # mail off: it wakes only to purge
    now = datetime(2027, 9, 1, tzinfo=UTC)
    assert relay.purge_if_due(now) == {"notifications": 2, "deliveries": 1}
    assert relay.purge_if_due(now + timedelta(minutes=59)) is None
    assert relay.purge_if_due(now + timedelta(hours=1)) is not None
    assert cutoffs == [now - timedelta(days=180), now + timedelta(hours=1) - timedelta(days=180)]
    assert relay.send_once() == 0  # no mail with e-mail off
