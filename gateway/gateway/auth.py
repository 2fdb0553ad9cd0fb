"""Bearer tokens (JWT, HS256 fixed in code), their revocation, and password hashing (argon2id).

The algorithm is never read from the token: ``alg=none`` or an RS/HS confusion is refused by
construction. Tokens carry the user's id, name, role and organization, and the user's
``token_version`` when issued; they expire after ``JINGUO_TOKEN_TTL`` seconds.

Revocation: a change that must end a user's sessions (password, role, organization,
disabled) raises her ``token_version`` in the users table, and a token naming an older version
is refused (401 ``TOKEN_REVOKED``; ``ACCOUNT_DISABLED`` while she is disabled). Checking it
costs no database round trip on most requests: each gateway process keeps every user's
(version, disabled) for ``GATEWAY_SESSION_CACHE_TTL`` seconds, drops it at once when it makes
the change itself, and drops it on the change notice (``kit.changes``, ``gateway.user``) the
process that made it sends to the others — within milliseconds; a notice lost leaves another
process accepting the old token for at most the TTL.

The signing secret (``JINGUO_JWT_SECRET``) must be at least 32 characters of high entropy and
none of the example values written in this repository; only in dev/test mode may it be unset,
and then each process signs with a random secret of its own (tokens end with the process).
"""

from __future__ import annotations

import logging
import math
import secrets
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventlet import tpool
from kombu.pools import ProducerPool

from gateway.errors import Unauthorized
from gateway.identity import User
from gateway.readcache import ReadCache, ReadCacheProvider
from gateway.store import SessionState, session_state
from kit.amqp import close_pool, producer_pool
from kit.changes import publish_notice
from kit.db import DatabaseResource
from kit.dependencies import Database
from language.actor import Actor

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ISSUER = "jinguo"
MIN_SECRET_LENGTH = 32
#: a secret's entropy estimated from its own characters (length x Shannon entropy per
#: character); 64 hex characters from ``openssl rand -hex 32`` give about 250 bits
MIN_SECRET_BITS = 128
#: values written in this repository as examples (or, once, as the development default):
#: everybody can read them, so no installation may sign with them
EXAMPLE_SECRETS = frozenset(
    {
        "jinguo-development-secret-never-deploy-this",
        "change-me-to-64-random-hex-characters",
        "change-me",
    }
)
DEV_MODES = ("dev", "development", "test")
HOW_TO_SET = "set JINGUO_JWT_SECRET to at least 32 random bytes, e.g. $(openssl rand -hex 32)"
#: the change notices that end a user's sessions in every gateway process
USER_NOTICES = ("gateway", "user")


class WeakSecret(RuntimeError):
    """The gateway refuses to start: the signing secret is missing or guessable."""


def estimated_bits(secret: str) -> float:
    """Length x the Shannon entropy of the secret's own characters: low for repetitions and
    short alphabets, about 4 bits a character for hex and 6 for base64 of random bytes."""
    counts = Tally(secret)
    total = len(secret)
    per_character = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_character * total


def _periodic(secret: str) -> bool:
    """A shorter piece repeated ("abcd" * 16)."""
    return (secret + secret).find(secret, 1) < len(secret)


def check_secret(secret: str | None, *, dev_mode: bool) -> str | None:
    """The signing secret to use, or None in dev mode when none is set; raises WeakSecret
    with what to set otherwise."""
    if not secret:
        if dev_mode:
            return None
        raise WeakSecret(f"JINGUO_JWT_SECRET is not set: {HOW_TO_SET}")
    if secret in EXAMPLE_SECRETS:
        raise WeakSecret(f"JINGUO_JWT_SECRET is an example value from the repository: {HOW_TO_SET}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise WeakSecret(
            f"JINGUO_JWT_SECRET is {len(secret)} characters, fewer than {MIN_SECRET_LENGTH}: "
            f"{HOW_TO_SET}"
        )
    if not dev_mode and (estimated_bits(secret) < MIN_SECRET_BITS or _periodic(secret)):
        raise WeakSecret(f"JINGUO_JWT_SECRET is too easy to guess (repetitive): {HOW_TO_SET}")
    return secret


class Tokens:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise RuntimeError(f"JINGUO_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    # --- tokens --------------------------------------------------------------------------

    def issue(self, actor: Actor, token_version: int = 0) -> str:
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
            "ver": token_version,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Actor:
        return actor_of(self.claims(token))

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of a token signed with this secret and not expired; 401 otherwise."""
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
        return claims

    def authenticate(self, authorization: str | None) -> Actor:
        return self.verify(bearer_token(authorization))


def actor_of(claims: dict[str, Any]) -> Actor:
    return Actor(
        user_id=str(claims["sub"]),
        username=str(claims.get("name", "")),
        role=str(claims.get("role", "")),
        organization_id=claims.get("org"),
    )


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="AUTHENTICATION_REQUIRED")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="AUTHENTICATION_REQUIRED")
    return token.strip()


def check_session(claims: dict[str, Any], state: SessionState | None) -> None:
    """A verified token is still good: its user exists, is not disabled, and has not had her
    sessions ended since it was issued."""
    if state is None:
        raise Unauthorized("the user of this token no longer exists", code="TOKEN_REVOKED")
    if state.disabled:
        raise Unauthorized("this account is disabled", code="ACCOUNT_DISABLED")
    if claims.get("ver") != state.token_version:
        raise Unauthorized(
            "this token was ended by a change to the account (password, role, organization "
            "or access); log in again",
            code="TOKEN_REVOKED",
        )


class Sessions:
    """What a worker gets as ``self.auth``: issue tokens, authenticate requests (signature,
    expiry and revocation), and end a user's sessions in every gateway process."""

    def __init__(
        self,
        tokens: Tokens,
        states: Callable[[str], SessionState | None],
        cache: ReadCache,
        announce: Callable[[str], None],
    ) -> None:
        self.tokens = tokens
        self._states = states
        self._cache = cache
        self._announce = announce

    @property
    def ttl_seconds(self) -> int:
        return self.tokens.ttl_seconds

    def issue(self, user: User) -> str:
        return self.tokens.issue(user.as_actor(), user.token_version)

    def authenticate(self, authorization: str | None) -> Actor:
        claims = self.tokens.claims(bearer_token(authorization))
        try:
            check_session(claims, self.state(str(claims["sub"])))
        except Unauthorized as exc:
            # the token's signature is good: its claims say who was refused (for the audit)
            exc.actor = actor_of(claims)  # type: ignore[attr-defined]
            raise
        return actor_of(claims)

    def state(self, user_id: str) -> SessionState | None:
        state = self._cache.get(user_id)
        if state is None:
            ticket = self._cache.ticket()  # a change committed meanwhile keeps this out
            state = self._states(user_id)
            if state is not None:
                self._cache.put(user_id, state, ticket)
        return state

    def ended(self, user_id: str) -> None:
        """Call after committing a change that ended ``user_id``'s sessions."""
        self._cache.forget(user_id)
        self._announce(user_id)


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


class Auth(ReadCacheProvider):
    """Reads the token secret and lifetime from config (refusing a missing or guessable
    secret outside dev mode), keeps the per-process cache of session states current from the
    ``gateway.user`` change notices, and publishes those notices."""

    def __init__(self) -> None:
        super().__init__("sessions", follows=USER_NOTICES, config_prefix="SESSION_CACHE", ttl=10.0)
        self.tokens: Tokens | None = None
        self.producers: ProducerPool | None = None
        self.resource: DatabaseResource | None = None

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        dev_mode = str(config.get("JINGUO_ENV") or "production").lower() in DEV_MODES
        secret = check_secret(config.get("JWT_SECRET"), dev_mode=dev_mode)
        if secret is None:
            secret = secrets.token_hex(32)
            log.warning(
                "JINGUO_JWT_SECRET is not set: signing with a random secret of this process "
                "(dev mode); its tokens end with it"
            )
        self.tokens = Tokens(secret, int(config.get("TOKEN_TTL_SECONDS") or 3600))
        self.producers = producer_pool(config, confirms=False, size=2)

    def start(self) -> None:
        super().start()
        # in start, not setup: every Database has built its resource by now
        for extension in self.container.dependencies:
            if isinstance(extension, Database) and extension.resource is not None:
                self.resource = extension.resource

    def stop(self) -> None:
        super().stop()
        close_pool(self.producers)

    def kill(self) -> None:
        super().kill()
        close_pool(self.producers)

    def _state(self, user_id: str) -> SessionState | None:
        assert self.resource is not None
        with self.resource.autocommit(write=False) as connection:
            return session_state(connection, user_id)

    def _announce(self, user_id: str) -> None:
        assert self.producers is not None
        publish_notice(self.producers, *USER_NOTICES, user_id)

    def get_dependency(self, worker_ctx: Any) -> Sessions:  # type: ignore[override]
        assert self.tokens is not None and self.cache is not None
        return Sessions(self.tokens, self._state, self.cache, self._announce)
