"""The volunteers service's nameko entrypoints: load, call a use case, commit, dump.

It keeps a directory of organizations from registry events (``DirectoryConsumer``): a team's
host must be a federation or host unit there, and staff act within their federation's subtree.
It keeps the purchaser of each published project from projects' ``project_published`` events
(an activity names only a project of its line), and asks the projects service, as the actor,
about a project those events have not brought yet.
Verified service hours go out as ``service_hours_verified``; projects adds them to the project.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from nameko.dependency_providers import Config
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.web.handlers import http
from sqlalchemy.exc import IntegrityError, OperationalError

from kit.actor import Actor
from kit.calls import SystemRpc
from kit.clock import local_date, utcnow
from kit.consumer import on_event
from kit.db import UnitOfWork
from kit.dependencies import Database
from kit.directory import DirectoryConsumer
from kit.errors import InvalidInput, Unavailable
from kit.health import Health, health_response
from kit.metrics import Metrics
from kit.paging import Ordering, decode_cursor, sorted_page_request
from kit.rpc import RemoteFailure, rpc
from volunteers import handlers, schemas
from volunteers.crypto import PersonalDataKeys
from volunteers.exceptions import OutOfScope
from volunteers.handlers import VOLUNTEER_WRITES, Context
from volunteers.repository import (
    ACTIVITY_ORDER,
    ENROLMENT_ORDER,
    HOURS_ORDER,
    READS_ORDER,
    TEAM_ORDER,
    VOLUNTEER_ORDER,
)

log = logging.getLogger(__name__)

TEAM = schemas.TeamOut()
TEAM_PAGE = schemas.TeamPage()
MEMBERSHIP = schemas.MembershipOut()
VOLUNTEER = schemas.VolunteerOut()
VOLUNTEER_PAGE = schemas.VolunteerPage()
AUDIT_PAGE = schemas.AuditPage()
ACTIVITY = schemas.ActivityOut()
ACTIVITY_PAGE = schemas.ActivityPage()
ENROLMENT = schemas.EnrolmentOut()
ENROLMENT_PAGE = schemas.EnrolmentPage()
CANCELLATION = schemas.CancellationOut()
HOURS = schemas.HoursOut()
HOURS_PAGE = schemas.HoursPage()
STATEMENT = schemas.StatementOut()
REPORT = schemas.HoursReportOut()
IMPORT_PROGRESS = schemas.ImportProgressOut()
TEAM_CREATE_IN = schemas.TeamCreate()
TEAM_UPDATE_IN = schemas.TeamUpdate()
TEAM_FILTERS_IN = schemas.TeamFilters()
MEMBER_ADD_IN = schemas.MemberAdd()
PAGE_IN = schemas.PageFilters()
VOLUNTEER_CREATE_IN = schemas.VolunteerCreate()
VOLUNTEER_FILTERS_IN = schemas.VolunteerFilters()
VOLUNTEER_READ_IN = schemas.VolunteerRead()
AUDIT_FILTERS_IN = schemas.AuditFilters()
ACTIVITY_CREATE_IN = schemas.ActivityCreate()
ACTIVITY_FILTERS_IN = schemas.ActivityFilters()
ENROLMENT_CREATE_IN = schemas.EnrolmentCreate()
ENROLMENT_FILTERS_IN = schemas.EnrolmentFilters()
HOURS_CREATE_IN = schemas.HoursCreate()
REASON_IN = schemas.HoursRejectionRequest()
HOURS_FILTERS_IN = schemas.HoursFilters()
REPORT_FILTERS_IN = schemas.ReportFilters()

#: PostgreSQL lock_not_available (a COPY that waited out its lock_timeout), deadlock, and
#: serialization failure: the batch or registration is simply tried again
RETRYABLE = ("55P03", "40P01", "40001")
ATTEMPTS = 3
#: the most rows one import call takes (the gateway sends 2,000 by default)
MAX_BATCH_ROWS = 10_000
#: the longest the service waits for the projects service's answer about a project
PROJECT_LOOKUP_TIMEOUT = 5.0


def _pages(filters: dict[str, Any], order: Ordering) -> Any:
    """The page asked for, in the order ``filters`` names (``sort``, where the list has it)."""
    return sorted_page_request(filters, order)


class VolunteersService(DirectoryConsumer):
    name = "volunteers"

    db = Database()
    health_report = Health()
    metrics = Metrics()
    config = Config()
    personal_data = PersonalDataKeys()
    projects = SystemRpc("projects", timeout=PROJECT_LOOKUP_TIMEOUT)

    def _context(self, uow: Any, actor: dict[str, Any]) -> Context:
        return Context(
            uow,
            Actor.from_dict(actor),
            self.personal_data,
            lambda project_id: self._ask_projects(project_id, actor),
        )

    def _ask_projects(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any] | None:
        """The project as the projects service shows it to the actor, or None when there is
        none for her. The call is the service's own (signed with its key), naming the actor it
        serves, so projects applies her visibility (a draft only to its purchaser's line).
        Waits at most ``PROJECT_LOOKUP_TIMEOUT`` seconds; no answer is a 503, never a
        refusal."""
        try:
            project = self.projects.call("get_project", project_id, actor=actor)
        except RemoteFailure as failure:
            if failure.kind == "not_found":
                return None
            raise Unavailable(f"the projects service could not say ({failure.code})") from None
        except UnknownService:
            raise Unavailable("the projects service is not running") from None
        except RpcTimeout:
            raise Unavailable("the projects service did not answer in time") from None
        return {"purchaser_id": project["purchaser_id"], "status": project["status"]}

    @on_event("projects", "project_published")
    def project_published(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.learn_project(uow, event)

    def _write(self, actor: dict[str, Any], use_case: Callable, *args: Any) -> Any:
        """Run a use case that changes state in one unit of work and commit it."""
        with self.db() as uow:
            result = use_case(self._context(uow, actor), *args)
            uow.commit()
        return result

    def _read(self, actor: dict[str, Any], use_case: Callable, dump: Callable, *args: Any) -> Any:
        with self.db(readonly=True) as uow:
            return dump(use_case(self._context(uow, actor), *args))

    def _write_volunteers(self, actor: dict[str, Any], use_case: Callable, *args: Any) -> Any:
        """A write of volunteer rows: in turn with this process's other such writes, and tried
        again when it collided with another process's (the retry then sees what that one wrote,
        so a duplicate is reported as one)."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with VOLUNTEER_WRITES:
                    return self._write(actor, use_case, *args)
            except (IntegrityError, OperationalError) as exc:
                code = getattr(exc.orig, "pgcode", None)
                if attempt == ATTEMPTS or not (
                    isinstance(exc, IntegrityError) or code in RETRYABLE
                ):
                    raise
                log.info("volunteer write collided (%s); trying again", type(exc).__name__)
        raise AssertionError("unreachable")

    # --- teams ------------------------------------------------------------------------------

    @rpc
    def create_team(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        data = TEAM_CREATE_IN.load(payload)
        team = self._write(actor, handlers.create_team, data, utcnow())
        return TEAM.dump(handlers.team_view(team, 0))

    @rpc
    def edit_team(
        self, team_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        changes = TEAM_UPDATE_IN.load(payload)
        self._write(actor, handlers.edit_team, team_id, changes, utcnow())
        return self.get_team(team_id, actor)

    @rpc
    def get_team(self, team_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, handlers.get_team, TEAM.dump, team_id)

    @rpc
    def list_teams(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = TEAM_FILTERS_IN.load(filters or {})
        request = _pages(filters, TEAM_ORDER)
        return self._read(actor, handlers.list_teams, TEAM_PAGE.dump, filters, request)

    @rpc
    def add_member(
        self, team_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        volunteer_id = MEMBER_ADD_IN.load(payload)["volunteer_id"]
        return MEMBERSHIP.dump(
            self._write(actor, handlers.add_member, team_id, volunteer_id, utcnow())
        )

    @rpc
    def list_members(
        self, team_id: str, filters: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        filters = PAGE_IN.load(filters or {})
        request = _pages(filters, VOLUNTEER_ORDER)
        return self._read(actor, handlers.list_members, VOLUNTEER_PAGE.dump, team_id, request)

    # --- volunteers -------------------------------------------------------------------------

    @rpc
    def register_volunteer(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        data = VOLUNTEER_CREATE_IN.load(payload)
        now = utcnow()
        view = self._write_volunteers(
            actor, handlers.register_volunteer, data, now, local_date(now)
        )
        return VOLUNTEER.dump(view)

    @rpc
    def get_volunteer(
        self, volunteer_id: str, options: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        options = VOLUNTEER_READ_IN.load(options or {})
        wanted = options["fields_"].split(",") if options["fields_"] else None
        arguments = (volunteer_id,)
        keywords = {
            "unmasked": options["unmasked"],
            "fields": wanted,
            "reason": options["reason"],
            "at": utcnow(),
        }
        if options["unmasked"]:  # the audit row commits with the read
            return VOLUNTEER.dump(
                self._write(
                    actor, lambda ctx, *a: handlers.get_volunteer(ctx, *a, **keywords), *arguments
                )
            )
        return self._read(
            actor,
            lambda ctx, *a: handlers.get_volunteer(ctx, *a, **keywords),
            VOLUNTEER.dump,
            *arguments,
        )

    @rpc
    def list_volunteers(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = VOLUNTEER_FILTERS_IN.load(filters or {})
        request = _pages(filters, VOLUNTEER_ORDER)
        return self._read(actor, handlers.list_volunteers, VOLUNTEER_PAGE.dump, filters, request)

    @rpc
    def personal_data_reads(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = AUDIT_FILTERS_IN.load(filters or {})
        request = _pages(filters, READS_ORDER)
        return self._read(actor, handlers.audit, AUDIT_PAGE.dump, filters, request)

    @rpc
    def import_volunteers(
        self, import_id: str, rows: list[Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        """One batch of a CSV import (the gateway parses the file and sends rows in batches):
        ``rows`` are ``[line, name, phone, id_number, skills, consented_on, team]``. The batch
        commits as a whole; the result counts it and lists each row that did not go in."""
        if not isinstance(rows, list) or len(rows) > MAX_BATCH_ROWS:
            raise InvalidInput(
                f"a batch is a list of at most {MAX_BATCH_ROWS} rows", field="rows", rule="shape"
            )
        try:
            import_id = str(uuid.UUID(str(import_id)))
        except ValueError:
            raise InvalidInput("import_id is a UUID", field="import_id", rule="uuid") from None
        now = utcnow()
        return self._write_volunteers(
            actor, handlers.import_batch, import_id, rows, now, local_date(now)
        )

    @rpc
    def import_progress(self, import_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        """How far an import has come: polled by the console while the file goes in."""
        return self._read(actor, handlers.import_progress, IMPORT_PROGRESS.dump, import_id)

    @rpc
    def reencrypt_personal_data(self, limit: int, actor: dict[str, Any]) -> dict[str, Any]:
        """Seal volunteers' data sealed with a retired key again with the current one (a batch
        of at most ``limit``); call until it answers 0. Admins only."""
        if not Actor.from_dict(actor).is_admin:
            raise OutOfScope("re-encryption is for admins")
        with self.db() as uow:
            done = handlers.reencrypt(uow, self.personal_data, max(1, min(int(limit), 10_000)))
            uow.commit()
        return {"reencrypted": done, "key_id": self.personal_data.current_key_id}

    # --- activities and enrolment -----------------------------------------------------------

    @rpc
    def create_activity(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        data = ACTIVITY_CREATE_IN.load(payload)
        return ACTIVITY.dump(self._write(actor, handlers.create_activity, data, utcnow()))

    @rpc
    def get_activity(self, activity_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, handlers.get_activity, ACTIVITY.dump, activity_id)

    @rpc
    def list_activities(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = ACTIVITY_FILTERS_IN.load(filters or {})
        request = _pages(filters, ACTIVITY_ORDER)
        return self._read(actor, handlers.list_activities, ACTIVITY_PAGE.dump, filters, request)

    @rpc
    def enrol(
        self, activity_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        data = ENROLMENT_CREATE_IN.load(payload)
        enrolment = self._write(
            actor, handlers.enrol, activity_id, data["volunteer_id"], data["waitlist"], utcnow()
        )
        return ENROLMENT.dump(enrolment)

    @rpc
    def cancel_enrolment(self, enrolment_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return CANCELLATION.dump(
            self._write(actor, handlers.cancel_enrolment, enrolment_id, utcnow())
        )

    @rpc
    def list_enrolments(
        self, activity_id: str, filters: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        filters = ENROLMENT_FILTERS_IN.load(filters or {})
        request = _pages(filters, ENROLMENT_ORDER)
        return self._read(
            actor, handlers.list_enrolments, ENROLMENT_PAGE.dump, activity_id, filters, request
        )

    # --- service hours ----------------------------------------------------------------------

    @rpc
    def log_hours(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        data = HOURS_CREATE_IN.load(payload)
        return HOURS.dump(self._write(actor, handlers.log_hours, data, utcnow()))

    @rpc
    def verify_hours(self, entry_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return HOURS.dump(self._write(actor, handlers.decide_hours, entry_id, True, None, utcnow()))

    @rpc
    def reject_hours(
        self, entry_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REASON_IN.load(payload or {})["reason"]
        return HOURS.dump(
            self._write(actor, handlers.decide_hours, entry_id, False, reason, utcnow())
        )

    @rpc
    def get_hours(self, entry_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, handlers.get_hours, HOURS.dump, entry_id)

    @rpc
    def list_hours(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = HOURS_FILTERS_IN.load(filters or {})
        request = _pages(filters, HOURS_ORDER)
        return self._read(actor, handlers.list_hours, HOURS_PAGE.dump, filters, request)

    @rpc
    def volunteer_hours(self, volunteer_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, handlers.statement, STATEMENT.dump, volunteer_id)

    @rpc
    def hours_report(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = _report_filters(filters)
        return self._read(
            actor, lambda ctx, f: handlers.report(ctx, f, paged=True), REPORT.dump, filters
        )

    # --- operations -------------------------------------------------------------------------

    @rpc
    def health(self) -> dict[str, Any]:
        return self.health_report()

    @http("GET", "/healthz")
    def serve_health(self, request: Any) -> Any:
        """For readiness probes: the database answers, the outbox backlog, the queues consumed."""
        return health_response(self.health_report())

    @http("GET", "/metrics")
    def serve_metrics(self, request: Any) -> Any:
        return self.metrics()


def _report_filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    filters = REPORT_FILTERS_IN.load(filters or {})
    cursor = filters.pop("cursor", None)
    filters["after"] = decode_cursor(cursor, 1)[0] if cursor else None
    return filters
