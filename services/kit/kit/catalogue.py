"""What the kit asks of an event catalogue, and which one this process uses.

The kit validates every event a unit of work writes to the outbox (strictly) and every event a
consumer takes from a queue (as a tolerant reader), but it knows no event: the catalogue is the
platform's published language (``language.events``) and the kit does not import it. The
catalogue registers itself here when it is imported (``import language`` does it) — every
service imports it, since its domain and its events speak that language — or a service hands
one to its ``Database(catalogue=...)``. With none, a unit of work that has events to write and
a consumer that has events to read refuse them (``CatalogueMissing``): nothing is published or
applied unchecked.
"""

from __future__ import annotations

from typing import Any, Protocol

from kit.errors import InvalidInput


class EventInvalid(InvalidInput):
    """An event that is not in the catalogue, comes from the wrong source, or does not match
    its schema."""

    code = "EVENT_INVALID"


class CatalogueMissing(RuntimeError):
    """No catalogue was registered in this process nor handed to its database."""


class Catalogue(Protocol):
    def outgoing(self, source: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Validate an event ``source`` is about to publish; return its JSON-ready body, or
        raise ``EventInvalid``."""
        ...

    def incoming(self, source: str, event_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a consumed event of ``source``; return it loaded, or raise
        ``EventInvalid``."""
        ...


_registered: Catalogue | None = None


def register(catalogue: Catalogue) -> None:
    """Make ``catalogue`` the one this process validates events with (the last one wins)."""
    global _registered
    _registered = catalogue


def registered() -> Catalogue:
    """The catalogue registered in this process."""
    if _registered is None:
        raise CatalogueMissing(
            "no event catalogue is registered: import language (its events register "
            "themselves) or pass Database(catalogue=...)"
        )
    return _registered
