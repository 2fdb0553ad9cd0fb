"""Domain events recorded by aggregates (plain Python: domain modules import this).

An aggregate records what happened (``record``); the unit of work pulls the events of every
object in its session at commit and writes them to the outbox in the same transaction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

_sequence = itertools.count()


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened, named in the past tense, with the data consumers need."""

    name: str
    data: dict[str, Any]
    # process-wide order of recording, so events of several aggregates keep their order
    seq: int = field(default_factory=lambda: next(_sequence), compare=False)


class Aggregate:
    """Mixin for entities that record domain events.

    The list lives in ``__dict__`` and is created lazily: ORM-loaded instances never run
    ``__init__``, and the list must never become a mapped column.
    """

    def record(self, event_name: str, /, **data: Any) -> DomainEvent:
        event = DomainEvent(event_name, data)
        self.__dict__.setdefault("_pending_events", []).append(event)
        return event

    def pull_events(self) -> list[DomainEvent]:
        return self.__dict__.pop("_pending_events", [])
