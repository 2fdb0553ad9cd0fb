"""The volunteers service's nameko entrypoints: load the payload, build the command, run the
use case (``kit.usecase.UseCases``), dump the answer.

It keeps a directory of organizations from registry events (``DirectoryConsumer``): a team's
host must be a federation or host unit there, and staff act within their federation's subtree.
It keeps the purchaser of each published project from projects' ``project_published`` events
(an activity names only a project of its line), and asks the projects service, as the actor,
about a project those events have not brought yet.
Verified service hours go out as ``service_hours_verified``; projects adds them to the project.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.dependency_providers import Config
from nameko.exceptions import RpcTimeout, UnknownService

from kit.anchoring import AuditKeeper, anchors_from
from kit.audit import AuditDesk
from kit.calls import SystemRpc
from kit.consumer import on_event
from kit.db import UnitOfWork
from kit.dependencies import Database
from kit.errors import Unavailable
from kit.operations import Operations
from kit.paging import decode_cursor, sorted_page_request
from kit.rpc import RemoteFailure, rpc
from kit.schedule import moment_of, scheduled
from kit.usecase import SystemClock, UseCases
from language.actor import SYSTEM, Actor
from language.directory import DirectoryConsumer
from volunteers import commands as c
from volunteers import schemas
from volunteers.context import Context
from volunteers.crypto import PersonalDataKeys
from volunteers.domain.identity import AUDIT_PERSONAL
from volunteers.handlers import (
    activities,
    certificates,
    hours,
    imports,
    reminders,
    teams,
    volunteers,
    workbench,
    writes,
)
from volunteers.handlers import assessment as assessment_handlers
from volunteers.repository import (
    ACTIVITY_ORDER,
    CERTIFICATE_ORDER,
    ENROLMENT_ORDER,
    HOURS_ORDER,
    READS_ORDER,
    TEAM_ORDER,
    VOLUNTEER_ORDER,
)
from volunteers.signing import CertificateKeys

TEAM = schemas.TeamOut()
WORKBENCH = schemas.VolunteersWorkbenchOut()
ASSESSMENT = schemas.AssessmentVolunteersOut()
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
CERTIFICATE_IN = schemas.CertificateRequest()
CERTIFICATE_FILTERS_IN = schemas.CertificateFilters()
REVOCATION_IN = schemas.CertificateRevocation()
CERTIFICATE = schemas.CertificateOut()
CERTIFICATE_PAGE = schemas.CertificatePage()
FIGURES = schemas.CertificateFigures()
VERIFICATION = schemas.CertificateVerification()
ACCOUNT_LINK = schemas.AccountLink()

#: the longest the service waits for the projects service's answer about a project
PROJECT_LOOKUP_TIMEOUT = 5.0


class VolunteersService(DirectoryConsumer, Operations, AuditDesk, UseCases[Context]):
    name = "volunteers"

    db = Database()
    #: anchors this log's head in the others' and prunes it (``kit.anchoring``)
    audit_keeper = AuditKeeper()
    # the heads of the logs this service hears, written into its own
    registry_audit_anchor = anchors_from("registry")
    projects_audit_anchor = anchors_from("projects")
    system_actor = SYSTEM.to_dict()
    audit_personal = AUDIT_PERSONAL
    config = Config()
    personal_data = PersonalDataKeys()
    certificate_key = CertificateKeys()
    projects = SystemRpc("projects", actor=SYSTEM.to_dict(), timeout=PROJECT_LOOKUP_TIMEOUT)

    def context(self, uow: Any, actor: dict[str, Any]) -> Context:
        """The one place a use case's context is built."""
        return Context.over(
            uow,
            Actor.from_dict(actor),
            self.personal_data,
            lambda project_id: self._ask_projects(project_id, actor),
            signer=self.certificate_key,
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

    def _execute_in_turn(
        self, actor: dict[str, Any], use_case: Callable[[Context, Any], Any], command: Any
    ) -> Any:
        """A write of volunteer rows: in turn with this process's others, retried on a
        collision with another process's (``handlers.writes``)."""
        return writes.in_turn(lambda: self.execute(actor, use_case, command))

    @on_event("projects", "project_published")
    def project_published(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        fact = c.ProjectPublished(
            project_id=event["project_id"],
            purchaser_id=event["purchaser_id"],
            occurred_at=event["occurred_at"],
        )
        self.react(uow, activities.learn_project, fact)

    # --- the daily check ----------------------------------------------------------------------

    @scheduled
    def scheduled_checks(self, as_of: str) -> dict[str, int]:
        """Run by the replica holding the schedule's lease, every SCHEDULE_INTERVAL_SECONDS."""
        command = c.RunChecks(moment_of(as_of))
        return self.execute(self.system_actor, reminders.run_checks, command)  # type: ignore[arg-type]

    @rpc
    def run_checks(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, int]:
        """``{as_of?}``: the daily check as of a moment (default now), for the system and
        admins — tests set the time, ops catch up by hand after an outage."""
        as_of = (payload or {}).get("as_of")
        command = c.RunChecks(moment_of(as_of) if as_of else SystemClock().now())
        return self.execute(actor, reminders.run_checks, command)

    # --- teams ------------------------------------------------------------------------------

    @rpc
    def create_team(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = c.CreateTeam(**TEAM_CREATE_IN.load(payload))
        return TEAM.dump(self.execute(actor, teams.create_team, command))

    @rpc
    def edit_team(
        self, team_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = c.EditTeam(team_id=team_id, changes=TEAM_UPDATE_IN.load(payload))
        self.execute(actor, teams.edit_team, command)
        return self.get_team(team_id, actor)

    @rpc
    def get_team(self, team_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self.query(actor, teams.get_team, c.GetTeam(team_id=team_id), TEAM.dump)

    @rpc
    def list_teams(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = TEAM_FILTERS_IN.load(filters or {})
        command = c.ListTeams(page=sorted_page_request(filters, TEAM_ORDER), **filters)
        return self.query(actor, teams.list_teams, command, TEAM_PAGE.dump)

    @rpc
    def add_member(
        self, team_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = c.AddMember(team_id=team_id, **MEMBER_ADD_IN.load(payload))
        return MEMBERSHIP.dump(self.execute(actor, teams.add_member, command))

    @rpc
    def list_members(
        self, team_id: str, filters: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        filters = PAGE_IN.load(filters or {})
        command = c.ListMembers(team_id=team_id, page=sorted_page_request(filters, VOLUNTEER_ORDER))
        return self.query(actor, teams.list_members, command, VOLUNTEER_PAGE.dump)

    # --- volunteers -------------------------------------------------------------------------

    @rpc
    def register_volunteer(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = c.RegisterVolunteer(**VOLUNTEER_CREATE_IN.load(payload))
        return VOLUNTEER.dump(self._execute_in_turn(actor, volunteers.register_volunteer, command))

    @rpc
    def get_volunteer(
        self, volunteer_id: str, options: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        options = VOLUNTEER_READ_IN.load(options or {})
        command = c.GetVolunteer(
            volunteer_id=volunteer_id,
            unmasked=options["unmasked"],
            fields=tuple(options["fields_"].split(",")) if options["fields_"] else None,
            reason=options["reason"],
        )
        if command.unmasked:  # the audit row commits with the read
            return VOLUNTEER.dump(self.execute(actor, volunteers.get_volunteer, command))
        return self.query(actor, volunteers.get_volunteer, command, VOLUNTEER.dump)

    @rpc
    def list_volunteers(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = VOLUNTEER_FILTERS_IN.load(filters or {})
        command = c.ListVolunteers(page=sorted_page_request(filters, VOLUNTEER_ORDER), **filters)
        return self.query(actor, volunteers.list_volunteers, command, VOLUNTEER_PAGE.dump)

    @rpc
    def personal_data_reads(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = AUDIT_FILTERS_IN.load(filters or {})
        command = c.ListPersonalDataReads(page=sorted_page_request(filters, READS_ORDER), **filters)
        return self.query(actor, volunteers.personal_data_reads, command, AUDIT_PAGE.dump)

    @rpc
    def import_volunteers(
        self, import_id: str, rows: list[Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        """One batch of a CSV import (the gateway parses the file and sends rows in batches):
        ``rows`` are ``[line, name, phone, id_number, skills, consented_on, team]``. The batch
        commits as a whole; the result counts it and lists each row that did not go in."""
        command = c.ImportBatch(import_id=import_id, rows=rows)
        return self._execute_in_turn(actor, imports.import_batch, command)

    @rpc
    def import_progress(self, import_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        """How far an import has come: polled by the console while the file goes in."""
        command = c.GetImportProgress(import_id=import_id)
        return self.query(actor, imports.import_progress, command, IMPORT_PROGRESS.dump)

    @rpc
    def reencrypt_personal_data(self, limit: Any, actor: dict[str, Any]) -> dict[str, Any]:
        """Seal volunteers' data sealed with a retired key again with the current one (a batch
        of at most ``limit``, a whole number from 1 to 10,000); call until it answers 0.
        Admins only."""
        command = c.ReencryptPersonalData(limit=limit)
        return self.execute(actor, volunteers.reencrypt_personal_data, command)

    # --- activities and enrolment -----------------------------------------------------------

    @rpc
    def create_activity(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = c.CreateActivity(**ACTIVITY_CREATE_IN.load(payload))
        return ACTIVITY.dump(self.execute(actor, activities.create_activity, command))

    @rpc
    def get_activity(self, activity_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = c.GetActivity(activity_id=activity_id)
        return self.query(actor, activities.get_activity, command, ACTIVITY.dump)

    @rpc
    def list_activities(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = ACTIVITY_FILTERS_IN.load(filters or {})
        command = c.ListActivities(page=sorted_page_request(filters, ACTIVITY_ORDER), **filters)
        return self.query(actor, activities.list_activities, command, ACTIVITY_PAGE.dump)

    @rpc
    def enrol(
        self, activity_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = c.Enrol(activity_id=activity_id, **ENROLMENT_CREATE_IN.load(payload))
        return ENROLMENT.dump(self.execute(actor, activities.enrol, command))

    @rpc
    def cancel_enrolment(self, enrolment_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = c.CancelEnrolment(enrolment_id=enrolment_id)
        return CANCELLATION.dump(self.execute(actor, activities.cancel_enrolment, command))

    @rpc
    def list_enrolments(
        self, activity_id: str, filters: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        filters = ENROLMENT_FILTERS_IN.load(filters or {})
        page = sorted_page_request(filters, ENROLMENT_ORDER)
        command = c.ListEnrolments(activity_id=activity_id, page=page, **filters)
        return self.query(actor, activities.list_enrolments, command, ENROLMENT_PAGE.dump)

    # --- service hours ----------------------------------------------------------------------

    @rpc
    def log_hours(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = c.LogHours(**HOURS_CREATE_IN.load(payload))
        return HOURS.dump(self.execute(actor, hours.log_hours, command))

    @rpc
    def verify_hours(self, entry_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = c.VerifyHours(entry_id=entry_id)
        return HOURS.dump(self.execute(actor, hours.verify_hours, command))

    @rpc
    def reject_hours(
        self, entry_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = c.RejectHours(entry_id=entry_id, **REASON_IN.load(payload or {}))
        return HOURS.dump(self.execute(actor, hours.reject_hours, command))

    @rpc
    def get_hours(self, entry_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self.query(actor, hours.get_hours, c.GetHours(entry_id=entry_id), HOURS.dump)

    @rpc
    def list_hours(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = HOURS_FILTERS_IN.load(filters or {})
        command = c.ListHours(page=sorted_page_request(filters, HOURS_ORDER), **filters)
        return self.query(actor, hours.list_hours, command, HOURS_PAGE.dump)

    @rpc
    def volunteer_hours(self, volunteer_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = c.GetStatement(volunteer_id=volunteer_id)
        return self.query(actor, hours.statement, command, STATEMENT.dump)

    @rpc
    def hours_report(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        return self.query(actor, hours.report, _report_command(filters), REPORT.dump)

    @rpc
    def workbench(self, actor: dict[str, Any]) -> dict[str, Any]:
        command = c.VolunteersWorkbench()
        return self.query(actor, workbench.volunteers_workbench, command, WORKBENCH.dump)

    # --- certificates (志愿服务证明) and volunteer accounts ---------------------------------------

    @rpc
    def preview_certificate(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = c.PreviewCertificate(**CERTIFICATE_IN.load(payload))
        return self.query(actor, certificates.preview_certificate, command, FIGURES.dump)

    @rpc
    def issue_certificate(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = c.IssueCertificate(**CERTIFICATE_IN.load(payload))
        # two issues at once may draw the same number: the loser is tried again
        return CERTIFICATE.dump(
            writes.in_turn(lambda: self.execute(actor, certificates.issue_certificate, command))
        )

    @rpc
    def get_certificate(self, certificate_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = c.GetCertificate(certificate_id=certificate_id)
        return self.query(actor, certificates.get_certificate, command, CERTIFICATE.dump)

    @rpc
    def list_certificates(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = CERTIFICATE_FILTERS_IN.load(filters or {})
        page = sorted_page_request(filters, CERTIFICATE_ORDER)
        command = c.ListCertificates(page=page, **filters)
        return self.query(actor, certificates.list_certificates, command, CERTIFICATE_PAGE.dump)

    @rpc
    def revoke_certificate(
        self, certificate_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = c.RevokeCertificate(certificate_id=certificate_id, **REVOCATION_IN.load(payload))
        return CERTIFICATE.dump(self.execute(actor, certificates.revoke_certificate, command))

    @rpc
    def verify_certificate(self, number: str, code: str) -> dict[str, Any]:
        """Public: takes no actor (the gateway's public route), answers only the public
        fields (``domain.certificates.public_answer``)."""
        command = c.VerifyCertificate(number=str(number)[:32], code=str(code or "")[:20])
        with self.db(readonly=True) as uow:
            ctx = Context.over(
                uow, SYSTEM, self.personal_data, _no_projects, signer=self.certificate_key
            )
            return VERIFICATION.dump(certificates.verify_certificate(ctx, command))

    @rpc
    def link_account(
        self, volunteer_id: str, user_id: str, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = c.LinkAccount(volunteer_id=volunteer_id, user_id=user_id)
        return ACCOUNT_LINK.dump(self.execute(actor, certificates.link_account, command))

    # --- the annual assessment (目标考核) --------------------------------------------------------

    @rpc
    def assessment_figures(
        self, federation_id: str, year: int, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = c.GetAssessmentFigures(federation_id, year)
        return self.query(actor, assessment_handlers.assessment_figures, command, ASSESSMENT.dump)


def _no_projects(project_id: str) -> None:
    """The public check asks nobody about projects."""
    return None


def _report_command(filters: dict[str, Any] | None) -> c.HoursReport:
    """The report asked for: its groups, period and page (the cursor is the last group's
    key)."""
    filters = REPORT_FILTERS_IN.load(filters or {})
    cursor = filters.pop("cursor", None)
    after = decode_cursor(cursor, 1)[0] if cursor else None
    return c.HoursReport(after=after, **filters)
