"""E-mail for the notifications, when an SMTP relay is configured (``SMTP_HOST``).

A notice and its pending e-mail delivery are written in the consumer's transaction
(``gateway.notices``); nothing is sent there. This relay, a managed green thread of the
gateway, sends the pending deliveries after they committed: only the replica holding the
lease row ``gateway.mail`` in ``outbox_lease`` sends (it renews it; another takes over when
it lapses). A failed attempt is retried with exponential backoff (``SMTP_RETRY_SECONDS``,
doubled each time, at most an hour) until ``SMTP_MAX_ATTEMPTS``, then the delivery is
``failed``. The in-app notice never waits for, nor depends on, the mail. At least once: a
crash between the SMTP server's acceptance and marking the row sent mails it again.

Config: ``SMTP_HOST`` (unset: no e-mail), ``SMTP_PORT`` (25), ``SMTP_FROM``, ``SMTP_USER``
and ``SMTP_PASSWORD`` (optional), ``SMTP_STARTTLS`` (false), ``SMTP_TIMEOUT`` (10 s),
``SMTP_POLL_SECONDS`` (5), ``SMTP_RETRY_SECONDS`` (30), ``SMTP_MAX_ATTEMPTS`` (8),
``CONSOLE_URL`` (the console's address in the mail's link; unset: the route alone).

The same lease-held timer keeps the notices' retention (``gateway.notices.Retention``), with
e-mail on or off: every ``NOTICE_PURGE_SECONDS`` (3600) the replica holding the lease deletes
the read notices older than ``NOTICE_RETENTION_DAYS`` (180) and the finished deliveries as
old. With e-mail off it wakes once a minute and only purges.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider

from gateway import noticestore
from gateway.notices import Retention
from kit.clock import utcnow
from kit.db import DatabaseResource
from kit.tables import outbox_lease

log = logging.getLogger(__name__)

LEASE_NAME = "gateway.mail"
#: with e-mail off the timer only purges: it wakes this often, its lease lasts three times it
IDLE_POLL_SECONDS = 60.0


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int = 25
    sender: str = "jinguo@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    poll_seconds: float = 5.0
    retry_seconds: float = 30.0
    max_attempts: int = 8
    console_url: str = ""
    lease_ttl: float = 15.0
    batch_size: int = 50

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MailSettings | None:
        """The settings, or None when no SMTP relay is configured (no e-mail at all)."""
        host = str(config.get("SMTP_HOST") or "").strip()
        if not host:
            return None
        return cls(
            host=host,
            port=int(config.get("SMTP_PORT") or 25),
            sender=str(config.get("SMTP_FROM") or "jinguo@localhost"),
            user=config.get("SMTP_USER") or None,
            password=config.get("SMTP_PASSWORD") or None,
            starttls=_flag(config.get("SMTP_STARTTLS")),
            timeout=float(config.get("SMTP_TIMEOUT") or 10),
            poll_seconds=float(config.get("SMTP_POLL_SECONDS") or 5),
            retry_seconds=float(config.get("SMTP_RETRY_SECONDS") or 30),
            max_attempts=int(config.get("SMTP_MAX_ATTEMPTS") or 8),
            console_url=str(config.get("CONSOLE_URL") or "").rstrip("/"),
        )

    def retry_in(self, attempts: int) -> timedelta | None:
        """How long after its ``attempts``-th failure a delivery is tried again (None: never)."""
        if attempts >= self.max_attempts:
            return None
        return timedelta(seconds=min(self.retry_seconds * 2 ** (attempts - 1), 3600.0))


def message(settings: MailSettings, outgoing: noticestore.Outgoing) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"【巾帼】{outgoing.title}"
    mail["From"] = settings.sender
    mail["To"] = outgoing.address
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(idstring=outgoing.notification_id.replace("-", ""))
    text = outgoing.body
    if outgoing.link:
        text += f"\n\n查看详情：{settings.console_url.rstrip('/')}{outgoing.link}"
    text += "\n\n（此邮件由巾帼平台自动发送，请勿回复。）"
    mail.set_content(text)
    return mail


class MailRelay:
    """Sends the pending e-mail deliveries; ``run()`` in a green thread, ``stop()`` to end."""

    def __init__(
        self,
        resource: DatabaseResource,
        settings: MailSettings | None,
        retention: Retention | None = None,
    ) -> None:
        self.resource = resource
        #: None: e-mail is off, the timer only purges
        self.settings = settings
        self.retention = retention or Retention()
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopped = threading.Event()
        self._leased = False
        self._next_purge: datetime | None = None
        self.poll_seconds = settings.poll_seconds if settings else IDLE_POLL_SECONDS
        self.lease_ttl = settings.lease_ttl if settings else 3 * IDLE_POLL_SECONDS

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                sent = self.run_once()
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any failure
                log.warning("mail relay: %s; trying again shortly", exc)
                sent = 0
            if not sent:
                self._stopped.wait(self.poll_seconds)
        self._release_lease()

    def run_once(self) -> int:
        """One turn of the timer if this replica holds the lease: the purge when it is due,
        then the mail that is due; how many mails were tried."""
        if not self.hold_lease():
            return 0
        self.purge_if_due(utcnow())
        return self._send_due() if self.settings is not None else 0

    def purge_if_due(self, now: datetime) -> dict[str, int] | None:
        """Purge what the retention lets go, at most every ``every_seconds``; what went (None:
        not due yet)."""
        if self._next_purge is not None and now < self._next_purge:
            return None
        with self.resource.begin() as connection:
            purged = noticestore.purge(connection, self.retention.cutoff(now))
        self._next_purge = now + timedelta(seconds=self.retention.every_seconds)
        if any(purged.values()):
            log.info(
                "purged %d read notices and %d deliveries older than %d days",
                purged["notifications"],
                purged["deliveries"],
                self.retention.days,
            )
        return purged

    def send_once(self) -> int:
        """Send what is due if this replica holds the lease; return how many were tried."""
        if self.settings is None or not self.hold_lease():
            return 0
        return self._send_due()

    def _send_due(self) -> int:
        assert self.settings is not None
        with self.resource.begin(write=False) as connection:
            due = noticestore.due_mail(connection, utcnow(), self.settings.batch_size)
        for outgoing in due:
            self._send(outgoing)
        return len(due)

    def _send(self, outgoing: noticestore.Outgoing) -> None:
        assert self.settings is not None
        try:
            self.deliver(message(self.settings, outgoing))
        except (OSError, smtplib.SMTPException) as exc:
            attempts = outgoing.attempts + 1
            retry_in = self.settings.retry_in(attempts)
            log.warning(
                "mail for notification %s failed (attempt %d, %s): %s",
                outgoing.notification_id,
                attempts,
                "retried" if retry_in else "given up",
                type(exc).__name__,
            )
            with self.resource.begin() as connection:
                noticestore.mark_failed(
                    connection,
                    outgoing.notification_id,
                    utcnow(),
                    f"{type(exc).__name__}: {exc}",
                    retry_in=retry_in,
                )
            return
        with self.resource.begin() as connection:
            noticestore.mark_sent(connection, outgoing.notification_id, utcnow())

    def deliver(self, mail: EmailMessage) -> None:
        settings = self.settings
        assert settings is not None
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(mail)

    # --- lease (as the outbox relay's) ---------------------------------------------------

    def hold_lease(self) -> bool:
        now = utcnow()
        expires = now + timedelta(seconds=self.lease_ttl)
        with self.resource.begin() as connection:
            taken = connection.execute(
                sa.update(outbox_lease)
                .where(outbox_lease.c.name == LEASE_NAME)
                .where(
                    sa.or_(outbox_lease.c.holder == self.holder, outbox_lease.c.expires_at < now)
                )
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
            if not taken:
                exists = connection.execute(
                    sa.select(outbox_lease.c.holder).where(outbox_lease.c.name == LEASE_NAME)
                ).first()
                if exists is None:
                    connection.execute(
                        sa.insert(outbox_lease).values(
                            name=LEASE_NAME, holder=self.holder, expires_at=expires
                        )
                    )
                    taken = 1
        self._leased = bool(taken)
        return self._leased

    def _release_lease(self) -> None:
        if not self._leased:
            return
        try:
            with self.resource.begin() as connection:
                connection.execute(
                    sa.update(outbox_lease)
                    .where(outbox_lease.c.name == LEASE_NAME, outbox_lease.c.holder == self.holder)
                    .values(expires_at=utcnow())
                )
        except Exception as exc:  # noqa: BLE001 - best effort; the lease lapses anyway
            log.info("could not release the mail lease: %s", exc)
        self._leased = False


class MailRelayProvider(DependencyProvider):
    """Runs the relay in the gateway: it sends mail when ``SMTP_HOST`` is set and keeps the
    notices' retention either way; workers get the mail settings (None: e-mail is off, so no
    delivery is written)."""

    def __init__(self, db: str = "db") -> None:
        self.db = db
        self.settings: MailSettings | None = None
        self.retention = Retention()
        self.relay: MailRelay | None = None

    def setup(self) -> None:
        self.settings = MailSettings.from_config(self.container.config)
        self.retention = Retention.from_config(self.container.config)

    def start(self) -> None:
        database = next(
            d for d in self.container.dependencies if getattr(d, "attr_name", None) == self.db
        )
        self.relay = MailRelay(database.resource, self.settings, self.retention)
        self.container.spawn_managed_thread(self.relay.run, identifier="gateway.mail_relay")

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> MailSettings | None:
        return self.settings
