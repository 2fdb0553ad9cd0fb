"""Projects tables, mapped onto the plain domain classes (SQLAlchemy imperative mapping)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry, relationship

from kit.columns import mapping_once
from kit.db import NAMING_CONVENTION, UTCDateTime
from kit.schedule import reminders_table
from language.directory import metadata as directory_metadata
from projects.domain.application import Application
from projects.domain.contract import Contract, Milestone, MilestoneReport
from projects.domain.project import Project

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
#: projects keeps a copy of the registry's organizations (language.directory)
INCLUDE_METADATA = (directory_metadata,)


def _money() -> sa.BigInteger:
    return sa.BigInteger()


projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("search_title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("model", sa.String(16), nullable=False),
    sa.Column("purchaser_id", sa.String(36), nullable=False),
    sa.Column("funding_source_id", sa.String(36), nullable=False),
    sa.Column("budget", _money(), nullable=False),
    sa.Column("starts_on", sa.Date(), nullable=False),
    sa.Column("ends_on", sa.Date(), nullable=False),
    sa.Column("target_beneficiaries", sa.Integer(), nullable=False),
    sa.Column("indicators", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("contract_id", sa.String(36), nullable=True),
    sa.Column("contractor_id", sa.String(36), nullable=True),
    sa.Column("evaluation", sa.JSON(), nullable=True),
    sa.Column("beneficiaries_served", sa.Integer(), nullable=False),
    sa.Column("indicator_actuals", sa.JSON(), nullable=False),
    sa.Column("volunteer_minutes", sa.BigInteger(), nullable=False),
    sa.Column("amount_committed", _money(), nullable=False),
    sa.Column("amount_approved", _money(), nullable=False),
    sa.Column("amount_paid", _money(), nullable=False),
    sa.Column("cancel_reason", sa.Text(), nullable=True),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.CheckConstraint("budget >= 0", name="budget_not_negative"),
    sa.CheckConstraint("ends_on >= starts_on", name="period"),
    sa.Index("ix_projects_purchaser_id_status", "purchaser_id", "status"),
    sa.Index("ix_projects_status_created_at", "status", "created_at"),
    sa.Index("ix_projects_contractor_id", "contractor_id"),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("provider_id", sa.String(36), nullable=False),
    sa.Column("amount", _money(), nullable=False),
    sa.Column("proposal", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("submitted_by", sa.String(36), nullable=False),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("project_id", "provider_id"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
)

contracts = sa.Table(
    "contracts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "project_id", sa.String(36), sa.ForeignKey("projects.id"), nullable=False, unique=True
    ),
    sa.Column("purchaser_id", sa.String(36), nullable=False),
    sa.Column("funding_source_id", sa.String(36), nullable=False),
    sa.Column("contractor_id", sa.String(36), nullable=False),
    sa.Column("application_id", sa.String(36), sa.ForeignKey("applications.id"), nullable=True),
    sa.Column("amount", _money(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("contractor_status_version", sa.Integer(), nullable=False),
    sa.Column("termination_reason", sa.String(64), nullable=True),
    sa.Column("commitment_status", sa.String(16), nullable=False),
    sa.Column("commitment_shortfall", _money(), nullable=True),
    sa.Column("commitment_reason", sa.Text(), nullable=True),
    sa.Column("awarded_by", sa.String(36), nullable=False),
    sa.Column("awarded_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.Index("ix_contracts_contractor_id_status", "contractor_id", "status"),
    #: the workbench counts a subtree's contracts and milestones (migration 0005)
    sa.Index("ix_contracts_purchaser_id_status", "purchaser_id", "status"),
)

milestones = sa.Table(
    "milestones",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(36), sa.ForeignKey("contracts.id"), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("deliverables", sa.Text(), nullable=False),
    sa.Column("due_on", sa.Date(), nullable=False),
    sa.Column("amount", _money(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reported_at", UTCDateTime(), nullable=True),
    sa.Column("accepted_at", UTCDateTime(), nullable=True),
    sa.Column("accepted_by", sa.String(36), nullable=True),
    sa.Column("accepted_on_time", sa.Boolean(), nullable=True),
    sa.Column("payment_status", sa.String(16), nullable=False),
    sa.Column("payment_updated_at", UTCDateTime(), nullable=True),
    sa.Column("disbursement_id", sa.String(36), nullable=True),
    sa.Column("paid_amount", _money(), nullable=False),
    sa.Column("paid_at", UTCDateTime(), nullable=True),
    sa.Column("payment_reference", sa.String(100), nullable=True),
    sa.UniqueConstraint("contract_id", "seq"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    #: the workbench's milestones by status and due date (migration 0005)
    sa.Index("ix_milestones_status_due_on", "status", "due_on"),
)

milestone_reports = sa.Table(
    "milestone_reports",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("milestone_id", sa.String(36), sa.ForeignKey("milestones.id"), nullable=False),
    sa.Column("contract_id", sa.String(36), sa.ForeignKey("contracts.id"), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("beneficiaries_served", sa.Integer(), nullable=False),
    sa.Column("evidence", sa.JSON(), nullable=False),
    sa.Column("indicator_values", sa.JSON(), nullable=False),
    sa.Column("reported_by", sa.String(36), nullable=False),
    sa.Column("reported_at", UTCDateTime(), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(36), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Index("ix_milestone_reports_milestone_id_reported_at", "milestone_id", "reported_at"),
)

#: funding's sources as far as projects needs them (whose money each is), kept from
#: ``funding_source_created`` and, for one not heard of yet, from asking funding
funding_sources = sa.Table(
    "funding_sources",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

#: evidence files: the bytes live in the gateway's blob store (content-addressed by SHA-256);
#: projects keeps who uploaded what, and which reports reference it (so who may download it)
files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("uploaded_by", sa.String(36), nullable=False),
    sa.Column("organization_id", sa.String(36), nullable=True),
    sa.Column("uploaded_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("size >= 0", name="size_not_negative"),
)

report_files = sa.Table(
    "report_files",
    metadata,
    sa.Column("report_id", sa.String(36), sa.ForeignKey("milestone_reports.id"), primary_key=True),
    sa.Column("file_id", sa.String(36), sa.ForeignKey("files.id"), primary_key=True),
    sa.Column("contract_id", sa.String(36), sa.ForeignKey("contracts.id"), nullable=False),
    sa.Index("ix_report_files_file_id", "file_id"),
)


#: the notices the daily checks sent (``kit.schedule``): one row per milestone or report and
#: notice, written with the notice's outbox row, so none is sent twice (migration 0007)
reminders_sent = reminders_table(metadata)


def _map(mapper: registry) -> None:
    """Map the domain classes onto the tables."""
    mapper.map_imperatively(Project, projects)
    mapper.map_imperatively(Application, applications)
    mapper.map_imperatively(Milestone, milestones)
    mapper.map_imperatively(MilestoneReport, milestone_reports)
    mapper.map_imperatively(
        Contract,
        contracts,
        properties={
            "milestones": relationship(
                Milestone,
                order_by=milestones.c.seq,
                cascade="all, delete-orphan",
                lazy="selectin",
            )
        },
    )


start_mappers = mapping_once(metadata, _map)
