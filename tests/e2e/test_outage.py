"""The outbox under a broker outage, end to end: the registry's relay loses its broker while
organizations are registered over HTTP; when the broker is back every event reaches the
consumer in the other process, once — also after the relay publishes everything again."""

import eventlet
import pytest
import requests
import sqlalchemy as sa

from kit.db import connect
from kit.tables import inbox, outbox
from tests.support.platform import Platform, new_vhost, vhost_uri
from tests.support.probe import applied
from tests.support.proxy import CuttableProxy


@pytest.fixture(scope="module")
def proxy(infra):
    from urllib.parse import urlsplit

    parts = urlsplit(infra.amqp_uri)
    proxy = CuttableProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
    yield proxy
    proxy.cut()


@pytest.fixture(scope="module")
def platform(rabbit_manager, tmp_path_factory, infra, proxy):
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("outage")
    urls = {
        name: f"sqlite:///{workdir / f'{name}.sqlite3'}"
        for name in ("registry", "gateway", "probe")
    }
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost),
        workdir=workdir,
        database_urls=urls,
        registry_env={"OUTBOX_AMQP_URI": f"amqp://guest:guest@{proxy.address}/{vhost}"},
    )
    platform.probe()
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


def consumed(platform):
    """(rows applied, distinct events applied, inbox rows) in the consumer's database"""
    with connect(platform.database_urls["probe"]) as db, db.begin(write=False) as connection:
        rows, distinct = connection.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(applied.c.event_id)))
        ).one()
        inbox_rows = connection.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one()
    return rows, distinct, inbox_rows


def wait_for(predicate, timeout=30):
    for _ in range(int(timeout / 0.2)):
        if predicate():
            return True
        eventlet.sleep(0.2)
    return predicate()


def registered_published(platform):
    """organization_registered events the registry's relay published and the broker confirmed"""
    metrics = requests.get(f"http://127.0.0.1:{platform.registry_port}/metrics", timeout=10).text
    series = (
        'jinguo_events_published_total{event_type="organization_registered",service="registry"}'
    )
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def registry_outbox(platform):
    return requests.get(f"{platform.base_url}/health", timeout=10).json()["dependencies"][
        "registry"
    ]["outbox"]


def test_events_registered_while_the_broker_is_away_arrive_once_when_it_returns(
    platform, admin, proxy
):
    for i in range(10):
        admin.create("/organizations", {"name": f"通电时{i}", "kind": "service_provider"})
    assert wait_for(lambda: consumed(platform) == (10, 10, 10))

    proxy.cut()
    ids = [
        admin.create("/organizations", {"name": f"断网时{i}", "kind": "service_provider"})["id"]
        for i in range(20)
    ]
    # requests still succeed: the events wait in the registry's outbox, visible to ops
    assert wait_for(lambda: registry_outbox(platform)["pending"] == 20)
    assert consumed(platform) == (10, 10, 10)

    proxy.restore()
    assert wait_for(lambda: consumed(platform) == (30, 30, 30))
    assert wait_for(lambda: registry_outbox(platform)["pending"] == 0)

    # the relay publishes everything again (as after a crash between confirm and mark)
    with connect(platform.database_urls["registry"]) as db, db.begin() as connection:
        connection.execute(sa.update(outbox).values(status="pending", sent_at=None))
    # (the gateway's health report is cached a few seconds: the relay's own count is the proof)
    assert wait_for(lambda: registered_published(platform) == 60.0)
    eventlet.sleep(1.0)
    assert consumed(platform) == (30, 30, 30)
    with connect(platform.database_urls["probe"]) as db, db.begin(write=False) as connection:
        seen = set(connection.execute(sa.select(applied.c.organization_id)).scalars())
    assert set(ids) <= seen
