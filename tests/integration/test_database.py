"""The kit's database plumbing against real backends."""

import eventlet
import pytest
import sqlalchemy as sa

from kit.db import connect


def test_a_slow_postgresql_query_does_not_stall_other_greenlets(postgres_admin_url):
    ticks = []

    def ticker():
        for _ in range(200):
            ticks.append(1)
            eventlet.sleep(0.005)

    with connect(postgres_admin_url) as db:
        with db.begin(write=False) as connection:  # warm the pool up first
            connection.execute(sa.text("SELECT 1"))
        background = eventlet.spawn(ticker)
        eventlet.sleep(0)
        before = len(ticks)
        with db.begin(write=False) as connection:
            connection.execute(sa.text("SELECT pg_sleep(0.5)"))
        during = len(ticks) - before
        background.kill()
    # psycopg2 waits through eventlet (psycogreen): the ticker kept running during the query.
    # Had the query blocked the process, it could not have ticked at all.
    assert during > 10


@pytest.mark.parametrize("readonly", [False, True])
def test_leaving_a_unit_of_work_without_commit_rolls_back(tmp_path, readonly):
    url = f"sqlite:///{tmp_path / 'uow.sqlite3'}"
    with connect(url) as db:
        with db.begin() as connection:
            connection.execute(sa.text("CREATE TABLE t (v INTEGER)"))
        with db() as uow:
            uow.session.execute(sa.text("INSERT INTO t VALUES (1)"))
            uow.commit()
        with pytest.raises(RuntimeError), db() as uow:
            uow.session.execute(sa.text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("the handler failed")
        with db() as uow:
            uow.session.execute(sa.text("INSERT INTO t VALUES (3)"))  # no commit
        with db(readonly=readonly) as uow:
            assert uow.session.execute(sa.text("SELECT v FROM t")).scalars().all() == [1]


def test_events_of_an_aggregate_nobody_holds_any_more_still_reach_the_outbox(tmp_path):
    """The session's identity map is weak: a flushed aggregate that nobody refers to can be
    collected before commit. The unit of work keeps the aggregates it saw, so its events
    survive (this once lost milestone_reported events)."""
    import gc

    from kit.migrate import upgrade
    from kit.tables import outbox
    from kit.usecase import SystemClock
    from language.actor import Actor
    from registry import handlers
    from registry.commands import ChangeStatus, RegisterOrganization
    from registry.context import Context
    from registry.repository import OrganizationRepository

    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    upgrade("registry", url)
    admin = Actor("a0000000-0000-4000-8000-000000000001", "admin", "admin")

    def context(uow):
        return Context(uow, OrganizationRepository(uow.session), admin, SystemClock())

    with connect(url, service_name="registry") as db:
        with db() as uow:
            org = handlers.register_organization(
                context(uow), RegisterOrganization(name="x", kind="service_provider")
            )
            uow.commit()
        with db() as uow:
            handlers.change_status(context(uow), ChangeStatus(org.id, "verify", None))
            uow.session.flush()  # the change is written: the session lets go of the object
            gc.collect()
            written = uow.commit()
        assert [body["organization_id"] for body in written] == [org.id]
        with db.begin(write=False) as connection:
            types = (
                connection.execute(sa.select(outbox.c.event_type).order_by(outbox.c.id))
                .scalars()
                .all()
            )
    assert types == ["organization_registered", "organization_verified"]


def test_autocommit_statements_stand_alone_and_leave_the_pool_transactional(database_url):
    """The relay's statements commit on their own; the connection they used, back in the
    pool, runs units of work in transactions again (PostgreSQL switches with no round trip)."""
    from kit.db import DatabaseResource

    db = DatabaseResource(database_url, service_name="test", pool_size=1)
    try:
        with db.begin() as connection:
            connection.execute(sa.text("CREATE TABLE t (v INTEGER)"))
        for _ in range(3):
            with db.autocommit() as connection:
                connection.execute(sa.text("INSERT INTO t VALUES (1)"))
            with db(readonly=True) as uow:  # an autocommit read session on PostgreSQL
                uow.session.execute(sa.text("SELECT count(*) FROM t")).scalar()
            with db() as uow:
                uow.session.execute(sa.text("INSERT INTO t VALUES (2)"))  # no commit
        with db.autocommit(write=False) as connection:
            assert connection.execute(sa.text("SELECT v FROM t")).scalars().all() == [1, 1, 1]
            if db.engine.dialect.name == "postgresql":
                level = connection.exec_driver_sql("SHOW default_transaction_isolation").scalar()
                assert level == "read committed"
    finally:
        db.dispose()
