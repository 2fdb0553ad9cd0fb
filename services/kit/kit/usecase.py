"""How every service runs a use case: one context, one command, one transaction.

A use case is a plain function of the service's context and a typed command::

    def publish_project(ctx: Context, command: PublishProject) -> Project: ...

- ``ctx`` is the service's own ``Context`` (a dataclass in ``<service>/context.py``): the unit of
  work, the repositories, the directory copy, the actor, the clock and the service's ports (what
  it asks of the world: another service's answer, the keys that open personal data). The service
  builds it in one place, its ``context`` method; tests build it over in-memory fakes.
- ``command`` is a frozen dataclass (``<service>/commands.py``) that names what is asked; the
  entrypoint loads the payload with the marshmallow schema and builds the command from it.
- ``UseCases`` runs the use case in a write transaction (``execute``: commit at the end, roll back
  on any error) or a read-only one (``query``: the result is dumped before the session closes,
  so lazy attributes are still there). It is written here once, not in every service.
- A fact another service published is handled the same way (``react``), as the service's
  ``system_actor``, in the unit of work the idempotent consumer opened. An entrypoint never
  passes a missing actor through to mean "the system": ``context`` refuses one.

Time comes from ``ctx.clock`` — ``SystemClock`` in a service, ``FixedClock`` in a test — never
from ``utcnow()`` inside a use case, so a test can say what time it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from kit import audit
from kit.clock import local_date, utcnow
from kit.errors import ServiceError

log = logging.getLogger(__name__)

ContextT = TypeVar("ContextT")
CommandT = TypeVar("CommandT")
ResultT = TypeVar("ResultT")
DumpedT = TypeVar("DumpedT")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    """The time of the machine: aware UTC, and the date where Jinguo's users are."""

    def now(self) -> datetime:
        return utcnow()

    def today(self) -> date:
        return local_date(self.now())


@dataclass
class FixedClock:
    """A clock a test sets and moves."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return local_date(self.at)

    def advance(self, **delta: float) -> datetime:
        self.at = self.at + timedelta(**delta)
        return self.at


class UseCases(Generic[ContextT]):
    """Mix into a nameko service that has a ``db`` (``kit.dependencies.Database``) and says how
    to build its context; its entrypoints then read::

        @rpc
        def publish_project(self, project_id: str, actor: dict) -> dict:
            command = PublishProject(project_id=project_id)
            return PROJECT.dump(self.execute(actor, handlers.publish_project, command))
    """

    db: Any
    #: who the service is when it handles another service's fact (the platform's system actor)
    system_actor: dict[str, Any] | None = None
    #: fields of the service's objects that are personal data beyond ``kit.audit``'s own list
    #: (``"field"`` or ``"object_type.field"``): masked in audit records
    audit_personal: frozenset[str] = frozenset()

    def context(self, uow: Any, actor: dict[str, Any]) -> ContextT:
        """The use cases' context over ``uow`` for ``actor``, the mapping the call names (a
        missing one is refused, never taken for the system)."""
        raise NotImplementedError

    def execute(
        self,
        actor: dict[str, Any],
        use_case: Callable[[ContextT, CommandT], ResultT],
        command: CommandT,
    ) -> ResultT:
        """Run a use case that changes state in one unit of work and commit it, with its
        audit record (``kit.audit.record_act``) in the same transaction. A refusal (another
        federation's object is not found, a role may not) is recorded as ``denied`` in a
        transaction of its own, after the act's rolled back."""
        try:
            with self.db() as uow:
                context = self.context(uow, actor)
                result = use_case(context, command)
                audit.record_act(
                    uow,
                    context,
                    actor,
                    use_case,
                    command,
                    result,
                    personal=self.audit_personal,
                    # the service acting on its own (its scheduled checks) is recorded only
                    # when it changed something; a person's act always is
                    unless_unchanged=actor == self.system_actor,
                )
                uow.commit()
        except ServiceError as exc:
            if exc.kind in audit.DENIALS:
                self.audit_denial(actor, use_case, command, exc)
            raise
        return result

    def audit_denial(
        self, actor: dict[str, Any], use_case: Callable[..., Any], command: Any, exc: ServiceError
    ) -> None:
        """One ``denied`` record of a refused act (best effort: a failure to record it is
        logged, and the caller still hears the refusal)."""
        if not getattr(self.db, "audit_trail", True):
            return
        try:
            with self.db() as uow:
                context = self.context(uow, actor)
                audit.record_denial(uow, context, actor, use_case, command, exc)
                uow.commit()
        except Exception:
            log.exception("could not record the refusal of %s", audit.name_of(use_case))

    def query(
        self,
        actor: dict[str, Any],
        use_case: Callable[[ContextT, CommandT], ResultT],
        command: CommandT,
        dump: Callable[[ResultT], DumpedT],
    ) -> DumpedT:
        """Run a use case that only reads, in a read-only unit of work, and dump its answer
        before the session closes."""
        with self.db(readonly=True) as uow:
            return dump(use_case(self.context(uow, actor), command))

    def react(
        self, uow: Any, use_case: Callable[[ContextT, CommandT], ResultT], fact: CommandT
    ) -> ResultT:
        """Handle another service's fact in the consumer's unit of work (it commits, once), as
        the service's ``system_actor``."""
        if self.system_actor is None:
            raise RuntimeError(f"{type(self).__name__} reacts to facts but names no system_actor")
        context = self.context(uow, self.system_actor)
        result = use_case(context, fact)
        audit.record_act(
            uow, context, self.system_actor, use_case, fact, result, personal=self.audit_personal
        )
        return result
