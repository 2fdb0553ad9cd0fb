"""Registry tables, mapped onto the plain domain classes (SQLAlchemy imperative mapping).

The domain classes stay free of SQLAlchemy; ``start_mappers()`` instruments them once per
process. Ids are canonical UUID strings; ``path`` is the materialised path the subtree queries
(coverage, subtree listing, scope) use with a prefix match — indexed with
``varchar_pattern_ops`` on PostgreSQL so ``LIKE 'prefix%'`` is an index range scan.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry, relationship

from kit.columns import mapping_once
from kit.db import NAMING_CONVENTION, UTCDateTime
from registry.domain.lifecycle import StatusChange
from registry.domain.organization import Organization

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("search_name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("level", sa.String(16), nullable=True),
    sa.Column("sector", sa.String(32), nullable=True),
    sa.Column("uscc", sa.String(18), nullable=True, unique=True),
    sa.Column("region_code", sa.String(12), nullable=True),
    sa.Column("contact", sa.JSON(), nullable=False),
    sa.Column("parent_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=True),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("depth", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint(
        "kind IN ('federation', 'womens_organization', 'host_unit', 'service_provider')",
        name="kind",
    ),
    sa.CheckConstraint(
        "status IN ('registered', 'verified', 'suspended', 'reinstated', 'deregistered')",
        name="status",
    ),
    sa.Index(
        "ix_organizations_kind_path", "kind", "path", postgresql_ops={"path": "varchar_pattern_ops"}
    ),
    sa.Index("ix_organizations_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    sa.Index("ix_organizations_parent_id_kind", "parent_id", "kind"),
    sa.Index("ix_organizations_name_id", "name", "id"),
)

status_changes = sa.Table(
    "organization_status_changes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("organization_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_status", sa.String(16), nullable=True),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("actor_id", sa.String(36), nullable=False),
    sa.Column("actor_name", sa.String(150), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_organization_status_changes_organization_id_at", "organization_id", "at"),
)


#: the weights a federation gives each indicator of its annual assessment (目标考核) of its
#: child federations, per year (``language.assessment``); none kept: the default weights
assessment_weights = sa.Table(
    "assessment_weights",
    metadata,
    sa.Column("federation_id", sa.String(36), sa.ForeignKey("organizations.id"), primary_key=True),
    sa.Column("year", sa.Integer(), primary_key=True),
    sa.Column("weights", sa.JSON(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("updated_by", sa.String(36), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

#: every change of those weights: who, when, before and after, and why (optional)
assessment_weight_changes = sa.Table(
    "assessment_weight_changes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("federation_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("year", sa.Integer(), nullable=False),
    sa.Column("before", sa.JSON(), nullable=False),
    sa.Column("after", sa.JSON(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("actor_id", sa.String(36), nullable=False),
    sa.Column("actor_name", sa.String(150), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_assessment_weight_changes_federation_id_year_at", "federation_id", "year", "at"),
)


def _map(mapper: registry) -> None:
    """Map the domain classes onto the tables (once per process)."""
    mapper.map_imperatively(Organization, organizations)
    # the relationship tells the flush that an organization is inserted before its status
    # changes (without one, mappers flush in the order of their classes' qualified names);
    # use cases set ``organization_id`` and never this attribute
    mapper.map_imperatively(
        StatusChange, status_changes, properties={"organization": relationship(Organization)}
    )


start_mappers = mapping_once(metadata, _map)
