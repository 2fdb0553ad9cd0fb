"""A volunteer's identity as registered: the mobile phone, the resident ID number (GB
11643-1999), the name, skills and the consent date, each checked and normalised, and the
masks personal data is shown under.

Every check raises ``RuleBroken`` naming the field and the rule; none puts the value (a phone,
an ID number) into its message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from volunteers.exceptions import RuleBroken

PERSONAL_FIELDS = ("phone", "id_number")
#: what audit records mask beyond the kit's list (phones, ID numbers and their ciphers and
#: hashes): a volunteer's name, which the service masks in its own answers too
AUDIT_PERSONAL = frozenset({"volunteer.name", "volunteer.search_name"})
MAX_NAME = 100
MAX_SKILLS = 30
MAX_SKILL = 50

# --- personal data: the mobile phone -------------------------------------------------------

_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋Ｘｘ", "0123456789+Xx")
_PHONE_SEPARATORS = re.compile(r"[\s\-－—–()（）.]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def normalise_phone(raw: str | None) -> str:
    """A mainland mobile number as 11 digits: spaces, dashes and a +86 / 0086 prefix removed.

    Raises ``RuleBroken(field="phone", rule="phone_format")``.
    """
    if raw is None or not str(raw).strip():
        raise RuleBroken("a mobile phone number is required", field="phone", rule="required")
    text = _PHONE_SEPARATORS.sub("", str(raw).translate(_FULL_WIDTH_DIGITS))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif len(text) == 13 and text.startswith("86"):
        text = text[2:]
    if not _MOBILE.fullmatch(text):
        raise RuleBroken(
            "a mainland mobile number has 11 digits and starts with 13 to 19",
            field="phone",
            rule="phone_format",
        )
    return text


def mask_phone(phone: str) -> str:
    """138****1234: the carrier prefix and the last four digits."""
    return phone[:3] + "****" + phone[-4:]


# --- personal data: the resident ID number (GB 11643-1999) -----------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
_SEVENTEEN_DIGITS = re.compile(r"[0-9]{17}")


def id_check_character(first_seventeen: str) -> str:
    """The 18th character of a resident ID number: ISO 7064 MOD 11-2 over the first 17."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_seventeen, ID_WEIGHTS, strict=True)
    )
    return ID_CHECK_CHARACTERS[total % 11]


#: an ID number a spreadsheet turned into a number: 1.10105194912E+17
_AS_NUMBER = re.compile(r"\d(\.\d+)?E\+?\d+")


def check_id_number(raw: str | None, today: date) -> str:
    """An 18-character resident ID number, upper-cased; raises ``RuleBroken`` with
    ``field="id_number"`` and rule ``id_length``, ``id_format``, ``id_birth_date`` or
    ``id_check_character``."""
    text = "".join(str(raw or "").translate(_FULL_WIDTH_DIGITS).split()).upper()
    if _AS_NUMBER.fullmatch(text):
        raise RuleBroken(
            f"the ID number was saved as a number ({text}): Excel keeps 15 digits and loses "
            "the rest; format the column as text (文本) and type the ID numbers again",
            field="id_number",
            rule="id_format",
        )
    if len(text) != 18:
        raise RuleBroken(
            f"a resident ID number has 18 characters, not {len(text)}",
            field="id_number",
            rule="id_length",
        )
    body, check = text[:17], text[17]
    if not _SEVENTEEN_DIGITS.fullmatch(body) or check not in ID_CHECK_CHARACTERS:
        raise RuleBroken(
            "a resident ID number is 17 digits and a check digit or X",
            field="id_number",
            rule="id_format",
        )
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        born = None
    if born is None or born > today or born.year < 1900:
        raise RuleBroken(
            "the birth date in the ID number (characters 7 to 14) is not a real date",
            field="id_number",
            rule="id_birth_date",
        )
    if id_check_character(body) != check:
        raise RuleBroken(
            "the ID number's check character does not match (a digit was mistyped)",
            field="id_number",
            rule="id_check_character",
        )
    return text


def mask_id_number(id_number: str) -> str:
    """3501**********1234: the province and city, and the last four characters."""
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


# --- the rest of a registration --------------------------------------------------------------

_SKILL_SEPARATORS = re.compile(r"[、，,;；\s]+")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def check_name(raw: str | None) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise RuleBroken("the volunteer's name is required", field="name", rule="required")
    if len(name) > MAX_NAME:
        raise RuleBroken(
            f"a name has at most {MAX_NAME} characters", field="name", rule="max_length"
        )
    return name


def parse_skills(raw: str | Iterable[str] | None) -> list[str]:
    """Skills as a list: from a list, or from text separated by 、，, ; or spaces."""
    if raw is None:
        return []
    parts = _SKILL_SEPARATORS.split(raw) if isinstance(raw, str) else list(raw)
    skills: list[str] = []
    for part in parts:
        skill = " ".join(str(part).split())
        if not skill or skill in skills:
            continue
        if len(skill) > MAX_SKILL:
            raise RuleBroken(
                f"a skill has at most {MAX_SKILL} characters", field="skills", rule="max_length"
            )
        skills.append(skill)
    if len(skills) > MAX_SKILLS:
        raise RuleBroken(f"at most {MAX_SKILLS} skills", field="skills", rule="max_items")
    return skills


def parse_consent_date(raw: str | date | None, today: date) -> date:
    """The date the volunteer signed the consent form: 2024-03-05, 2024/3/5, 2024年3月5日."""
    if isinstance(raw, date):
        consented = raw
    else:
        text = str(raw or "").strip()
        if not text:
            raise RuleBroken(
                "the date the volunteer consented is required: no consent, no registration",
                field="consented_on",
                rule="required",
            )
        match = _DATE.fullmatch(text)
        try:
            if match is None:
                raise ValueError(text)
            consented = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise RuleBroken(
                "the consent date is not a date (write 2024-03-05)",
                field="consented_on",
                rule="date_format",
            ) from None
    if consented > today:
        raise RuleBroken(
            "the consent date lies in the future", field="consented_on", rule="not_in_future"
        )
    return consented


@dataclass(frozen=True)
class VolunteerDraft:
    """A registration that passed every rule, personal data still in clear (never stored so)."""

    name: str
    phone: str
    id_number: str | None
    skills: list[str]
    consented_on: date
    user_id: str | None = None


def check_registration(
    *,
    name: str | None,
    phone: str | None,
    id_number: str | None,
    skills: str | Iterable[str] | None,
    consented_on: str | date | None,
    today: date,
    user_id: str | None = None,
) -> VolunteerDraft:
    """Every rule of a registration, first failure raised (fields in the order of a form)."""
    return VolunteerDraft(
        name=check_name(name),
        phone=normalise_phone(phone),
        id_number=check_id_number(id_number, today) if id_number and id_number.strip() else None,
        skills=parse_skills(skills),
        consented_on=parse_consent_date(consented_on, today),
        user_id=user_id,
    )
