"""The gateway's nameko service: the routes of every part of the API, and what they need.

Each route authenticates (``@api`` roles), then makes one RPC call and returns its result;
object-level rules (subtree scope, own organization) are enforced by the service that owns the
data. Validation of service payloads happens in the service, against the same schemas this
gateway's OpenAPI document is generated from. The routes live in ``gateway/routes/``, one
module per part of the API.
"""

from __future__ import annotations

from nameko.dependency_providers import Config

from gateway import accounts
from gateway.audit import AuditKeeperState
from gateway.auth import Auth
from gateway.blobstore import BlobStoreProvider
from gateway.healthcache import HealthCache
from gateway.http import DEFAULT_MAX_BODY_BYTES
from gateway.idempotency import IdempotencyKeys
from gateway.mail import MailRelayProvider
from gateway.ops import OwnQueuesProvider
from gateway.readcache import ReadCacheProvider
from gateway.routes.assessment import AssessmentRoutes
from gateway.routes.audit import AuditRoutes
from gateway.routes.certificates import CertificatesRoutes
from gateway.routes.disclosure import DisclosureRoutes
from gateway.routes.files import FilesRoutes
from gateway.routes.funding import FundingRoutes
from gateway.routes.identity import IdentityRoutes
from gateway.routes.notices import NoticesRoutes
from gateway.routes.operations import OperationsRoutes
from gateway.routes.ops import OpsRoutes
from gateway.routes.projects import ProjectsRoutes
from gateway.routes.registry import RegistryRoutes
from gateway.routes.volunteers import VolunteersRoutes
from gateway.routes.workbench import WorkbenchRoutes
from gateway.rpc import ServiceRpc
from kit.clock import utcnow
from kit.dependencies import Database
from kit.operations import Metrics


class GatewayDatabase(Database):
    """The gateway's own database (users, idempotency keys, notifications; the inbox of the
    events it consumes for them); creates the admin at start."""

    def __init__(self) -> None:
        super().__init__(outbox=False)

    def setup(self) -> None:
        # in setup, not start: nameko starts extensions concurrently, and the web server must
        # not answer a login before the admin exists
        super().setup()
        assert self.resource is not None
        accounts.ensure_admin(self.resource, self.container.config.get("ADMIN_PASSWORD"), utcnow())


class GatewayService(
    IdentityRoutes,
    RegistryRoutes,
    ProjectsRoutes,
    FundingRoutes,
    VolunteersRoutes,
    CertificatesRoutes,
    FilesRoutes,
    OperationsRoutes,
    OpsRoutes,
    WorkbenchRoutes,
    DisclosureRoutes,
    AssessmentRoutes,
    NoticesRoutes,
    AuditRoutes,
):
    name = "gateway"

    db = GatewayDatabase()
    auth = Auth()
    config = Config()
    metrics = Metrics()
    #: e-mail for the notifications: the relay runs when SMTP_HOST is set (else None)
    mail = MailRelayProvider()
    registry = ServiceRpc("registry")
    projects = ServiceRpc("projects")
    funding = ServiceRpc("funding")
    volunteers = ServiceRpc("volunteers")
    #: the health report, kept a few seconds (GET /health is public)
    health_cache = HealthCache()
    #: its own event queues (the notifications'): consumed yet (health), their dead letters
    own_queues = OwnQueuesProvider()
    #: uploaded files' bytes (evidence), kept by SHA-256; never sent through RabbitMQ
    blobs = BlobStoreProvider()
    #: the audit log's keeper: anchors its head in the projects service's chain, prunes it
    audit_keeper = AuditKeeperState()
    #: published projects as last rendered, dropped on the projects service's change notices
    project_cache = ReadCacheProvider(
        "projects", follows=("projects", "project"), config_prefix="PROJECT_CACHE"
    )

    @property
    def max_body_bytes(self) -> int:
        return int(self.config.get("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)

    @property
    def idempotency(self) -> IdempotencyKeys:
        return IdempotencyKeys(self.db)
