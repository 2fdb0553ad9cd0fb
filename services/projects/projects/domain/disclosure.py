"""Public disclosure (信息公开): what of a contracting process anybody may read, without login.

Government purchase of services is made public (《政府购买服务管理办法》): the purchase
announcement, the award (who, how much, when) and the money paid so far, and the OCDS
release of each process. Plain Python: the rules, applied to rows the public record
(``projects.public_record``) already restricted to published projects and public columns.

What is public, and what never is:

- a project once published (``published_at`` set), in whatever state it is now — cancelled or
  closed it stays on the record; a draft never, nor one cancelled before publication;
- of its award, only the winner (the contractor's organization), the amount and the date, and
  only once awarded; no application, of the winner or any other bidder, before or after;
- money as the project's figures say (paid so far) and each tranche's payment;
- no person: no user id or name (who drafted, awarded, accepted), no phone or ID number, no
  reason or note written for the staff (a cancellation's reason, a report, a rejection).

Free text that staff typed and that is published (titles, descriptions, indicator names,
milestone deliverables) is masked where it holds what looks like a mobile phone number or a
resident ID number: a person's contact typed into an announcement is not published.
"""

from __future__ import annotations

import re
from typing import Any

#: the statuses a published project may be in (a draft has never been published)
PUBLIC_STATUSES = ("published", "awarded", "evaluated", "closed", "cancelled")

#: a contract's status as published: a contract suspended with its contractor is still in
#: force (the suspension is the registry's business, not the announcement's)
AWARD_STATUS = {
    "active": "active",
    "suspended": "active",
    "completed": "completed",
    "cancelled": "cancelled",
    "terminated": "terminated",
}

# bounded by anything but a letter or digit, so an id or a code that merely contains such a
# run (a UUID's segment, a USCC) is not taken for one
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)(\d{4})(\d{4})(?![0-9A-Za-z])")
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")

#: keys of an OCDS release whose values are free text staff wrote
_OCDS_TEXT_KEYS = frozenset({"title", "description", "rationale"})


def is_public(published_at: Any) -> bool:
    """A contracting process is on the public record once it was published."""
    return published_at is not None


def mask_personal(text: str | None) -> str | None:
    """``text`` with mobile numbers and resident ID numbers masked as they are on a printed
    notice (138****5678, 110101********123X)."""
    if not text:
        return text
    text = _MOBILE.sub(lambda m: f"{m[1]}****{m[3]}", text)
    return _RESIDENT_ID.sub(lambda m: f"{m[1]}{'*' * 8}{m[3]}", text)


def public_indicators(indicators: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The project's targets (name, target, unit), masked."""
    return [
        {
            "name": mask_personal(str(item.get("name") or "")),
            "target": item.get("target"),
            "unit": mask_personal(item.get("unit")),
        }
        for item in indicators or []
    ]


def award_status(contract_status: str) -> str:
    return AWARD_STATUS.get(contract_status, "active")


def masked_release(value: Any, key: str | None = None) -> Any:
    """An OCDS release (or any part of it) with the free text masked (``mask_personal``);
    identifiers, codes and amounts are left as they are."""
    if isinstance(value, dict):
        return {k: masked_release(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_release(item, key) for item in value]
    if isinstance(value, str) and key in _OCDS_TEXT_KEYS:
        return mask_personal(value)
    return value
