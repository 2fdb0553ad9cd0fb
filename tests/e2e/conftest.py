"""End-to-end fixtures: the platform running as real processes over a fresh vhost."""

import pytest

from tests.support.platform import Platform, new_vhost, vhost_uri


@pytest.fixture(scope="module")
def platform(request, rabbit_manager, tmp_path_factory, infra):
    """The module's platform; a module that needs other settings names them in its
    ``PLATFORM_ENV`` (e.g. the audit trail's tests anchor the logs' heads every 2 s, which
    would put anchors among the events other modules count)."""
    vhost = new_vhost(rabbit_manager)
    workdir = tmp_path_factory.mktemp("platform")
    platform = Platform(
        amqp_uri=vhost_uri(infra.amqp_uri, vhost),
        workdir=workdir,
        database_urls={
            "registry": f"sqlite:///{workdir / 'registry.sqlite3'}",
            "gateway": f"sqlite:///{workdir / 'gateway.sqlite3'}",
            "probe": f"sqlite:///{workdir / 'probe.sqlite3'}",
        },
        extra_env=dict(getattr(request.module, "PLATFORM_ENV", {})),
    )
    # a consumer in another process, like a fifth service
    platform.probe()
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()
        rabbit_manager.delete_vhost(vhost)


@pytest.fixture(scope="module")
def admin(platform):
    return platform.admin()
