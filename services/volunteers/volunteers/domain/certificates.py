"""Volunteer service certificates (志愿服务证明): what one says, frozen when it is issued, and
how it is proved genuine.

A certificate is issued for a volunteer and a period from her **verified** hours only. Its
content — her name, her masked ID number, the period, what she did (activities, themes,
places), the verified minutes and hours, the issuing organization, the number, the issue date —
is written once, as a whole, and signed: hours rejected or corrected later never change it.

The signature is Ed25519 over the canonical form of the content (``canonical``: sorted keys,
no spaces, UTF-8). The private key lives in the service's configuration
(``CERTIFICATE_SIGNING_KEY``), never in the database: whoever holds a dump of the tables can
read certificates but cannot make or alter one that verifies. The verification code printed on
the certificate is derived from the signature (``verification_code``), so it too cannot be
made without the key, and a certificate's number alone does not reach its details.

Plain Python: the key is a port (``Signer``), handed in by the service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from kit.aggregate import Aggregate
from kit.clock import local_date
from volunteers.domain.reports import hours
from volunteers.exceptions import InvalidTransition, RuleBroken

CERTIFICATE_STATUSES = ("issued", "revoked")
#: the number's prefix: JG-2027-000123
NUMBER_PREFIX = "JG"
#: the verification code's length (base32 characters, shown as two groups of four)
CODE_LENGTH = 8
#: the longest period one certificate covers
MAX_PERIOD_DAYS = 366 * 10
MAX_REASON = 500
#: what the signature is over, besides the content: a signature made for something else under
#: the same key never passes for a certificate's
SIGNATURE_CONTEXT = b"jinguo/volunteers/certificate/v1\n"


class Signer(Protocol):
    """The certificate key (``volunteers.signing.CertificateKey``)."""

    key_id: str

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, signature: bytes, message: bytes, key_id: str) -> bool: ...


def canonical(content: dict[str, Any]) -> bytes:
    """The one byte form of a content that is signed and verified."""
    return SIGNATURE_CONTEXT + json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def verification_code(signature: bytes) -> str:
    """Eight characters (base32, no 0/1/8/9 confusions beyond what base32 avoids) derived
    from the signature: ``ABCD-EFGH``."""
    digest = hashlib.sha256(b"jinguo/certificate-code/" + signature).digest()
    text = base64.b32encode(digest).decode()[:CODE_LENGTH]
    return f"{text[:4]}-{text[4:]}"


def normalise_code(code: str | None) -> str:
    """A code as typed (lower case, spaces, with or without the dash) in its printed form."""
    text = "".join(ch for ch in str(code or "").upper() if ch.isalnum())
    return f"{text[:4]}-{text[4:]}" if len(text) == CODE_LENGTH else text


def certificate_number(year: int, sequence: int) -> str:
    return f"{NUMBER_PREFIX}-{year}-{sequence:06d}"


def mask_name(name: str) -> str:
    """王*红, 李*, Mary W***: the first and (for three or more) the last character."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def check_period(period_from: date, period_to: date, today: date) -> None:
    if period_to < period_from:
        raise RuleBroken(
            "the period ends before it begins", field="period_to", rule="after_period_from"
        )
    if period_to > today:
        raise RuleBroken(
            "a certificate covers days already past", field="period_to", rule="not_in_future"
        )
    if (period_to - period_from).days > MAX_PERIOD_DAYS:
        raise RuleBroken("a certificate covers at most ten years", field="period_from", rule="max")


@dataclass(frozen=True)
class ServedEntry:
    """One verified entry of hours as the certificate counts it."""

    activity_id: str
    activity_title: str
    theme: str
    place: str | None
    minutes: int
    served_on: date


def summarise(entries: Iterable[ServedEntry]) -> dict[str, Any]:
    """The figures of a period's verified entries: per activity (first served first), the
    themes and places, the total minutes and hours."""
    activities: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: (e.served_on, e.activity_id)):
        row = activities.setdefault(
            entry.activity_id,
            {
                "title": entry.activity_title,
                "theme": entry.theme,
                "place": entry.place,
                "entries": 0,
                "minutes": 0,
                "first_served_on": entry.served_on.isoformat(),
            },
        )
        row["entries"] += 1
        row["minutes"] += entry.minutes
    rows = list(activities.values())
    for row in rows:
        row["hours"] = hours(row["minutes"])
    total = sum(row["minutes"] for row in rows)
    return {
        "activities": rows,
        "themes": sorted({row["theme"] for row in rows}),
        "places": sorted({row["place"] for row in rows if row["place"]}),
        "entries": sum(row["entries"] for row in rows),
        "total_minutes": total,
        "total_hours": hours(total),
    }


def ensure_some_hours(figures: dict[str, Any]) -> None:
    if figures["total_minutes"] <= 0:
        raise RuleBroken(
            "the volunteer has no verified hours in this period for this issuer",
            field="period_from",
            rule="no_verified_hours",
            code="NO_VERIFIED_HOURS",
        )


class Certificate(Aggregate):
    """An issued certificate: its content frozen and signed, then at most revoked."""

    def __init__(
        self,
        *,
        number: str,
        year: int,
        sequence: int,
        volunteer_id: str,
        issuer_id: str,
        content: dict[str, Any],
        signer: Signer,
        issued_by: str,
        issued_at: datetime,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.number = number
        self.year = year
        self.sequence = sequence
        self.volunteer_id = volunteer_id
        self.issuer_id = issuer_id
        self.period_from = date.fromisoformat(content["period_from"])
        self.period_to = date.fromisoformat(content["period_to"])
        self.total_minutes = int(content["total_minutes"])
        self.content = content
        self.key_id = signer.key_id
        self.signature = base64.b64encode(signer.sign(canonical(content))).decode()
        self.status = "issued"
        self.issued_by = issued_by
        self.issued_at = issued_at
        self.revoked_by: str | None = None
        self.revoked_at: datetime | None = None
        self.revoke_reason: str | None = None
        self.version = 1

    @property
    def code(self) -> str:
        return verification_code(base64.b64decode(self.signature))

    def genuine(self, signer: Signer) -> bool:
        """Whether the stored content is what was signed, and the columns copied out of it
        (for lists and filters) still say the same."""
        content = self.content or {}
        try:
            signature = base64.b64decode(self.signature, validate=True)
        except (ValueError, TypeError):
            return False
        if not signer.verify(signature, canonical(content), self.key_id):
            return False
        return (
            content.get("number") == self.number
            and content.get("volunteer_id") == self.volunteer_id
            and content.get("issuer_id") == self.issuer_id
            and content.get("period_from") == self.period_from.isoformat()
            and content.get("period_to") == self.period_to.isoformat()
            and content.get("total_minutes") == self.total_minutes
        )

    def code_matches(self, code: str | None) -> bool:
        return hmac.compare_digest(normalise_code(code).encode(), self.code.encode())

    def revoke(self, reason: str | None, actor_id: str, at: datetime) -> None:
        if self.status != "issued":
            raise InvalidTransition("certificate", "revoke", self.status, certificate_id=self.id)
        reason = (reason or "").strip()
        if not reason:
            raise RuleBroken("say why the certificate is revoked", field="reason", rule="required")
        if len(reason) > MAX_REASON:
            raise RuleBroken(
                f"a reason has at most {MAX_REASON} characters", field="reason", rule="max_length"
            )
        self.status = "revoked"
        self.revoked_by = actor_id
        self.revoked_at = at
        self.revoke_reason = reason
        self.version += 1


def public_answer(certificate: Certificate | None, code: str | None, signer: Signer) -> dict:
    """What anyone may learn with a number and its code: genuine or revoked (or invalid: the
    stored certificate no longer matches its signature), the hours, the period, the issuer,
    and the volunteer's masked name — nothing else. A wrong code is as a missing number."""
    if certificate is None or not certificate.code_matches(code):
        return {"result": "not_found"}
    if not certificate.genuine(signer):
        return {"result": "invalid", "number": certificate.number}
    content = certificate.content
    return {
        "result": "revoked" if certificate.status == "revoked" else "genuine",
        "number": certificate.number,
        "masked_name": mask_name(content["volunteer_name"]),
        "period_from": content["period_from"],
        "period_to": content["period_to"],
        "total_minutes": content["total_minutes"],
        "total_hours": content["total_hours"],
        "issuer_name": content["issuer_name"],
        "issued_on": content["issued_on"],
        "revoked_on": local_date(certificate.revoked_at).isoformat()
        if certificate.revoked_at
        else None,
    }
