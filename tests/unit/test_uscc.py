"""The Unified Social Credit Code (GB 32100-2015): rules, messages and the check character.

The check character is recomputed here from the standard, independently of the module, so a
mistake in the module's alphabet, weights or formula cannot hide behind itself.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.errors import InvalidInput
from registry import uscc
from registry.uscc import InvalidUSCC

# --- an independent implementation of the standard ---------------------------------------

# the digits and capital letters without I, O, Z, S, V: 31 characters, valued 0..30
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DIGITS = "0123456789"


def weight(position):
    """Weight of character ``position`` (1-based, 1..17): 3^(i-1) mod 31."""
    return 3 ** (position - 1) % 31


def expected_check(body):
    total = sum(CHARSET.index(char) * weight(position) for position, char in enumerate(body, 1))
    return CHARSET[(31 - total % 31) % 31]


REAL_CODES = ["91350100M000100Y43", "91110000600037341L", "91440300708461136T"]

# a 17-character body that is structurally valid: positions 3-8 (division code) are digits
bodies = st.builds(
    lambda head, division, rest: head + division + rest,
    st.text(CHARSET, min_size=2, max_size=2),
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(CHARSET, min_size=9, max_size=9),
)


def rule_of(raw):
    with pytest.raises(InvalidUSCC) as failure:
        uscc.validate(raw)
    return failure.value


# --- the independent implementation agrees with the standard's published codes ----------


def test_the_independent_check_agrees_with_real_codes():
    for code in REAL_CODES:
        assert expected_check(code[:17]) == code[17]


def test_the_character_set_has_31_characters_without_lookalikes():
    assert len(set(CHARSET)) == 31
    assert not set("IOZSV") & set(CHARSET)


# --- valid codes --------------------------------------------------------------------------


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_validate_and_come_back_unchanged(code):
    assert uscc.validate(code) == code


@pytest.mark.parametrize("code", REAL_CODES)
def test_module_check_character_matches_real_codes(code):
    assert uscc.check_character(code[:17]) == code[17]


@given(bodies)
def test_module_check_character_matches_the_independent_one(body):
    assert uscc.check_character(body) == expected_check(body)


@given(bodies)
def test_every_body_with_its_computed_check_character_validates(body):
    code = body + expected_check(body)
    assert uscc.validate(code) == code


@given(bodies, st.integers(min_value=1, max_value=18), st.data())
def test_changing_any_one_character_fails_the_check(body, position, data):
    code = body + expected_check(body)
    original = code[position - 1]
    # positions 3-8 stay digits so the code is still well-formed and only the check can fail
    pool = DIGITS if 3 <= position <= 8 else CHARSET
    replacement = data.draw(st.sampled_from([char for char in pool if char != original]))
    mutated = code[: position - 1] + replacement + code[position:]

    error = rule_of(mutated)

    assert error.details["rule"] == "check_character"


# --- failing rules, each with its details -------------------------------------------------


@pytest.mark.parametrize(
    "raw, length",
    [
        ("", 0),
        ("91350100M000100Y4", 17),
        ("91350100M000100Y433", 19),
        ("91350100", 8),
    ],
)
def test_wrong_length_is_refused_with_the_length(raw, length):
    error = rule_of(raw)

    assert error.details == {"field": "uscc", "rule": "length", "length": length}
    assert f"this one has {length}" in error.message


def test_length_is_counted_after_normalisation():
    # 18 characters once the spaces are gone, so only the check character can fail
    error = rule_of("9135 0100 M000 100Y 44")

    assert error.details["rule"] == "check_character"


@pytest.mark.parametrize(
    "lookalike, hint", [("I", "1"), ("O", "0"), ("Z", "2"), ("S", "5"), ("V", "U")]
)
def test_a_lookalike_letter_is_refused_with_a_hint(lookalike, hint):
    code = "91350100M" + lookalike + "00100Y43"  # position 10

    error = rule_of(code)

    assert error.details == {
        "field": "uscc",
        "rule": "charset",
        "position": 10,
        "character": lookalike,
    }
    assert f"did you mean {hint!r}?" in error.message
    assert "character 10" in error.message


def test_a_lowercase_lookalike_is_reported_as_its_capital():
    error = rule_of("91350100M000100Y4o")

    assert error.details["rule"] == "charset"
    assert error.details["position"] == 18
    assert error.details["character"] == "O"
    assert "did you mean '0'?" in error.message


@pytest.mark.parametrize("character", ["*", "中", "."])
def test_other_characters_are_refused_without_a_hint(character):
    error = rule_of("9" + character + "350100M000100Y43")

    assert error.details["rule"] == "charset"
    assert error.details["position"] == 2
    assert error.details["character"] == character
    assert "did you mean" not in error.message


def test_the_first_bad_character_is_the_one_reported():
    error = rule_of("91350100MI00100YS3")

    assert error.details["position"] == 10


@pytest.mark.parametrize(
    "code, division_code",
    [
        ("91A50100M000100Y43", "A50100"),
        ("9135010MM000100Y43", "35010M"),
        ("91ABCDEFM000100Y43", "ABCDEF"),
    ],
)
def test_the_division_code_must_be_digits(code, division_code):
    error = rule_of(code)

    assert error.details == {
        "field": "uscc",
        "rule": "division_code",
        "division_code": division_code,
    }
    assert "characters 3 to 8" in error.message


def test_a_wrong_check_character_reports_expected_and_actual():
    error = rule_of("91350100M000100Y44")

    assert error.details == {
        "field": "uscc",
        "rule": "check_character",
        "expected": "3",
        "actual": "4",
    }
    assert "'4'" in error.message
    assert "'3'" in error.message


def test_swapped_neighbours_are_caught():
    # the commonest typing slip: two adjacent characters exchanged
    error = rule_of("91350100M001000Y43")

    assert error.details["rule"] == "check_character"


def test_the_error_is_an_invalid_input_with_its_own_code():
    error = rule_of("123")

    assert isinstance(error, InvalidInput)
    assert error.code == "INVALID_USCC"
    assert error.kind == "invalid"


# --- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "91350100m000100y43",
        "9135 0100 M000 100Y 43",
        "913501-00M000-100Y43",
        "  91350100M000100Y43\n",
        "9135\t0100-m000 100y-43",
    ],
)
def test_lowercase_spaces_and_hyphens_are_normalised(raw):
    assert uscc.validate(raw) == "91350100M000100Y43"


@given(bodies, st.lists(st.sampled_from([" ", "-", "\t"]), min_size=18, max_size=18))
def test_separators_and_case_never_change_the_result(body, separators):
    code = body + expected_check(body)
    written = "".join(char.lower() + sep for char, sep in zip(code, separators, strict=True))

    assert uscc.validate(written) == code


def test_normalize_alone():
    assert uscc.normalize(" 91-3501 00m ") == "91350100M"
