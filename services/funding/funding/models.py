"""Funding tables, mapped onto the plain domain classes (SQLAlchemy imperative mapping).

Balance rules the database enforces itself, whatever code writes: a source's money is either
available or committed (``amount = available + committed``), nothing is negative, nothing is
disbursed beyond what was committed nor paid beyond what was disbursed; a disbursement per
milestone, a payment reference once. Journal entries are immutable: triggers refuse UPDATE and
DELETE (see the migration).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry, relationship

from funding.domain.adjustments import SourceAdjustment
from funding.domain.approvals import Approval
from funding.domain.commitments import Commitment
from funding.domain.disbursements import Disbursement
from funding.domain.ledger import JournalEntry
from funding.domain.sources import FundingSource
from kit.columns import mapping_once
from kit.db import NAMING_CONVENTION, UTCDateTime
from language.directory import metadata as directory_metadata

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
#: funding keeps a copy of the registry's organizations (owners, payees' standing)
INCLUDE_METADATA = (directory_metadata,)

Money = sa.BigInteger

funding_sources = sa.Table(
    "funding_sources",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("fiscal_year", sa.Integer(), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("amount", Money(), nullable=False),
    sa.Column("available", Money(), nullable=False),
    sa.Column("committed", Money(), nullable=False),
    sa.Column("disbursed", Money(), nullable=False),
    sa.Column("paid", Money(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.CheckConstraint("available >= 0", name="available_not_negative"),
    sa.CheckConstraint("committed >= 0", name="committed_not_negative"),
    sa.CheckConstraint("amount = available + committed", name="balanced"),
    sa.CheckConstraint("disbursed <= committed", name="disbursed_within_committed"),
    sa.CheckConstraint("paid <= disbursed", name="paid_within_disbursed"),
    sa.Index("ix_funding_sources_owner_id_fiscal_year", "owner_id", "fiscal_year"),
)

commitments = sa.Table(
    "commitments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(36), nullable=False, unique=True),
    sa.Column("project_id", sa.String(36), nullable=False),
    sa.Column("source_id", sa.String(36), sa.ForeignKey("funding_sources.id"), nullable=False),
    sa.Column("payee_id", sa.String(36), nullable=False),
    sa.Column("amount", Money(), nullable=False),
    sa.Column("released", Money(), nullable=False),
    sa.Column("disbursed", Money(), nullable=False),
    sa.Column("paid", Money(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cause", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    #: who awarded the contract (the award event's actor; null for awards older than this)
    sa.Column("awarded_by", sa.String(36), nullable=True),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("released >= 0 AND disbursed >= 0", name="not_negative"),
    sa.CheckConstraint("released + disbursed <= amount", name="within_amount"),
    sa.CheckConstraint("paid <= disbursed", name="paid_within_disbursed"),
    sa.Index("ix_commitments_project_id", "project_id"),
    sa.Index("ix_commitments_source_id", "source_id"),
)

disbursements = sa.Table(
    "disbursements",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(36), nullable=False),
    sa.Column("project_id", sa.String(36), nullable=False),
    sa.Column("milestone_id", sa.String(36), nullable=False, unique=True),
    sa.Column("source_id", sa.String(36), sa.ForeignKey("funding_sources.id"), nullable=False),
    sa.Column("payee_id", sa.String(36), nullable=False),
    sa.Column("amount", Money(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("required_approvals", sa.Integer(), nullable=False),
    sa.Column("requested_by", sa.String(36), nullable=False),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("cause", sa.String(100), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("rejected_by", sa.String(36), nullable=True),
    sa.Column("rejection_reason", sa.Text(), nullable=True),
    sa.Column("paid_by", sa.String(36), nullable=True),
    sa.Column("paid_at", UTCDateTime(), nullable=True),
    sa.Column("payment_reference", sa.String(100), nullable=True, unique=True),
    sa.Column("held_from", sa.String(16), nullable=True),
    sa.Column("hold_reason", sa.Text(), nullable=True),
    #: why it is held, a set of reasons (comma-separated, migration 0006): each is lifted alone
    sa.Column("hold_reasons", sa.String(200), nullable=True),
    sa.Column("payee_status_version", sa.Integer(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(
        "status IN ('pending', 'approved', 'paid', 'rejected', 'held')", name="status"
    ),
    sa.CheckConstraint(
        "status <> 'paid' OR payment_reference IS NOT NULL", name="paid_has_reference"
    ),
    sa.Index("ix_disbursements_status_requested_at", "status", "requested_at"),
    sa.Index("ix_disbursements_payee_id_status", "payee_id", "status"),
    sa.Index("ix_disbursements_contract_id", "contract_id"),
    #: the workbench's payments of a month (migration 0004)
    sa.Index("ix_disbursements_status_paid_at", "status", "paid_at"),
)

approvals = sa.Table(
    "disbursement_approvals",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("disbursement_id", sa.String(36), sa.ForeignKey("disbursements.id"), nullable=False),
    sa.Column("approver_id", sa.String(36), nullable=False),
    sa.Column("approver_name", sa.String(150), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("disbursement_id", "approver_id"),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("transaction_id", sa.String(36), nullable=False),
    sa.Column("line", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("account", sa.String(80), nullable=False),
    sa.Column("debit", Money(), nullable=False),
    sa.Column("credit", Money(), nullable=False),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("contract_id", sa.String(36), nullable=True),
    sa.Column("actor_id", sa.String(36), nullable=True),
    sa.Column("cause", sa.String(100), nullable=False),
    sa.Column("memo", sa.Text(), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("debit >= 0 AND credit >= 0", name="not_negative"),
    sa.CheckConstraint("(debit = 0) <> (credit = 0)", name="one_sided"),
    sa.UniqueConstraint("transaction_id", "line"),
    sa.Index("ix_journal_entries_account", "account"),
    sa.Index("ix_journal_entries_source_id_at", "source_id", "at"),
    sa.Index("ix_journal_entries_contract_id", "contract_id"),
)

#: projects that were closed or cancelled (their remaining commitments are released)
ended_projects = sa.Table(
    "ended_projects",
    metadata,
    sa.Column("project_id", sa.String(36), primary_key=True),
    sa.Column("how", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

#: contracts whose commitment funding refused (``commitment_rejected``): no money will come for
#: them, so an accepted milestone of one is answered with a rejected disbursement at once
#: rather than waiting for a commitment (and dead-lettering when it never comes)
refused_commitments = sa.Table(
    "refused_commitments",
    metadata,
    sa.Column("contract_id", sa.String(36), primary_key=True),
    sa.Column("shortfall", Money(), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("cause", sa.String(100), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

#: top-ups and corrections at or above the threshold, waiting for (or given) a second finance
#: officer's decision; a confirmed one entered the journal under the cause ``adjustment:<id>``
source_adjustments = sa.Table(
    "source_adjustments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("source_id", sa.String(36), sa.ForeignKey("funding_sources.id"), nullable=False),
    sa.Column("amount", Money(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requested_by", sa.String(36), nullable=False),
    sa.Column("requested_by_name", sa.String(150), nullable=False),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("decided_by", sa.String(36), nullable=True),
    sa.Column("decided_by_name", sa.String(150), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("refusal_reason", sa.Text(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.CheckConstraint("amount <> 0", name="not_zero"),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'refused')", name="status"),
    sa.CheckConstraint(
        "status = 'pending' OR (decided_by IS NOT NULL AND decided_by <> requested_by)",
        name="decided_by_another",
    ),
    sa.Index("ix_source_adjustments_status_requested_at", "status", "requested_at"),
    sa.Index("ix_source_adjustments_source_id", "source_id"),
)

#: who verified each service provider in the registry (``organization_verified``'s actor):
#: they never approve a disbursement to it
provider_verifications = sa.Table(
    "provider_verifications",
    metadata,
    sa.Column("organization_id", sa.String(36), primary_key=True),
    sa.Column("verified_by", sa.String(36), primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False),
)

#: milestones projects said are overdue beyond the grace period (``milestone_overdue``), until
#: their report is accepted: while one of a contract's is here, its open disbursements are held
overdue_milestones = sa.Table(
    "overdue_milestones",
    metadata,
    sa.Column("milestone_id", sa.String(36), primary_key=True),
    sa.Column("contract_id", sa.String(36), nullable=False),
    sa.Column("due_on", sa.Date(), nullable=False),
    sa.Column("since", UTCDateTime(), nullable=False),
    sa.Index("ix_overdue_milestones_contract_id", "contract_id"),
)


def _drawn_from_source() -> Any:
    """A row that names its funding source: the relationship is never read (the domain keeps
    ``source_id``), it tells the unit of work to insert a new source before the rows naming it.

    Without it SQLAlchemy orders the INSERTs of unrelated mappers by their classes' module and
    name, and a source created with a pending adjustment in one flush
    (``funding.domain.adjustments`` sorts before ``funding.domain.sources``) would break the
    foreign key."""
    return relationship(FundingSource, lazy="raise")


def _map(mapper: registry) -> None:
    """Map the domain classes onto the tables."""
    mapper.map_imperatively(FundingSource, funding_sources)
    mapper.map_imperatively(
        Commitment, commitments, properties={"funding_source": _drawn_from_source()}
    )
    mapper.map_imperatively(JournalEntry, journal_entries)
    mapper.map_imperatively(Approval, approvals)
    mapper.map_imperatively(
        SourceAdjustment, source_adjustments, properties={"funding_source": _drawn_from_source()}
    )
    mapper.map_imperatively(
        Disbursement,
        disbursements,
        properties={
            "approvals": relationship(
                Approval, order_by=approvals.c.at, cascade="all", lazy="selectin"
            ),
            "funding_source": _drawn_from_source(),
        },
    )


start_mappers = mapping_once(metadata, _map)
