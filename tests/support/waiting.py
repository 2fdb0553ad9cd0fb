"""Waiting for an asynchronous world to catch up, in tests and benchmarks.

Both poll with a green sleep (the suite runs under eventlet's monkeypatch) and fail with an
AssertionError that says what was awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import eventlet


def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> Any:
    """``predicate()``'s first truthy value; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not true within {timeout:g}s: {what or predicate.__doc__ or predicate}"
            )
        eventlet.sleep(interval)


def eventually(
    attempt: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.1,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = AssertionError,
) -> Any:
    """``attempt()``'s result, retried while it raises ``retry_on`` (an assertion, by default:
    the world has not caught up yet); after ``timeout`` seconds its last error is raised."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except retry_on:
            if time.monotonic() > deadline:
                raise
            eventlet.sleep(interval)
