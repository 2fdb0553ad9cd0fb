"""A reply the broker cannot take must not take the service down with it.

When RabbitMQ goes away while a worker runs, publishing its reply fails. nameko lets that error
escape the worker and kill the container — every other worker with it. The kit's RPC consumer
logs it and goes on: the caller times out (the gateway answers 503) and retries.
"""

import itertools

import kombu.exceptions
import pytest
from nameko.exceptions import RpcTimeout

from kit.rpc import LeanResponder, rpc
from tests.support.rpc import ServiceRpcProxy


class EchoService:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


def test_a_reply_that_cannot_be_sent_leaves_the_service_running(
    container_factory, rabbit_config, monkeypatch
):
    container = container_factory(EchoService, rabbit_config)
    container.start()
    send = LeanResponder.send_response
    calls = itertools.count()

    def broker_gone_once(self, result, exc_info):
        if next(calls) == 0:
            raise kombu.exceptions.OperationalError("[Errno 111] ECONNREFUSED")
        return send(self, result, exc_info)

    monkeypatch.setattr(LeanResponder, "send_response", broker_gone_once)

    with ServiceRpcProxy("echo", rabbit_config, timeout=2) as echo:
        with pytest.raises(RpcTimeout):
            echo.echo("lost")
        assert echo.echo("answered") == "answered"
    # the container would have been killed by the first reply's error
    assert not container._died.ready()
