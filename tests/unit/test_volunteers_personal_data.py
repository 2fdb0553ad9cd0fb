"""Volunteers' personal data at rest: AES-256-GCM envelopes bound to their row and column, key
rotation, keyed look-up hashes, and keys that production refuses to run without."""

import base64
import os

import pytest

from volunteers.crypto import (
    DEV_DATA_KEY,
    DEV_HASH_KEY,
    KeyUnavailable,
    PersonalData,
    decode_key,
    key_id,
)

PHONE = "13812341234"
VOLUNTEER = "6f1c1d6e-0000-4000-8000-000000000001"
OTHER_VOLUNTEER = "6f1c1d6e-0000-4000-8000-000000000002"


def new_key():
    return os.urandom(32)


def keys(data=None, hashing=None, retired=()):
    return PersonalData(data or new_key(), hashing or new_key(), tuple(retired))


def test_an_envelope_opens_to_what_was_sealed_and_does_not_show_it():
    personal = keys()
    envelope = personal.seal(PHONE, "phone", VOLUNTEER)
    assert personal.open(envelope, "phone", VOLUNTEER) == PHONE
    kid, _, payload = envelope.partition(":")
    assert kid == personal.current_key_id
    assert PHONE not in envelope and PHONE.encode() not in base64.b64decode(payload)
    # Chinese text survives too
    assert personal.open(personal.seal("王小红", "name", VOLUNTEER), "name", VOLUNTEER) == "王小红"


def test_sealing_twice_gives_different_envelopes():
    personal = keys()
    assert personal.seal(PHONE, "phone", VOLUNTEER) != personal.seal(PHONE, "phone", VOLUNTEER)


def test_another_key_does_not_open_an_envelope():
    envelope = keys().seal(PHONE, "phone", VOLUNTEER)
    with pytest.raises(KeyUnavailable):
        keys().open(envelope, "phone", VOLUNTEER)


def test_an_envelope_with_a_forged_key_id_does_not_open():
    sealer, opener = keys(), keys()
    _, _, payload = sealer.seal(PHONE, "phone", VOLUNTEER).partition(":")
    with pytest.raises(KeyUnavailable) as excinfo:
        opener.open(f"{opener.current_key_id}:{payload}", "phone", VOLUNTEER)
    assert PHONE not in str(excinfo.value)


@pytest.mark.parametrize(
    ("field", "volunteer_id"),
    [("id_number", VOLUNTEER), ("phone", OTHER_VOLUNTEER)],
)
def test_an_envelope_moved_to_another_column_or_row_does_not_open(field, volunteer_id):
    personal = keys()
    envelope = personal.seal(PHONE, "phone", VOLUNTEER)
    with pytest.raises(KeyUnavailable):
        personal.open(envelope, field, volunteer_id)


def test_a_tampered_envelope_does_not_open():
    personal = keys()
    kid, _, payload = personal.seal(PHONE, "phone", VOLUNTEER).partition(":")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 1
    with pytest.raises(KeyUnavailable):
        personal.open(f"{kid}:{base64.b64encode(bytes(raw)).decode()}", "phone", VOLUNTEER)


def test_a_retired_key_still_opens_what_it_sealed_until_reencrypted():
    old, new, hashing = new_key(), new_key(), new_key()
    before = PersonalData(old, hashing)
    envelope = before.seal(PHONE, "phone", VOLUNTEER)
    after = PersonalData(new, hashing, (old,))
    assert after.open(envelope, "phone", VOLUNTEER) == PHONE
    assert not after.is_current(envelope)
    resealed = after.seal(after.open(envelope, "phone", VOLUNTEER), "phone", VOLUNTEER)
    assert after.is_current(resealed) and after.is_current(None)
    # once the retired key is dropped, only the re-sealed envelope opens
    dropped = PersonalData(new, hashing)
    assert dropped.open(resealed, "phone", VOLUNTEER) == PHONE
    with pytest.raises(KeyUnavailable) as excinfo:
        dropped.open(envelope, "phone", VOLUNTEER)
    assert key_id(old) in str(excinfo.value)


def test_the_look_up_hash_is_stable_and_depends_on_the_key_and_the_field():
    hashing = new_key()
    one, same = keys(hashing=hashing), keys(hashing=hashing)
    assert one.digest("phone", PHONE) == same.digest("phone", PHONE)
    assert len(one.digest("phone", PHONE)) == 64
    assert one.digest("phone", PHONE) != keys().digest("phone", PHONE)
    assert one.digest("phone", PHONE) != one.digest("id_number", PHONE)
    assert one.digest("phone", PHONE) != one.digest("phone", "13812341235")
    assert PHONE not in one.digest("phone", PHONE)


def test_a_key_id_names_a_key_without_revealing_it():
    key = new_key()
    assert key_id(key) == key_id(bytes(key)) and key_id(key) != key_id(new_key())
    assert len(key_id(key)) == 12 and key.hex()[:12] != key_id(key)


def b64(raw, alphabet=base64.b64encode):
    return alphabet(raw).decode()


def test_keys_are_base64_of_thirty_two_bytes_in_either_alphabet():
    raw = bytes(range(224, 256))  # encodes with + and / (or - and _)
    assert decode_key(b64(raw), "K") == raw
    assert decode_key(b64(raw, base64.urlsafe_b64encode), "K") == raw
    with pytest.raises(RuntimeError) as excinfo:
        decode_key(b64(os.urandom(16)), "VOLUNTEERS_DATA_KEY")
    assert "VOLUNTEERS_DATA_KEY" in str(excinfo.value) and "not 16" in str(excinfo.value)
    with pytest.raises(RuntimeError) as excinfo:
        decode_key("not base64!", "VOLUNTEERS_HASH_KEY")
    assert "VOLUNTEERS_HASH_KEY" in str(excinfo.value) and "not base64!" not in str(excinfo.value)


def config(**values):
    return {"JINGUO_ENV": "production", **values}


def test_production_refuses_missing_or_development_keys():
    data, hashing = b64(new_key()), b64(new_key())
    for missing in (
        config(VOLUNTEERS_HASH_KEY=hashing),
        config(VOLUNTEERS_DATA_KEY=data),
        config(VOLUNTEERS_DATA_KEY=DEV_DATA_KEY, VOLUNTEERS_HASH_KEY=hashing),
        config(VOLUNTEERS_DATA_KEY=data, VOLUNTEERS_HASH_KEY=DEV_HASH_KEY),
    ):
        with pytest.raises(RuntimeError):
            PersonalData.from_config(missing)
    assert PersonalData.from_config({"JINGUO_ENV": "test"}).current_key_id == key_id(
        base64.b64decode(DEV_DATA_KEY)
    )


def test_the_hash_key_differs_from_the_data_key():
    same = b64(new_key())
    with pytest.raises(RuntimeError) as excinfo:
        PersonalData.from_config(config(VOLUNTEERS_DATA_KEY=same, VOLUNTEERS_HASH_KEY=same))
    assert "differ" in str(excinfo.value)


def test_retired_keys_come_from_config_as_a_comma_separated_list():
    old1, old2, current, hashing = new_key(), new_key(), new_key(), new_key()
    envelopes = [PersonalData(k, hashing).seal(PHONE, "phone", VOLUNTEER) for k in (old1, old2)]
    personal = PersonalData.from_config(
        config(
            VOLUNTEERS_DATA_KEY=b64(current),
            VOLUNTEERS_HASH_KEY=b64(hashing),
            VOLUNTEERS_RETIRED_DATA_KEYS=f"{b64(old1)}, {b64(old2)},",
        )
    )
    assert personal.current_key_id == key_id(current)
    assert [personal.open(e, "phone", VOLUNTEER) for e in envelopes] == [PHONE, PHONE]
