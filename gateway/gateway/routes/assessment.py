"""The annual assessment (目标考核) of a federation's child federations: one route per figure
set (each computed by the service that owns it, over each child's subtree), the merged and
scored table the console shows (the services asked at once), its exports, and the weights."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from funding import schemas as funding_schemas
from gateway import exports
from gateway.assessment import HEADER, merge, sheet_rows, weights_rows
from gateway.http import Call, api
from projects import schemas as projects_schemas
from registry import schemas as registry_schemas
from volunteers import schemas as volunteers_schemas

#: admins, and federation staff (each service lets staff assess only their federation and the
#: federations below it)
ASSESSORS = ("admin", "federation_staff")
TAG = "Assessment"


class AssessmentIndicatorOut(Schema):
    code = fields.String()
    label = fields.String()
    unit = fields.String()
    weight = fields.Integer()


class AssessmentRowOut(Schema):
    organization_id = fields.String()
    name = fields.String()
    rank = fields.Integer(metadata={"description": "1 = the best score; equal scores share"})
    score = fields.Float()
    scaled = fields.Dict(keys=fields.String(), values=fields.Float())
    coverage_rate = fields.Float(allow_none=True)
    host_units = fields.Integer()
    covered = fields.Integer()
    sectors = fields.List(fields.Nested(registry_schemas.SectorCoverage))
    womens_organizations_founded = fields.Integer()
    projects_published = fields.Integer()
    projects_completed = fields.Integer()
    milestones_due = fields.Integer()
    milestones_on_time = fields.Integer()
    on_time_share = fields.Float(allow_none=True)
    money_committed = fields.Integer(metadata={"description": "fen"})
    money_paid = fields.Integer(metadata={"description": "fen"})
    volunteers_registered = fields.Integer()
    verified_minutes = fields.Integer()
    verified_hours = fields.Float()
    activities_held = fields.Integer()


class AssessmentTableOut(Schema):
    federation_id = fields.String()
    name = fields.String()
    year = fields.Integer()
    scoring_rule = fields.String()
    moves_rule = fields.String()
    weights_source = fields.String()
    indicators = fields.List(fields.Nested(AssessmentIndicatorOut))
    rows = fields.List(fields.Nested(AssessmentRowOut))


class AssessmentRoutes:
    def _figures(self, call: Call, service: str) -> Any:
        client = getattr(self, service)
        return client.call(
            "assessment_figures",
            call.path["federation_id"],
            call.path["year"],
            call.actor.to_dict(),
        )

    @api(
        "GET",
        "/assessments/{federation_id}/{year}/registry",
        summary="Assessment: coverage and new women's organizations per child federation",
        tag=TAG,
        roles=ASSESSORS,
        response=registry_schemas.AssessmentRegistryOut,
    )
    def assessment_registry(self, call: Call) -> Any:
        """Per child federation, over its subtree: coverage (组建率) by sector and in total, and
        the women's organizations registered in the year."""
        return self._figures(call, "registry")

    @api(
        "GET",
        "/assessments/{federation_id}/{year}/projects",
        summary="Assessment: projects and milestones per child federation",
        tag=TAG,
        roles=ASSESSORS,
        response=projects_schemas.AssessmentProjectsOut,
    )
    def assessment_projects(self, call: Call) -> Any:
        """Per child federation, projects its subtree purchases: published and closed in the
        year; milestones due in the year (so far) and the share reported on time and
        accepted."""
        return self._figures(call, "projects")

    @api(
        "GET",
        "/assessments/{federation_id}/{year}/funding",
        summary="Assessment: money committed and paid per child federation",
        tag=TAG,
        roles=ASSESSORS,
        response=funding_schemas.AssessmentFundingOut,
    )
    def assessment_funding(self, call: Call) -> Any:
        """Per child federation, fen committed and paid in the year from the sources its
        subtree owns."""
        return self._figures(call, "funding")

    @api(
        "GET",
        "/assessments/{federation_id}/{year}/volunteers",
        summary="Assessment: volunteers, hours and activities per child federation",
        tag=TAG,
        roles=ASSESSORS,
        response=volunteers_schemas.AssessmentVolunteersOut,
    )
    def assessment_volunteers(self, call: Call) -> Any:
        """Per child federation: volunteers registered in the year for its subtree, verified
        hours and activities held by the teams its subtree hosts."""
        return self._figures(call, "volunteers")

    def _table(self, call: Call) -> dict[str, Any]:
        """Every figure set and the weights, asked of the services at once, merged."""
        args = (call.path["federation_id"], call.path["year"], call.actor.to_dict())
        pending = {
            name: getattr(self, name).start("assessment_figures", *args)
            for name in ("registry", "projects", "funding", "volunteers")
        }
        weights = self.registry.start("assessment_weights", *args)
        # the registry's answer first: a refusal (403, 404, 422) is the registry's to give
        registry = pending.pop("registry").result()
        others = {name: answer.result() for name, answer in pending.items()}
        return merge(registry, others, weights.result())

    @api(
        "GET",
        "/assessments/{federation_id}/{year}",
        summary="Assessment: the table of child federations, scored",
        tag=TAG,
        roles=ASSESSORS,
        response=AssessmentTableOut,
    )
    def assessment_table(self, call: Call) -> Any:
        """Every figure set side by side, one row per child federation (by name), with the
        weights, each indicator scaled, and each child's score and rank.

        **Scoring**: each indicator is scaled to the best child (the best = 100, the others in
        proportion, 0 when no child has any); score = Σ weight × scaled / Σ weights, one
        decimal, half up; a figure a child has no data for (no host unit, no milestone due)
        scales as 0.
        (每项指标以各下级妇联中的最高值为 100 分折算，总分 = Σ(权重 × 折算分) ÷ Σ权重。)

        **Who**: admins, and federation staff of the federation or one above it (anyone else:
        403 `OUT_OF_SCOPE`). **The year**: the calendar year in China time. **Moves**: a unit
        moved during the year counts, for the whole year, for the child it sits under when the
        table is computed (for the running year: its place at the end of the year so far)."""
        return self._table(call)

    @api(
        "GET",
        "/assessments/{federation_id}/{year}/export.xlsx",
        summary="Assessment: the table as an Excel workbook",
        tag=TAG,
        roles=ASSESSORS,
    )
    def assessment_xlsx(self, call: Call) -> Any:
        """The table with Chinese headers, best score first, money in 元; below it the weights
        and the scoring rule."""
        table = self._table(call)

        def rows() -> Any:
            yield from sheet_rows(table)
            yield from weights_rows(table)

        name = f"assessment-{table['year']}.xlsx"
        return exports.xlsx_response(HEADER, rows(), name, "目标考核")

    @api(
        "GET",
        "/assessments/{federation_id}/{year}/export.csv",
        summary="Assessment: the table as CSV",
        tag=TAG,
        roles=ASSESSORS,
    )
    def assessment_csv(self, call: Call) -> Any:
        """The table with Chinese headers, best score first, money in 元 (UTF-8 with BOM)."""
        table = self._table(call)
        name = f"assessment-{table['year']}.csv"
        return exports.csv_response(HEADER, sheet_rows(table, as_text=True), name)

    @api(
        "GET",
        "/assessments/{federation_id}/{year}/weights",
        summary="Assessment: the weights and their history",
        tag=TAG,
        roles=ASSESSORS,
        response=registry_schemas.AssessmentWeightsOut,
    )
    def assessment_weights(self, call: Call) -> Any:
        """The year's weights (`source`: set for the year, carried from an earlier year, or
        the default) and every change of them, newest first."""
        return self.registry.call(
            "assessment_weights",
            call.path["federation_id"],
            call.path["year"],
            call.actor.to_dict(),
        )

    @api(
        "PUT",
        "/assessments/{federation_id}/{year}/weights",
        summary="Assessment: change the weights",
        tag=TAG,
        roles=ASSESSORS,
        body=registry_schemas.AssessmentWeightsChange,
        response=registry_schemas.AssessmentWeightsOut,
    )
    def change_assessment_weights(self, call: Call) -> Any:
        """`weights` names the indicators to change (whole numbers 0–100, not all zero: else a
        422 on `weights.<indicator>`); `reason` is optional. Every change is kept: who, when,
        before and after, why."""
        return self.registry.call(
            "change_assessment_weights",
            call.path["federation_id"],
            call.path["year"],
            call.body,
            call.actor.to_dict(),
        )
