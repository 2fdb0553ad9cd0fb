"""The Unified Social Credit Code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-character set (the digits and capital letters without I, O, Z, S, V):
position 1 the registration authority, 2 the organization category, 3–8 the administrative
division code (digits), 9–17 the organization code, 18 a check character. The check character
makes the weighted sum of all 18 values divisible by 31, with weight 3^(i-1) mod 31 for
position i.
"""

from __future__ import annotations

from kit.errors import InvalidInput

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {char: value for value, char in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18
# letters people type for digits (and the reverse) on paper forms
_LOOKALIKES = {"I": "1", "O": "0", "Z": "2", "S": "5", "V": "U"}


class InvalidUSCC(InvalidInput):
    code = "INVALID_USCC"

    def __init__(self, message: str, rule: str, **details: object) -> None:
        super().__init__(message, field="uscc", rule=rule, **details)


def normalize(raw: str) -> str:
    """Uppercase and drop spaces and hyphens people put in for readability."""
    return "".join(raw.split()).replace("-", "").upper()


def check_character(first17: str) -> str:
    total = sum(VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate(raw: str) -> str:
    """Return the normalised code, or raise InvalidUSCC naming the rule that failed."""
    code = normalize(raw)
    if len(code) != LENGTH:
        raise InvalidUSCC(
            f"a USCC has 18 characters; this one has {len(code)}", rule="length", length=len(code)
        )
    for position, char in enumerate(code, start=1):
        if char not in VALUES:
            hint = _LOOKALIKES.get(char)
            message = (
                f"character {position} is {char!r}, which is not in the USCC character set "
                "(digits and capital letters except I, O, Z, S, V)"
            )
            if hint:
                message += f"; did you mean {hint!r}?"
            raise InvalidUSCC(message, rule="charset", position=position, character=char)
    if not code[2:8].isdigit():
        raise InvalidUSCC(
            "characters 3 to 8 are the administrative division code and must be digits",
            rule="division_code",
            division_code=code[2:8],
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidUSCC(
            f"the check character is {code[17]!r} but the first 17 characters give {expected!r}; "
            "a character was probably mistyped",
            rule="check_character",
            expected=expected,
            actual=code[17],
        )
    return code
