"""Proof that an RPC request comes from the platform, not from whoever can publish to the broker.

Every RPC request to a kit ``@rpc`` entrypoint carries, in its nameko context data (the AMQP
header ``nameko.rpc_proof``), an HMAC-SHA256 with ``JINGUO_RPC_KEY`` — a key only the gateway
and the services hold — over the target ``service.method``, an expiry (the caller's deadline)
and the exact bytes of the request body (so over its arguments, the ``actor`` among them):

    v1:<expires, epoch seconds>:<hex digest>

The service checks it before the method runs (``kit.rpc.Rpc``) and refuses a request without
a valid one: ``RemoteFailure`` of kind ``untrusted``, code ``RPC_UNTRUSTED``, logged and counted
(``jinguo_rpc_refused_total``). A proof made for another actor, arguments or method, or past
its expiry, is refused the same way.

Plain Python: signing and checking cost a few microseconds (``tests/unit/test_trust.py``
prints the figure); the body is serialised once, by the caller, and the bytes that are signed
are the bytes that travel.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kombu.serialization

log = logging.getLogger(__name__)

#: nameko context key of the proof: travels as the AMQP header ``nameko.rpc_proof``
PROOF_KEY = "rpc_proof"
#: the key outside dev/test must be at least this many bytes
MIN_KEY_BYTES = 32
#: the development key, used only when JINGUO_ENV is dev or test and no key is set
DEV_KEY = "jinguo-development-rpc-key-never-use-it-in-production"
VERSION = "v1"
DEV_ENVIRONMENTS = ("dev", "development", "test")


class Untrusted(Exception):
    """A request without valid proof; ``reason`` is one of missing, malformed, expired,
    invalid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _dev_mode(config: Mapping[str, Any]) -> bool:
    environment = config.get("JINGUO_ENV") or os.environ.get("JINGUO_ENV") or "production"
    return str(environment).lower() in DEV_ENVIRONMENTS


def _check(name: str, value: str, *, dev_mode: bool) -> bytes:
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise RuntimeError(
            f"{name} is shorter than {MIN_KEY_BYTES} bytes; set a random one "
            "(openssl rand -hex 32), the same for the gateway and every service"
        )
    if value == DEV_KEY and not dev_mode:
        raise RuntimeError(f"{name} is the development key; set a real one outside dev/test")
    return key


def rpc_keys(config: Mapping[str, Any]) -> tuple[bytes, ...]:
    """The keys a process signs with (the first) and accepts (all): ``RPC_KEY`` of its config,
    else the ``JINGUO_RPC_KEY`` environment variable, then ``RPC_PREVIOUS_KEY`` /
    ``JINGUO_RPC_PREVIOUS_KEY`` (still accepted during a rotation, never used to sign).

    Outside dev/test (``JINGUO_ENV``) a key is required; a short key or the development key is
    refused at start-up. The key itself is never logged.
    """
    dev_mode = _dev_mode(config)
    current = config.get("RPC_KEY") or os.environ.get("JINGUO_RPC_KEY") or ""
    if not current:
        if not dev_mode:
            raise RuntimeError(
                "JINGUO_RPC_KEY is unset: set a random key of at least 32 bytes "
                "(openssl rand -hex 32), the same for the gateway and every service "
                "(or JINGUO_ENV=dev on a development machine)"
            )
        current = DEV_KEY
    keys = [_check("JINGUO_RPC_KEY", str(current), dev_mode=dev_mode)]
    previous = config.get("RPC_PREVIOUS_KEY") or os.environ.get("JINGUO_RPC_PREVIOUS_KEY")
    if previous:
        keys.append(_check("JINGUO_RPC_PREVIOUS_KEY", str(previous), dev_mode=dev_mode))
    return tuple(keys)


def _digest(
    key: bytes, routing_key: str, expires: str, content_type: str, encoding: str, body: bytes
) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(
        f"jinguo-rpc-{VERSION}\n{routing_key}\n{expires}\n{content_type}\n{encoding}\n".encode()
    )
    mac.update(body)
    return mac.hexdigest()


def sign(
    key: bytes,
    routing_key: str,
    body: bytes,
    expires: float,
    *,
    content_type: str = "application/json",
    encoding: str = "utf-8",
) -> str:
    """The proof for a request to ``routing_key`` (``service.method``) whose serialised body
    is ``body``, valid until the epoch second ``expires``."""
    stamp = f"{expires:.3f}"
    return f"{VERSION}:{stamp}:{_digest(key, routing_key, stamp, content_type, encoding, body)}"


def verify(
    keys: Sequence[bytes],
    routing_key: str,
    body: bytes,
    proof: Any,
    *,
    content_type: str = "application/json",
    encoding: str = "utf-8",
    now: float | None = None,
) -> None:
    """Raise ``Untrusted`` unless ``proof`` was made with one of ``keys`` for exactly this
    request and has not expired."""
    if not proof:
        raise Untrusted("missing")
    try:
        version, stamp, digest = str(proof).split(":")
        expires = float(stamp)
    except ValueError:
        raise Untrusted("malformed") from None
    if version != VERSION:
        raise Untrusted("malformed")
    if (time.time() if now is None else now) > expires:
        raise Untrusted("expired")
    for key in keys:
        expected = _digest(key, routing_key, stamp, content_type, encoding, body)
        if hmac.compare_digest(expected, digest):
            return
    raise Untrusted("invalid")


def raw_body(message: Any) -> bytes:
    """The body of a received kombu message exactly as it travelled."""
    body = message.body
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


@dataclass(frozen=True)
class SignedRequest:
    """An RPC request serialised once and signed: publish ``body`` with ``content_type``,
    ``content_encoding`` and ``headers`` (merged into the message's own)."""

    body: bytes
    content_type: str
    content_encoding: str
    headers: dict[str, str]

    def publish_options(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "content_encoding": self.content_encoding,
            "headers": self.headers,
        }


def signed_request(
    key: bytes,
    service: str,
    method: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    expires: float,
    *,
    serializer: str = "json",
) -> SignedRequest:
    """Serialise ``{"args", "kwargs"}`` as nameko does and sign the bytes for
    ``service.method`` until ``expires``; the headers hold the proof (``nameko.rpc_proof``)."""
    content_type, encoding, body = kombu.serialization.dumps(
        {"args": list(args), "kwargs": dict(kwargs)}, serializer
    )
    data = body.encode(encoding or "utf-8") if isinstance(body, str) else body
    proof = sign(
        key, f"{service}.{method}", data, expires, content_type=content_type, encoding=encoding
    )
    return SignedRequest(data, content_type, encoding, {f"nameko.{PROOF_KEY}": proof})
