"""Calling services from tests as the gateway would: every request signed (``kit.trust``).

Services refuse an RPC request without proof that it comes from the platform, so tests use
these in place of nameko's standalone proxies — same names, same use:

    from tests.support.rpc import ServiceRpcProxy

    with ServiceRpcProxy("registry", registry_config) as registry:
        registry.get_organization(org_id, {"user_id": ..., "role": "admin", ...})

The key is the config's ``RPC_KEY`` or ``JINGUO_RPC_KEY`` from the environment, which
``tests/conftest.py`` sets to a fresh random key for every test run (and the e2e platform
passes on to the processes it starts).
"""

from __future__ import annotations

from typing import Any

import eventlet

from kit.calls import SignedRpcClient

#: seconds a call waits when the test gives no timeout (nameko's proxies wait for ever)
DEFAULT_TIMEOUT = 60.0


class _Method:
    def __init__(self, client: SignedRpcClient, service: str, method: str) -> None:
        self._client = client
        self._service = service
        self._method = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.call(self._service, self._method, *args, **kwargs)

    def call_async(self, *args: Any, **kwargs: Any) -> _AsyncReply:
        return _AsyncReply(eventlet.spawn(self, *args, **kwargs))


class _AsyncReply:
    def __init__(self, thread: Any) -> None:
        self._thread = thread

    def result(self) -> Any:
        return self._thread.wait()


class _Service:
    def __init__(self, client: SignedRpcClient, service: str) -> None:
        self._client = client
        self._service = service

    def __getattr__(self, method: str) -> _Method:
        if method.startswith("_"):
            raise AttributeError(method)
        return _Method(self._client, self._service, method)


class ServiceRpcProxy:
    """``nameko.standalone.rpc.ServiceRpcProxy`` with signed requests."""

    def __init__(self, service_name: str, config: dict[str, Any], timeout: float | None = None):
        self._service_name = service_name
        self._config = config
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._client: SignedRpcClient | None = None

    def start(self) -> _Service:
        self._client = SignedRpcClient(self._config, caller="test", timeout=self._timeout)
        return _Service(self._client, self._service_name)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> _Service:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Cluster:
    def __init__(self, client: SignedRpcClient) -> None:
        self._client = client

    def __getattr__(self, service: str) -> _Service:
        if service.startswith("_"):
            raise AttributeError(service)
        return _Service(self._client, service)


class ClusterRpcProxy(ServiceRpcProxy):
    """``nameko.standalone.rpc.ClusterRpcProxy`` with signed requests:
    ``cluster.volunteers.import_volunteers(...)``."""

    def __init__(self, config: dict[str, Any], timeout: float | None = None):
        super().__init__("", config, timeout)

    def start(self) -> _Cluster:  # type: ignore[override]
        self._client = SignedRpcClient(self._config, caller="test", timeout=self._timeout)
        return _Cluster(self._client)

    def __enter__(self) -> _Cluster:  # type: ignore[override]
        return self.start()
