"""Personal data at rest: AES-256-GCM envelopes and keyed look-up hashes.

A phone or ID number is stored only as

* an **envelope** ``<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``, AES-256-GCM with a random
  96-bit nonce and, as associated data, the field and the volunteer's id — an envelope copied
  onto another row or into another column does not decrypt. The key id (a fingerprint of the
  key, never the key) names the key that sealed it, so keys rotate: a new key becomes current
  (``VOLUNTEERS_DATA_KEY``), the old one is kept in ``VOLUNTEERS_RETIRED_DATA_KEYS`` until
  ``reencrypt`` has moved every row to the new one;
* a **look-up hash**, HMAC-SHA256 under ``VOLUNTEERS_HASH_KEY`` of the field name and the
  normalised value. Unique indexes on the hashes find a duplicate without decrypting anything,
  and without the key nobody can test guesses (a mobile number has only ~10^10 values: a plain
  hash would fall to a dictionary in minutes).

Development defaults exist only in dev/test mode (``kit.config.require_secret``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nameko.extensions import DependencyProvider

from kit.config import require_secret
from kit.errors import Unavailable

KEY_BYTES = 32
NONCE_BYTES = 12
# refused outside JINGUO_ENV=dev/test (kit.config.require_secret)
DEV_DATA_KEY = base64.b64encode(b"jinguo-dev-volunteers-data-key!!").decode()
DEV_HASH_KEY = base64.b64encode(b"jinguo-dev-volunteers-hash-key!!").decode()


class KeyUnavailable(Unavailable):
    """An envelope sealed with a key this process does not hold (retired and dropped?), or
    one that does not open (tampered, moved): the caller gets a 503 naming neither the key
    nor the data, and operations a log line."""

    code = "PERSONAL_DATA_UNREADABLE"


def decode_key(value: str, setting: str) -> bytes:
    """A key from its base64 form; the error names the setting, never the value."""
    text = value.strip()
    altchars = b"-_" if "-" in text or "_" in text else None  # the URL-safe alphabet too
    try:
        key = base64.b64decode(text, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise RuntimeError(f"{setting} is not base64 (of {KEY_BYTES} random bytes)") from None
    if len(key) != KEY_BYTES:
        raise RuntimeError(f"{setting} must be base64 of {KEY_BYTES} bytes, not {len(key)}")
    return key


def key_id(key: bytes) -> str:
    """A short, stable name for a key that reveals nothing about it."""
    return hashlib.sha256(b"jinguo/volunteers/key-id/" + key).hexdigest()[:12]


def context(field: str, volunteer_id: str) -> bytes:
    """The associated data binding an envelope to its column and row."""
    return f"volunteers/{field}/{volunteer_id}".encode()


class PersonalData:
    def __init__(self, data_key: bytes, hash_key: bytes, retired: tuple[bytes, ...] = ()) -> None:
        self.current_key_id = key_id(data_key)
        self._ciphers = {key_id(key): AESGCM(key) for key in (*retired, data_key)}
        self._current = self._ciphers[self.current_key_id]
        self._hash_key = hash_key

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PersonalData:
        data_key = decode_key(
            require_secret(config, "VOLUNTEERS_DATA_KEY", dev_default=DEV_DATA_KEY),
            "VOLUNTEERS_DATA_KEY",
        )
        hash_key = decode_key(
            require_secret(config, "VOLUNTEERS_HASH_KEY", dev_default=DEV_HASH_KEY),
            "VOLUNTEERS_HASH_KEY",
        )
        if hash_key == data_key:
            raise RuntimeError("VOLUNTEERS_HASH_KEY must differ from VOLUNTEERS_DATA_KEY")
        retired = tuple(
            decode_key(value, "VOLUNTEERS_RETIRED_DATA_KEYS")
            for value in str(config.get("VOLUNTEERS_RETIRED_DATA_KEYS") or "").split(",")
            if value.strip()
        )
        return cls(data_key, hash_key, retired)

    # --- envelopes -------------------------------------------------------------------------

    def seal(self, plaintext: str, field: str, volunteer_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, plaintext.encode(), context(field, volunteer_id))
        return f"{self.current_key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, envelope: str, field: str, volunteer_id: str) -> str:
        kid, _, payload = envelope.partition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise KeyUnavailable(f"no data key {kid} here: keep retired keys until re-encrypted")
        try:
            raw = base64.b64decode(payload, validate=True)
            plain = cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], context(field, volunteer_id)
            )
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyUnavailable(
                f"the {field} of volunteer {volunteer_id} does not decrypt (tampered or moved)"
            ) from None
        return plain.decode()

    def is_current(self, envelope: str | None) -> bool:
        return envelope is None or envelope.partition(":")[0] == self.current_key_id

    # --- look-up hashes --------------------------------------------------------------------

    def digest(self, field: str, value: str) -> str:
        return hmac.digest(self._hash_key, f"{field}:{value}".encode(), "sha256").hex()


class PersonalDataKeys(DependencyProvider):
    """The keys, read from config at start; a production start without them fails."""

    def setup(self) -> None:
        self.personal_data = PersonalData.from_config(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> PersonalData:
        return self.personal_data
