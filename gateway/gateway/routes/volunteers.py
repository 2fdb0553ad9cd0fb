"""Volunteers: teams, the roster (personal data masked), CSV import, activities and enrolment,
service hours and their verification, hours reports.

The CSV import is the one route that does more than one call: the gateway reads the upload as
a stream (``volunteers.csvimport``), and sends the rows in batches; while the service writes one
batch the gateway parses the next. Each batch commits as a whole (its valid, new rows and their
team memberships), so an import stopped part-way has written whole batches only, and says
which lines those were.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields
from werkzeug.wrappers import Response

from gateway import accounts, audit, exports
from gateway.errors import HttpError, ServiceTimeout, ValidationFailed, describe
from gateway.http import WORKERS, Call, StreamedBody, api
from gateway.routes import MANAGERS
from gateway.rpc import PendingCall
from kit.clock import utcnow
from volunteers import csvimport, xlsximport
from volunteers import schemas as volunteers_schemas

S = volunteers_schemas
TEAM = "/teams/{team_id}"
VOLUNTEER = "/volunteers/{volunteer_id}"
ACTIVITY = "/activities/{activity_id}"
HOURS = "/service-hours/{entry_id}"
#: who runs teams and so sees rosters (masked): the service checks which teams each may touch
ROSTER = ("admin", "federation_staff", "team_leader")
#: who reads aggregate hours reports (grouped by volunteer: only the roster roles)
REPORT_READERS = ("admin", "federation_staff", "team_leader", "finance_officer", "ops")
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
#: the hours report export's columns (fields of a report's group; the first is named after
#: the grouping)
HOURS_COLUMNS = ("key", "label", "entries", "minutes", "hours")
#: the first column's header of the .xlsx report, by grouping
XLSX_GROUPS = {
    "volunteer": "志愿者编号",
    "team": "服务队编号",
    "theme": "服务主题",
    "project": "项目编号",
    "month": "月份",
}
#: what the import takes: CSV, or an Excel workbook (.xlsx) told by its content type
IMPORT_TYPES = (*CSV_TYPES, xlsximport.MEDIA_TYPE)
#: the most row errors an import's answer lists (all are counted)
MAX_REPORTED_ERRORS = 1000
#: a batch writes up to thousands of rows: it gets at least this long before it is a 503
MIN_BATCH_TIMEOUT = 30.0


class CsvInvalid(HttpError):
    """The file as a whole cannot be read (not UTF-8, no header, required columns missing)."""

    status, code = 422, "CSV_INVALID"


class XlsxInvalid(HttpError):
    """The .xlsx cannot be read (not a workbook, no header on the first sheet's row 1,
    required columns missing)."""

    status, code = 422, "XLSX_INVALID"


class ImportInterrupted(HttpError):
    """An import stopped part-way: what stopped it, and which lines had gone in."""


class ImportProgress:
    """The batches' answers added up, and the report the client gets."""

    def __init__(self, import_id: str, columns: csvimport.Columns) -> None:
        self.import_id = import_id
        self.sheet = getattr(columns, "sheet", None)
        self.ignored_sheets = getattr(columns, "ignored_sheets", None)
        self.columns = columns
        self.received = self.imported = self.invalid = self.duplicate = 0
        self.errors: list[dict[str, Any]] = []
        self.errors_total = 0
        #: the last line of the last batch that committed
        self.through_line: int | None = None

    def add(self, result: dict[str, Any], last_line: int) -> None:
        self.received += result["received"]
        self.imported += result["imported"]
        self.invalid += result["invalid"]
        self.duplicate += result["duplicate"]
        self.errors_total += len(result["errors"])
        room = MAX_REPORTED_ERRORS - len(self.errors)
        for error in result["errors"][: max(room, 0)]:
            self.errors.append({**error, "column": self.columns.headers.get(error["field"])})
        self.through_line = last_line

    def report(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "received": self.received,
            "imported": self.imported,
            "invalid": self.invalid,
            "duplicate": self.duplicate,
            "columns": self.columns.headers,
            "ignored_columns": self.columns.ignored,
            "errors": self.errors,
            "errors_total": self.errors_total,
            "errors_truncated": self.errors_total > len(self.errors),
            **(
                {"sheet": self.sheet, "ignored_sheets": self.ignored_sheets}
                if self.sheet is not None
                else {}
            ),
        }

    def interrupted(self, exc: BaseException, uncertain: tuple[int, int] | None) -> HttpError:
        """The error that stopped the import, with what had been written before it."""
        if isinstance(exc, csvimport.CsvProblem):
            code = XlsxInvalid.code if isinstance(exc, xlsximport.XlsxProblem) else CsvInvalid.code
            status, message, details = 422, exc.message, exc.details
        else:
            status, code, message, details = describe(exc)
        if self.through_line is None and uncertain is None:
            # nothing was written: the error as it is
            return HttpError(message, code=code, status=status, **details)
        progress = {
            "import_id": self.import_id,
            # the rows up to this line are in (send the rest again with the same import_id:
            # what is in already comes back as duplicates, not twice)
            "imported_through_line": self.through_line,
            # a batch whose answer never came (a timeout): it may or may not have gone in
            "uncertain_lines": list(uncertain) if uncertain else None,
            "report": self.report(),
        }
        return ImportInterrupted(
            f"the import stopped: {message}", code=code, status=status, **{**details, **progress}
        )


class ImportQuery(Schema):
    class Meta:
        unknown = RAISE

    import_id = fields.UUID(
        load_default=None,
        metadata={"description": "resume an import (rows already in come back as duplicates)"},
    )


def _import_id(query: dict[str, Any]) -> str:
    try:
        given = ImportQuery().load(query)["import_id"]
    except ValidationError as exc:
        raise ValidationFailed("the query does not match the schema", fields=exc.messages) from None
    return str(given or uuid.uuid4())


class VolunteersRoutes:
    # --- teams ------------------------------------------------------------------------------

    @api(
        "POST",
        "/teams",
        summary="Create a volunteer service team",
        tag="Volunteers",
        roles=MANAGERS,
        body=S.TeamCreate,
        response=S.TeamOut,
        status=201,
        idempotent=True,
    )
    def create_team(self, call: Call) -> Any:
        """Under a federation or host unit of your subtree, with a theme and, optionally, its
        leader (an enabled team_leader account; any other is a 422 on `leader_user_id`)."""
        self._check_leader(call.body)
        return 201, self.volunteers.call("create_team", call.body, call.actor.to_dict())

    def _check_leader(self, body: dict[str, Any]) -> None:
        if body.get("leader_user_id"):
            accounts.ensure_team_leader(self.db, body["leader_user_id"])

    @api(
        "GET",
        "/teams",
        summary="List teams",
        tag="Volunteers",
        roles=ROSTER,
        query=S.TeamFilters,
        response=S.TeamPage,
    )
    def list_teams(self, call: Call) -> Any:
        """The teams you run: a team leader her own, staff their subtree's hosts' teams, an
        admin every team."""
        return self.volunteers.call("list_teams", call.query, call.actor.to_dict())

    @api("GET", TEAM, summary="Read a team", tag="Volunteers", roles=ROSTER, response=S.TeamOut)
    def get_team(self, call: Call) -> Any:
        """A team you run; any other is a 404."""
        return self.volunteers.call("get_team", call.path["team_id"], call.actor.to_dict())

    @api(
        "PATCH",
        TEAM,
        summary="Change a team",
        tag="Volunteers",
        roles=MANAGERS,
        body=S.TeamUpdate,
        response=S.TeamOut,
    )
    def edit_team(self, call: Call) -> Any:
        """Name, theme, leader, description: by the federations above the team's host. A new
        leader is an enabled team_leader account."""
        self._check_leader(call.body)
        return self.volunteers.call(
            "edit_team", call.path["team_id"], call.body, call.actor.to_dict()
        )

    @api(
        "POST",
        TEAM + "/members",
        summary="Add a volunteer to a team",
        tag="Volunteers",
        roles=ROSTER,
        body=S.MemberAdd,
        response=S.MembershipOut,
        status=201,
    )
    def add_member(self, call: Call) -> Any:
        return 201, self.volunteers.call(
            "add_member", call.path["team_id"], call.body, call.actor.to_dict()
        )

    @api(
        "GET",
        TEAM + "/members",
        summary="A team's roster",
        tag="Volunteers",
        roles=ROSTER,
        query=S.PageFilters,
        response=S.VolunteerPage,
    )
    def list_members(self, call: Call) -> Any:
        """Phone and ID number masked."""
        return self.volunteers.call(
            "list_members", call.path["team_id"], call.query, call.actor.to_dict()
        )

    # --- volunteers -------------------------------------------------------------------------

    @api(
        "POST",
        "/volunteers",
        summary="Register a volunteer",
        tag="Volunteers",
        roles=ROSTER,
        body=S.VolunteerCreate,
        response=S.VolunteerOut,
        status=201,
        idempotent=True,
    )
    def register_volunteer(self, call: Call) -> Any:
        """Phone (mainland mobile) and ID number (GB 11643, 18 characters with its check
        character) are encrypted at rest and come back masked. A phone or ID number registered
        already is a 409 DUPLICATE_VOLUNTEER, naming her `volunteer_id` only if you may see
        her."""
        return 201, self.volunteers.call("register_volunteer", call.body, call.actor.to_dict())

    @api(
        "GET",
        "/volunteers",
        summary="List volunteers",
        tag="Volunteers",
        roles=ROSTER,
        query=S.VolunteerFilters,
        response=S.VolunteerPage,
    )
    def list_volunteers(self, call: Call) -> Any:
        """Masked. A team leader sees her teams' members, whom she registered, and the
        volunteers registered for her teams' hosts or the federations above them who are in no
        team yet; staff those registered in their subtree and its teams' members."""
        return self.volunteers.call("list_volunteers", call.query, call.actor.to_dict())

    @api(
        "GET",
        VOLUNTEER,
        summary="Read a volunteer",
        tag="Volunteers",
        roles=(*WORKERS, "volunteer"),
        query=S.VolunteerRead,
        response=S.VolunteerOut,
    )
    def get_volunteer(self, call: Call) -> Any:
        """Masked. An admin may ask `unmasked=true` (optionally `fields=phone` and a
        `reason`): every such read is written to the personal data audit."""
        return self.volunteers.call(
            "get_volunteer", call.path["volunteer_id"], call.query, call.actor.to_dict()
        )

    @api(
        "GET",
        VOLUNTEER + "/hours",
        summary="A volunteer's statement of verified hours",
        tag="Volunteers",
        roles=(*WORKERS, "volunteer"),
        response=S.StatementOut,
    )
    def volunteer_hours(self, call: Call) -> Any:
        """Every verified entry and the total; for those who run her teams, and for herself."""
        return self.volunteers.call(
            "volunteer_hours", call.path["volunteer_id"], call.actor.to_dict()
        )

    @api(
        "POST",
        "/volunteers/import",
        summary="Import volunteers from a CSV file or an Excel workbook",
        tag="Volunteers",
        roles=ROSTER,
        query=ImportQuery,
        response=S.ImportReport,
        stream=StreamedBody(IMPORT_TYPES, "IMPORT_MAX_BODY_BYTES", 64 * 1024 * 1024),
    )
    def import_volunteers(self, call: Call) -> Any:
        """The body is the file: `text/csv` (UTF-8 with or without BOM) or an Excel workbook
        (`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`, .xlsx: its first
        sheet is read, the others are named in `ignored_sheets`; a row's line is its row
        number). Header on line 1: 姓名, 手机号, 身份证号, 技能, 同意日期, 服务队 or the API's
        field names. Valid new rows go in; every other row is listed with its line, field,
        column, rule and reason, and duplicates (within the file or of volunteers registered
        already) with what they duplicate. Rows are written in batches, each whole or not at
        all; a file that breaks part-way answers with an error naming the line,
        `imported_through_line` and the report so far. `?import_id=<uuid>` resumes an import:
        its rows already in come back as duplicates, not twice. A file that cannot be read is
        a 422 `CSV_INVALID` or `XLSX_INVALID`."""
        import_id = _import_id(call.query)
        assert call.stream is not None
        if call.request.mimetype == xlsximport.MEDIA_TYPE:
            # a zip is read from its end: the whole body first (memory, then a temporary file)
            with xlsximport.spool(call.stream) as workbook:
                try:
                    columns, rows = xlsximport.read_rows(workbook)
                except xlsximport.XlsxProblem as problem:
                    raise XlsxInvalid(problem.message, **problem.details) from None
                return self._import_rows(import_id, columns, rows, call)
        try:
            columns, rows = csvimport.read_rows(call.stream)
        except csvimport.CsvProblem as problem:
            raise CsvInvalid(problem.message, **problem.details) from None
        return self._import_rows(import_id, columns, rows, call)

    def _import_rows(
        self, import_id: str, columns: csvimport.Columns, rows: Iterator[list[Any]], call: Call
    ) -> dict[str, Any]:
        """Send the rows in batches, the next parsed while the service writes one."""
        progress = ImportProgress(import_id, columns)
        size = int(self.config.get("IMPORT_BATCH_ROWS") or csvimport.DEFAULT_BATCH_ROWS)
        timeout = max(self.volunteers.timeout, MIN_BATCH_TIMEOUT)
        actor = call.actor.to_dict()
        chunks: Iterator[list[list[Any]]] = csvimport.batches(rows, size)
        in_flight: tuple[PendingCall, int, int] | None = None

        def collect() -> None:
            """Wait for the batch in flight, if any, and count its answer."""
            nonlocal in_flight
            if in_flight is not None:
                pending, first, last = in_flight
                in_flight = None
                progress.add(_answer(pending, first, last), last)

        try:
            # the next batch is parsed (by the for) while the service writes the one in flight
            for batch in chunks:
                collect()
                in_flight = (
                    self.volunteers.start(
                        "import_volunteers", import_id, batch, actor, timeout=timeout
                    ),
                    batch[0][0],
                    batch[-1][0],
                )
            collect()
        except _BatchFailed as failed:
            raise progress.interrupted(failed.cause, failed.uncertain) from None
        except Exception as exc:  # noqa: BLE001 - the file broke while a batch was written
            uncertain = None
            try:  # hear how the batch in flight went before saying what went in
                collect()
            except _BatchFailed as failed:
                uncertain = failed.uncertain
            raise progress.interrupted(exc, uncertain) from None
        return progress.report()

    @api(
        "GET",
        "/volunteer-imports/{import_id}",
        summary="How far an import has come",
        tag="Volunteers",
        roles=ROSTER,
        response=S.ImportProgressOut,
    )
    def import_progress(self, call: Call) -> Any:
        """Polled while `POST /volunteers/import?import_id=<uuid>` runs (the client chooses the
        id): the volunteers written so far and the last line among them; rows go in a batch at
        a time. Your own imports only (an admin's: any); another's reads as not started."""
        return self.volunteers.call("import_progress", call.path["import_id"], call.actor.to_dict())

    @api(
        "GET",
        "/personal-data-reads",
        summary="The audit of unmasked reads",
        tag="Volunteers",
        roles=("admin",),
        query=S.AuditFilters,
        response=S.AuditPage,
    )
    def personal_data_reads(self, call: Call) -> Any:
        """Who read which volunteer's phone or ID number in clear, when, and why."""
        return self.volunteers.call("personal_data_reads", call.query, call.actor.to_dict())

    # --- activities and enrolment -----------------------------------------------------------

    @api(
        "POST",
        "/activities",
        summary="Create an activity",
        tag="Volunteers",
        roles=ROSTER,
        body=S.ActivityCreate,
        response=S.ActivityOut,
        status=201,
        idempotent=True,
    )
    def create_activity(self, call: Call) -> Any:
        """For a team you run; `project_id` links it to the project it delivers (its verified
        hours count there): a project purchased in the line of your organization or of the
        team's host (above or below it), else a 422 on `project_id` (`project_not_available`,
        or `exists` for one you cannot see)."""
        return 201, self.volunteers.call("create_activity", call.body, call.actor.to_dict())

    @api(
        "GET",
        "/activities",
        summary="List activities",
        tag="Volunteers",
        roles=ROSTER,
        query=S.ActivityFilters,
        response=S.ActivityPage,
    )
    def list_activities(self, call: Call) -> Any:
        """The activities of the teams you run."""
        return self.volunteers.call("list_activities", call.query, call.actor.to_dict())

    @api(
        "GET",
        ACTIVITY,
        summary="Read an activity",
        tag="Volunteers",
        roles=ROSTER,
        response=S.ActivityOut,
    )
    def get_activity(self, call: Call) -> Any:
        """With its places: capacity, enrolled, waitlisted, left. An activity of a team you
        do not run is a 404."""
        return self.volunteers.call("get_activity", call.path["activity_id"], call.actor.to_dict())

    @api(
        "POST",
        ACTIVITY + "/enrolments",
        summary="Enrol a volunteer in an activity",
        tag="Volunteers",
        roles=ROSTER,
        body=S.EnrolmentCreate,
        response=S.EnrolmentOut,
        status=201,
    )
    def enrol(self, call: Call) -> Any:
        """Never over capacity, even under concurrent sign-ups: beyond it the volunteer is
        waitlisted (or, with `waitlist: false`, refused with 409 ACTIVITY_FULL). Once the
        activity has ended, nobody enrols: 409 ACTIVITY_ENDED, naming its `ends_at`."""
        return 201, self.volunteers.call(
            "enrol", call.path["activity_id"], call.body, call.actor.to_dict()
        )

    @api(
        "GET",
        ACTIVITY + "/enrolments",
        summary="An activity's enrolments",
        tag="Volunteers",
        roles=ROSTER,
        query=S.EnrolmentFilters,
        response=S.EnrolmentPage,
    )
    def list_enrolments(self, call: Call) -> Any:
        """In order of their place in line; `status=waitlisted` is the waitlist."""
        return self.volunteers.call(
            "list_enrolments", call.path["activity_id"], call.query, call.actor.to_dict()
        )

    @api(
        "POST",
        "/enrolments/{enrolment_id}/cancel",
        summary="Cancel an enrolment",
        tag="Volunteers",
        roles=ROSTER,
        response=S.CancellationOut,
    )
    def cancel_enrolment(self, call: Call) -> Any:
        """A freed place goes to the first on the waitlist (`promoted`)."""
        return self.volunteers.call(
            "cancel_enrolment", call.path["enrolment_id"], call.actor.to_dict()
        )

    # --- service hours ----------------------------------------------------------------------

    @api(
        "POST",
        "/service-hours",
        summary="Log service hours",
        tag="Volunteers",
        roles=ROSTER,
        body=S.HoursCreate,
        response=S.HoursOut,
        status=201,
        idempotent=True,
    )
    def log_hours(self, call: Call) -> Any:
        """For an enrolled volunteer, within the activity's time, not overlapping her other
        entries: `started_at` and `ended_at`, or `hours`. Pending until verified. Only time
        already served: an end after now (5 minutes of clock skew allowed) is a 422 naming
        `ended_at` (or `hours`), rule `not_in_future`."""
        return 201, self.volunteers.call("log_hours", call.body, call.actor.to_dict())

    @api(
        "GET",
        "/service-hours",
        summary="List service hours",
        tag="Volunteers",
        roles=ROSTER,
        query=S.HoursFilters,
        response=S.HoursPage,
    )
    def list_hours(self, call: Call) -> Any:
        """`status=pending` is the queue to verify."""
        return self.volunteers.call("list_hours", call.query, call.actor.to_dict())

    @api(
        "GET",
        HOURS,
        summary="A service hours entry",
        tag="Volunteers",
        roles=ROSTER,
        response=S.HoursOut,
    )
    def get_hours(self, call: Call) -> Any:
        return self.volunteers.call("get_hours", call.path["entry_id"], call.actor.to_dict())

    @api(
        "POST",
        HOURS + "/verify",
        summary="Verify service hours",
        tag="Volunteers",
        roles=ROSTER,
        response=S.HoursOut,
    )
    def verify_hours(self, call: Call) -> Any:
        """By the team's leader, staff above its host or an admin — never by whoever logged
        them or the volunteer herself (403 SELF_VERIFICATION). Verified hours count towards
        the activity's project."""
        return self.volunteers.call("verify_hours", call.path["entry_id"], call.actor.to_dict())

    @api(
        "POST",
        HOURS + "/reject",
        summary="Reject service hours",
        tag="Volunteers",
        roles=ROSTER,
        body=S.HoursRejectionRequest,
        response=S.HoursOut,
    )
    def reject_hours(self, call: Call) -> Any:
        return self.volunteers.call(
            "reject_hours", call.path["entry_id"], call.body, call.actor.to_dict()
        )

    # --- reports ----------------------------------------------------------------------------

    @api(
        "GET",
        "/reports/hours",
        summary="Verified hours, grouped",
        tag="Volunteers",
        roles=REPORT_READERS,
        query=S.ReportFilters,
        response=S.HoursReportOut,
    )
    def hours_report(self, call: Call) -> Any:
        """`group_by` volunteer, team, theme, project or month, `since`/`until` (China time).
        Staff see their subtree's teams, a leader her own. With `Accept: text/csv`, the whole
        report as CSV (as `/reports/hours.csv`)."""
        if call.request.accept_mimetypes.best_match(("application/json", "text/csv")) == (
            "text/csv"
        ):
            return self.hours_report_csv_response(call)
        return self.volunteers.call("hours_report", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/reports/hours.csv",
        summary="Verified hours, grouped, as CSV",
        tag="Volunteers",
        roles=REPORT_READERS,
        query=S.ReportFilters,
    )
    def hours_report_csv(self, call: Call) -> Any:
        """Every group and a last row with the totals (UTF-8 with BOM, for spreadsheets)."""
        return self.hours_report_csv_response(call)

    @api(
        "GET",
        "/reports/hours.xlsx",
        summary="Verified hours, grouped, as an Excel workbook",
        tag="Volunteers",
        roles=REPORT_READERS,
        query=S.ReportFilters,
    )
    def hours_report_xlsx(self, call: Call) -> Any:
        """The same rows as the CSV (every group, then the totals), as an .xlsx whose header
        and totals row are in Chinese, for the people who open it in a spreadsheet."""
        header, rows, name = self._hours_report_rows(call)
        name = name.replace(".csv", ".xlsx")
        self._record_personal_export(call, header[0], name)
        chinese = (XLSX_GROUPS.get(header[0], header[0]), "名称", "条数", "分钟", "小时")

        def chinese_rows() -> Iterator[list[Any]]:
            for row in rows:
                yield ["合计", *row[1:]] if row[0] == "total" and row[1] == "" else row

        return exports.xlsx_response(chinese, chinese_rows(), name, "服务时长")

    def hours_report_csv_response(self, call: Call) -> Response:
        """The whole report (`limit` and `cursor` do not apply), streamed as it is read a page
        at a time, and a last row with the totals."""
        header, rows, name = self._hours_report_rows(call)
        self._record_personal_export(call, header[0], name)
        return exports.csv_response(header, rows, name)

    def _record_personal_export(self, call: Call, group: str, file_name: str) -> None:
        """A report by volunteer is a file of volunteers' names (personal data): its export
        leaves a record in the gateway's audit log, once the first page was allowed."""
        if group != "volunteer":
            return
        assert call.actor is not None
        filters = {**exports.without_paging(call.query), "group_by": group}
        scope = self._scope_of(call.actor.user_id)
        entry = audit.personal_export("hours_report", file_name, filters, scope)
        audit.write_alone(self.db, call.actor.to_dict(), [entry], utcnow())

    def _hours_report_rows(self, call: Call) -> tuple[tuple[str, ...], Iterator[list[Any]], str]:
        """The report's header, its rows read a page at a time, and the file's name."""
        actor = call.actor.to_dict()
        query = exports.without_paging(call.query)
        limit = exports.page_rows(self.config)

        def fetch(cursor: str | None) -> exports.Page:
            page_query = {**query, "limit": limit, "cursor": cursor}
            return self.volunteers.call("hours_report", page_query, actor)

        first = fetch(None)
        last = first

        def rows() -> Iterator[list[Any]]:
            nonlocal last
            for page in exports.pages(fetch, first):
                last = page
                for item in page["items"]:
                    yield [item.get(column) for column in HOURS_COLUMNS]
            total = last["total"]
            yield ["total", "", total["entries"], total["minutes"], total["hours"]]

        group = first["group_by"]
        name = f"jinguo-hours-by-{group}.csv" if str(group).isidentifier() else "jinguo-hours.csv"
        return (group, *HOURS_COLUMNS[1:]), rows(), name

    # --- operations -------------------------------------------------------------------------

    @api(
        "POST",
        "/personal-data/reencrypt",
        summary="Re-encrypt personal data with the current key",
        tag="Volunteers",
        roles=("admin",),
    )
    def reencrypt_personal_data(self, call: Call) -> Any:
        """After a key rotation: seals up to `limit` (default 1000) volunteers' data sealed
        with a retired key again with the current one. Call until `reencrypted` is 0, then
        drop the retired key. `limit` is a whole number from 1 to 10000 (else a 422 on
        `limit`)."""
        # passed as it came: the volunteers service checks it, the one place that rule lives
        limit = (call.body or {}).get("limit", 1000)
        return self.volunteers.call("reencrypt_personal_data", limit, call.actor.to_dict())


class _BatchFailed(Exception):
    """A batch's call failed: ``uncertain`` is its lines when it may have committed anyway."""

    def __init__(self, cause: BaseException, uncertain: tuple[int, int] | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.uncertain = uncertain


def _answer(pending: PendingCall, first: int, last: int) -> dict[str, Any]:
    try:
        return pending.result()
    except ServiceTimeout as exc:
        raise _BatchFailed(exc, (first, last)) from None
    except Exception as exc:  # noqa: BLE001 - any other failure: the batch did not commit
        raise _BatchFailed(exc, None) from None
