"""The gateway's RPC client against a real broker: answers, a service that never started, one
that does not answer in time, and the deadline that travels with each request."""

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook

from gateway.errors import ServiceTimeout, ServiceUnavailable
from gateway.rpc import ReplyListener, ServiceRpc
from kit.rpc import rpc


class EchoService:
    name = "echo"

    @rpc
    def echo(self, value, *, twice=False):
        return [value, value] if twice else value

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return "late"


class Caller:
    name = "caller"
    echo = ServiceRpc("echo")
    nobody = ServiceRpc("nobody")

    @rpc
    def ask(self, who, method, *args, **kwargs):
        return getattr(self, who).call(method, *args, **kwargs)

    @rpc
    def ask_many(self, count):
        pending = [self.echo.start("echo", i) for i in range(count)]
        return [call.result() for call in pending]


@pytest.fixture
def caller(container_factory, rabbit_config):
    container_factory(EchoService, rabbit_config).start()
    container = container_factory(Caller, {**rabbit_config, "RPC_TIMEOUT": 1})
    container.start()
    return container


def test_a_call_is_answered(caller):
    with entrypoint_hook(caller, "ask") as ask:
        assert ask("echo", "echo", "你好", twice=True) == ["你好", "你好"]
    with entrypoint_hook(caller, "ask_many") as ask_many:
        assert ask_many(20) == list(range(20))  # twenty in flight at once, each its answer


def test_a_service_that_never_started_is_refused_at_once(caller):
    started = eventlet.hubs.get_hub().clock()
    with entrypoint_hook(caller, "ask") as ask, pytest.raises(ServiceUnavailable) as raised:
        ask("nobody", "anything")
    assert raised.value.details == {"service": "nobody"}
    assert eventlet.hubs.get_hub().clock() - started < 0.9  # not the 1 s timeout


def test_a_service_that_does_not_answer_in_time_is_a_timeout(caller):
    with entrypoint_hook(caller, "ask") as ask, pytest.raises(ServiceTimeout):
        ask("echo", "slow", 3)
    with entrypoint_hook(caller, "ask") as ask:
        assert ask("echo", "echo", "still here") == "still here"
    (listener,) = {ext for ext in caller.extensions if isinstance(ext, ReplyListener)}
    assert listener._replies == {}  # the abandoned call left nothing waiting
