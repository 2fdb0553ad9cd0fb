"""A service is not healthy until it consumes every queue it listens on.

nameko starts the RPC queue consumer and the event queue consumer side by side. Once the RPC
one runs, the service answers ``health`` — and anyone who then makes the registry publish an
event (an end-to-end test, a deploy script) could do so before the event queues exist, losing
the event for this service. So health says ``starting`` until every consumer consumes.
"""

import eventlet
import requests
from nameko.exceptions import UnknownService
from sqlalchemy.engine import make_url

from kit.consumer import BatchQueueConsumer, on_event
from kit.dependencies import Database
from kit.health import Health
from kit.rpc import rpc
from projects.service import ProjectsService
from tests.support.platform import free_port
from tests.support.rpc import ServiceRpcProxy
from tests.support.waiting import eventually


def test_health_is_starting_until_the_event_queues_are_consumed(
    container_factory, projects_config, rabbit_manager, rabbit_config, monkeypatch
):
    gate = eventlet.event.Event()
    start = BatchQueueConsumer.start

    def held_at_the_gate(self):
        gate.wait()  # the event queues are not declared until the test lets them be
        return start(self)

    monkeypatch.setattr(BatchQueueConsumer, "start", held_at_the_gate)
    container = container_factory(ProjectsService, projects_config)
    starting = eventlet.spawn(container.start)
    vhost = rabbit_config["vhost"]
    healthz = f"http://{projects_config['WEB_SERVER_ADDRESS']}/healthz"

    with ServiceRpcProxy("projects", projects_config, timeout=10) as projects:
        # once the RPC queue is consumed, the service answers
        report = eventually(projects.health, timeout=10, retry_on=UnknownService)
        assert report["status"] == "starting"
        assert report["consumers"] == "starting"
        assert report["database"]["status"] == "ok"
        queues = {queue["name"] for queue in rabbit_manager.get_queues(vhost)}
        assert "evt-registry-organization_registered--projects.directory_registered" not in queues
        response = requests.get(healthz, timeout=5)
        assert response.status_code == 503
        assert response.json()["status"] == "starting"

        gate.send(None)
        starting.wait()

        report = projects.health()
        assert report["status"] == "ok"
        assert report["consumers"] == "ready"
        queues = {queue["name"] for queue in rabbit_manager.get_queues(vhost)}
        assert "evt-registry-organization_registered--projects.directory_registered" in queues
        assert requests.get(healthz, timeout=5).status_code == 200


class Listener:
    name = "listener"

    db = Database(outbox=False)
    health_report = Health(outbox=False)

    @on_event("registry", "organization_registered")
    def registered(self, event, uow):
        pass

    @rpc
    def health(self):
        return self.health_report()


def test_a_database_down_is_reported_down(container_factory, rabbit_config, postgres_admin_url):
    """A database that does not answer outranks everything else: the service is ``down``."""
    nowhere = make_url(postgres_admin_url).set(port=free_port(), database="nowhere")
    container = container_factory(
        Listener, {**rabbit_config, "DATABASE_URL": nowhere.render_as_string(hide_password=False)}
    )
    container.start()
    with ServiceRpcProxy("listener", rabbit_config, timeout=10) as listener:
        report = listener.health()
    assert report["status"] == "down"
    assert report["database"]["status"] == "down"
    assert report["consumers"] == "ready"
