"""Alembic, driven from code: every service migrates the same way.

A service's ``migrations/env.py`` is two lines (``run_env(metadata)``); its revisions create
the service's tables and the kit's (outbox, lease, inbox). Tests apply the same revisions —
never ``create_all`` — and ``drift()`` proves the models and the migrations agree.

    jinguo-migrate services/registry/config.yaml       # upgrade to head
    jinguo-migrate services/registry/config.yaml --check   # fail if models drifted
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from kit import tables
from kit.config import load_config
from kit.db import create_engine, is_sqlite


def alembic_config(package: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["url"] = url
    return config


#: PostgreSQL advisory lock key: replicas starting together migrate one at a time
MIGRATION_LOCK = 0x4A494E47  # "JING"


def upgrade(package: str, url: str, revision: str = "head") -> None:
    if not url.startswith("postgres"):
        command.upgrade(alembic_config(package, url), revision)
        return
    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            try:
                command.upgrade(alembic_config(package, url), revision)
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                connection.commit()
    finally:
        engine.dispose()


def downgrade(package: str, url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(package, url), revision)


def _targets(
    metadata: sa.MetaData, kit_tables: bool, include: Sequence[sa.MetaData]
) -> list[sa.MetaData]:
    targets = [metadata]
    if kit_tables:
        targets.append(tables.metadata)
        targets.append(tables.audit_metadata)
    targets.extend(include)
    return targets


def drift(
    url: str,
    metadata: sa.MetaData,
    *,
    kit_tables: bool = True,
    include: Sequence[sa.MetaData] = (),
) -> list[Any]:
    """Differences between the migrated database and the models (empty when they agree)."""
    engine = create_engine(url)
    target = _targets(metadata, kit_tables, include)
    try:
        with engine.connect() as connection:
            migration = MigrationContext.configure(
                connection, opts={"compare_type": True, "target_metadata": target}
            )
            return compare_metadata(migration, target)
    finally:
        engine.dispose()


def run_env(
    metadata: sa.MetaData,
    *,
    kit_tables: bool = True,
    include: Sequence[sa.MetaData] = (),
) -> None:
    """The body of every service's ``migrations/env.py``.

    ``kit_tables`` adds the outbox, lease and inbox tables (a service that publishes or
    consumes events has them; the gateway does not); ``include`` adds tables the service's
    database holds for another package — the copy of the registry's organizations
    (``language.directory.metadata``) for services that keep one. The service's models say
    the same in ``INCLUDE_METADATA``, for ``jinguo-migrate --check``.
    """
    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    target = _targets(metadata, kit_tables, include)
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target, literal_binds=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target,
                compare_type=True,
                render_as_batch=is_sqlite(url),
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Migrate a Jinguo service's database")
    parser.add_argument("config", help="the service's config.yaml (its DATABASE_URL is migrated)")
    parser.add_argument("--revision", default="head")
    parser.add_argument("--check", action="store_true", help="fail if the models drifted")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    package = config["SERVICE_PACKAGE"]
    url = config["DATABASE_URL"]
    upgrade(package, url, args.revision)
    print(f"{package}: migrated {_safe(url)} to {args.revision}")
    if args.check:
        models = __import__(f"{package}.models", fromlist=["metadata"])
        differences = drift(
            url,
            models.metadata,
            kit_tables=getattr(models, "KIT_TABLES", True),
            include=getattr(models, "INCLUDE_METADATA", ()),
        )
        if differences:
            print(f"{package}: models and migrations differ: {differences}", file=sys.stderr)
            return 1
    return 0


def _safe(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
