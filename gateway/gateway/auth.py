"""Bearer tokens (JWT, HS256 fixed in code) and password hashing (argon2id).

The algorithm is never read from the token: ``alg=none`` or an RS/HS confusion is refused by
construction. Tokens carry the user's id, name, role and organization, so authenticating a
request needs no database round trip; they expire after ``JINGUO_TOKEN_TTL`` seconds.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventlet import tpool
from nameko.extensions import DependencyProvider

from gateway.errors import Unauthorized
from kit.actor import Actor
from kit.config import require_secret

ALGORITHM = "HS256"
ISSUER = "jinguo"
DEV_SECRET = "jinguo-development-secret-never-deploy-this"  # noqa: S105 - refused outside dev mode
MIN_SECRET_LENGTH = 32


class Tokens:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise RuntimeError(f"JINGUO_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    # --- tokens --------------------------------------------------------------------------

    def issue(self, actor: Actor) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": actor.user_id,
            "name": actor.username,
            "role": actor.role,
            "org": actor.organization_id,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Actor:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(
                "the access token has expired; ask for a new one", code="TOKEN_EXPIRED"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(
                f"the access token is not valid: {exc}", code="INVALID_TOKEN"
            ) from None
        return Actor(
            user_id=str(claims["sub"]),
            username=str(claims.get("name", "")),
            role=str(claims.get("role", "")),
            organization_id=claims.get("org"),
        )

    def authenticate(self, authorization: str | None) -> Actor:
        if not authorization:
            raise Unauthorized(
                "send 'Authorization: Bearer <token>'", code="AUTHENTICATION_REQUIRED"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "send 'Authorization: Bearer <token>'", code="AUTHENTICATION_REQUIRED"
            )
        return self.verify(token.strip())


_hasher = PasswordHasher()
# verifying against a throwaway hash keeps "no such user" as slow as "wrong password"
_decoy = _hasher.hash(uuid.uuid4().hex)


def hash_password(password: str) -> str:
    """argon2id hash; run off the event loop (it is deliberately slow) so requests go on."""
    return tpool.execute(_hasher.hash, password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        verified = bool(tpool.execute(_hasher.verify, password_hash or _decoy, password))
    except (VerificationError, InvalidHashError):
        return False
    return verified and password_hash is not None


class Auth(DependencyProvider):
    """Reads the token secret and lifetime from config; refuses a default secret outside dev."""

    def setup(self) -> None:
        config = self.container.config
        secret = require_secret(config, "JWT_SECRET", dev_default=DEV_SECRET)
        self.tokens = Tokens(secret, int(config.get("TOKEN_TTL_SECONDS") or 3600))

    def get_dependency(self, worker_ctx: Any) -> Tokens:
        return self.tokens
