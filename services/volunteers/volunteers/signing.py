"""The certificate key: Ed25519, from ``CERTIFICATE_SIGNING_KEY`` (base64 of the 32-byte
private key seed).

Why Ed25519 and not an HMAC: verifying needs only the public key, so a verifier outside this
service (a school checking a certificate, an offline tool, a future replica that only reads)
never needs a secret that could also issue; and the private key sits in the service's
configuration, not in its database, so a dump of the tables alone cannot forge or alter a
certificate. Retired keys (``CERTIFICATE_RETIRED_PUBLIC_KEYS``, base64 public keys,
comma-separated) still verify what they signed after a rotation.

Development default only in dev/test mode (``kit.config.require_secret``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nameko.extensions import DependencyProvider

from kit.config import require_secret

SEED_BYTES = 32
# refused outside JINGUO_ENV=dev/test (kit.config.require_secret)
DEV_SIGNING_KEY = base64.b64encode(b"jinguo-dev-certificate-signing!!").decode()


def _decode(value: str, setting: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise RuntimeError(f"{setting} is not base64 (of {SEED_BYTES} bytes)") from None
    if len(raw) != SEED_BYTES:
        raise RuntimeError(f"{setting} must be base64 of {SEED_BYTES} bytes, not {len(raw)}")
    return raw


def public_key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(b"jinguo/certificate-key/" + raw).hexdigest()[:12]


class CertificateKey:
    """Signs with the current private key; verifies with it or a retired public key."""

    def __init__(self, seed: bytes, retired: tuple[bytes, ...] = ()) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        current = self._private.public_key()
        self.key_id = public_key_id(current)
        self._public = {public_key_id(current): current}
        for raw in retired:
            key = Ed25519PublicKey.from_public_bytes(raw)
            self._public[public_key_id(key)] = key

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CertificateKey:
        seed = _decode(
            require_secret(config, "CERTIFICATE_SIGNING_KEY", dev_default=DEV_SIGNING_KEY),
            "CERTIFICATE_SIGNING_KEY",
        )
        retired = tuple(
            _decode(value, "CERTIFICATE_RETIRED_PUBLIC_KEYS")
            for value in str(config.get("CERTIFICATE_RETIRED_PUBLIC_KEYS") or "").split(",")
            if value.strip()
        )
        return cls(seed, retired)

    @property
    def public_key(self) -> str:
        """The current public key, base64 (publishable: it verifies, it cannot sign)."""
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def verify(self, signature: bytes, message: bytes, key_id: str) -> bool:
        key = self._public.get(key_id)
        if key is None:
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class CertificateKeys(DependencyProvider):
    """The key, read from config at start; a production start without it fails."""

    def setup(self) -> None:
        self.key = CertificateKey.from_config(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> CertificateKey:
        return self.key
