"""Login throttling: lock a username after repeated failures, rate-limit a client address.

Plain Python: the rules decide from a counter's state; ``gateway.store.ThrottleStore`` keeps
the counters in the gateway's database (so every gateway process sees the same), and
``gateway.accounts`` applies them around each password check.

A counter counts attempts within a window that starts with the first one. An attempt is
counted *before* its password is checked (so a burst of parallel guesses cannot slip past the
limit while the first ones are still being verified); a success then takes it back — for a
username by clearing the counter, for an address by taking one off. When a failure makes the
count reach the limit, the key is locked for ``lock`` seconds; until then every attempt is
refused without looking at the password, or at whether the username exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` failed attempts within ``window``; reaching it locks for ``lock``."""

    scope: str
    limit: int
    window: timedelta
    lock: timedelta


#: 5 failed attempts for one username within 15 minutes lock it for 15 minutes
USERNAME_RULE = Rule("username", limit=5, window=timedelta(minutes=15), lock=timedelta(minutes=15))
#: 20 failed attempts from one client address within a minute hold it for a minute
ADDRESS_RULE = Rule("address", limit=20, window=timedelta(minutes=1), lock=timedelta(minutes=1))


@dataclass(frozen=True)
class Counter:
    key: str
    attempts: int
    window_started: datetime
    locked_until: datetime | None = None

    def expires_at(self, rule: Rule) -> datetime:
        """After this the counter means nothing and may be deleted."""
        end = self.window_started + rule.window
        return max(end, self.locked_until) if self.locked_until else end


@dataclass(frozen=True)
class Decision:
    """``counter`` to store (None: leave it); ``retry_after`` seconds when refused."""

    counter: Counter | None
    retry_after: int | None = None

    @property
    def admitted(self) -> bool:
        return self.retry_after is None


#: the longest key the table holds
MAX_KEY_LENGTH = 200


def key_of(rule: Rule, value: str) -> str:
    return f"{rule.scope}:{value}"[:MAX_KEY_LENGTH]


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def admit(rule: Rule, key: str, counter: Counter | None, now: datetime) -> Decision:
    """Count one more attempt, or refuse it (locked, or the limit taken by attempts in flight)."""
    if counter is not None and counter.locked_until is not None and counter.locked_until > now:
        return Decision(None, _seconds_until(counter.locked_until, now))
    fresh = (
        counter is None
        or counter.window_started + rule.window <= now
        or (counter.locked_until is not None and counter.locked_until <= now)
    )
    if fresh:
        return Decision(Counter(key, 1, now))
    assert counter is not None
    if counter.attempts >= rule.limit:
        # the limit is taken by attempts still being checked: wait for the window to pass
        return Decision(None, _seconds_until(counter.window_started + rule.window, now))
    return Decision(replace(counter, attempts=counter.attempts + 1))


def failed(rule: Rule, counter: Counter, now: datetime) -> tuple[Counter, bool]:
    """The attempt ``admit`` counted failed: lock when the limit is reached (and say so)."""
    if counter.attempts >= rule.limit and counter.locked_until is None:
        return replace(counter, locked_until=now + rule.lock), True
    return counter, False


def succeeded(counter: Counter) -> Counter | None:
    """The attempt ``admit`` counted succeeded: take it back (None: delete the counter)."""
    if counter.attempts <= 1:
        return None
    return replace(counter, attempts=counter.attempts - 1)
