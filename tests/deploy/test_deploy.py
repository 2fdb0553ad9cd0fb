"""What ops deploy is checked here, offline: Prometheus config and alert rules (promtool, with
rule unit tests), Kubernetes manifests (against the Kubernetes API schemas), the Grafana
dashboard, the Dockerfiles and the compose file."""

import copy
import glob
import json
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = ("registry", "projects", "funding", "volunteers")
K8S_VERSION = "1.30.0"


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (make tools)")
    return path


def run(*args):
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_prometheus_config_and_rules_are_valid():
    output = run(promtool(), "check", "config", str(DEPLOY / "prometheus/prometheus.yml"))
    assert "rules found" in output  # the rule files were found and checked with the config
    run(promtool(), "check", "rules", str(DEPLOY / "prometheus/rules/jinguo.yml"))


def test_alert_rules_behave_as_their_unit_tests_say():
    output = run(promtool(), "test", "rules", str(DEPLOY / "prometheus/tests/jinguo_test.yml"))
    assert "SUCCESS" in output


def test_every_service_is_scraped():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    assert {job["job_name"] for job in config["scrape_configs"]} == {"gateway", *SERVICES}


def k8s_documents():
    for path in sorted(glob.glob(str(DEPLOY / "k8s/*.yaml"))):
        if path.endswith("kustomization.yaml"):
            continue
        for document in yaml.safe_load_all(Path(path).read_text()):
            yield Path(path).name, document


@pytest.mark.parametrize(
    "name, document", list(k8s_documents()), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
def test_kubernetes_manifests_match_the_api_schemas(name, document):
    kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_the_validator_would_catch_a_mistake():
    deployment = next(d for _, d in k8s_documents() if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # typo'd key
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_each_deployment_is_replicated_probed_bounded_and_protected():
    documents = [d for _, d in k8s_documents()]
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    budgets = {d["metadata"]["name"] for d in documents if d["kind"] == "PodDisruptionBudget"}
    assert set(deployments) == {"gateway", *SERVICES}
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] >= 2, name
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"] and container["livenessProbe"], name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        assert name in budgets, f"{name} has no PodDisruptionBudget"
        secret_refs = [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
        assert {e["name"] for e in secret_refs} >= {
            "RABBITMQ_PASSWORD",
            "JINGUO_RPC_KEY",
            "JINGUO_AUDIT_KEY",
        }, name
    config = next(
        d
        for d in documents
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "jinguo-config"
    )
    # the blob store's address names a bucket, never a credential (those are in the secret);
    # the dashboards' addresses are links the 系统状态 page shows to ops; the console's is the
    # link in a notification's mail (SMTP_PASSWORD is in the secret)
    not_secret = {"BLOB_STORE_URL", "GRAFANA_URL", "PROMETHEUS_URL", "CONSOLE_URL"}
    assert not any(
        re.search("SECRET|PASSWORD|KEY|_URL|URI", key)
        for key in config["data"]
        if key not in not_secret
    )
    rabbit = next(
        d
        for d in documents
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rabbitmq-config"
    )
    assert "default_queue_type = quorum" in rabbit["data"]["rabbitmq.conf"]


def defined_metrics():
    """Every metric name the code defines (Counter/Gauge/Histogram), with histogram series."""
    names = set()
    for path in ROOT.glob("services/*/*/*.py"):
        for kind, name in re.findall(
            r'(Counter|Gauge|Histogram)\(\s*"([a-z_]+)"', path.read_text()
        ):
            names.add(name)
            if kind == "Histogram":
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return names | {"up"}


def test_the_dashboard_has_a_row_per_service_and_uses_only_real_metrics():
    dashboard = json.loads((DEPLOY / "grafana/dashboards/jinguo.json").read_text())
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Gateway", "Registry", "Projects", "Funding", "Volunteers", "Business"]
    known = defined_metrics()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            used = set(re.findall(r"\b(jinguo_[a-z_]+|up)\b", target["expr"]))
            assert used and used <= known, (panel["title"], used - known)


def test_alert_rules_use_only_real_metrics():
    rules = yaml.safe_load((DEPLOY / "prometheus/rules/jinguo.yml").read_text())
    known = defined_metrics()
    for group in rules["groups"]:
        for rule in group["rules"]:
            used = set(re.findall(r"\b(jinguo_[a-z_]+|up)\b", rule["expr"]))
            assert used <= known, (rule["alert"], used - known)


@pytest.mark.parametrize(
    "path", ["gateway/Dockerfile", *(f"services/{s}/Dockerfile" for s in SERVICES)]
)
def test_dockerfiles_are_multi_stage_unprivileged_and_start_through_jinguo_serve(path):
    text = (ROOT / path).read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
    assert re.search(r"^USER (?!0|root)\S+", text, re.M), "runs as an unprivileged user"
    assert "backdoor" not in text
    assert re.search(r'^ENTRYPOINT \["jinguo-serve"', text, re.M)
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (ROOT / source).exists(), f"{path} copies {source}, which does not exist"


def test_the_compose_file_builds_every_service_and_wires_monitoring():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"rabbitmq", "postgres", "prometheus", "grafana", "gateway", *SERVICES} <= set(services)
    for name in ("gateway", *SERVICES):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).exists(), name
    # evidence files go to MinIO's bucket, which exists before the gateway starts
    gateway = services["gateway"]
    assert gateway["environment"]["BLOB_STORE_URL"].startswith("s3://jinguo-evidence")
    assert gateway["environment"]["BLOB_STORE_S3_ENDPOINT"] == "http://minio:9000"
    assert gateway["depends_on"]["minio-setup"] == {"condition": "service_completed_successfully"}
    assert "jinguo-evidence" in services["minio-setup"]["command"][0]
    init = (DEPLOY / "postgres/init.sql").read_text()
    assert all(f"CREATE DATABASE {s}" in init for s in (*SERVICES, "gateway"))
    for volume in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        assert (DEPLOY / volume.split(":")[0]).exists(), volume


# --- the broker's users: one per service, publishing only to what is its own ----------------

DEFINITIONS = DEPLOY / "rabbitmq/definitions.json"
#: the event sources each service consumes (its ``@on_event`` handlers and language.directory)
CONSUMES = {
    "registry": set(),
    "projects": {"registry", "funding", "volunteers"},
    "funding": {"registry", "projects"},
    "volunteers": {"registry", "projects"},
}


def definitions():
    return json.loads(DEFINITIONS.read_text())


def permissions(user):
    (found,) = [p for p in definitions()["permissions"] if p["user"] == user]
    return found


def allows(regex, name):
    return re.search(regex, name) is not None


def test_every_process_has_its_own_broker_user_and_no_guest():
    users = {user["name"]: user for user in definitions()["users"]}
    assert set(users) == {"admin", "gateway", *SERVICES}
    for name, user in users.items():
        # a placeholder rendered from the environment at boot, never a password in the repo
        assert user["password"] == f"${{RABBITMQ_{name.upper()}_PASSWORD}}", name
        assert ("administrator" in user["tags"]) == (name == "admin"), name
    assert {p["user"] for p in definitions()["permissions"]} == set(users)


def consumed_sources(service):
    """The event sources a service class binds queues to, read from its entrypoints."""
    import importlib

    from nameko.events import EventHandler
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    module = importlib.import_module(f"{service}.service")
    (service_class,) = [
        cls
        for cls in vars(module).values()
        if isinstance(cls, type) and getattr(cls, "name", None) == service
    ]
    return {
        entrypoint.source_service
        for cls in service_class.__mro__
        for attribute in vars(cls).values()
        for entrypoint in getattr(attribute, ENTRYPOINT_EXTENSIONS_ATTR, ())
        if isinstance(entrypoint, EventHandler)
    }


@pytest.mark.parametrize("service", SERVICES)
def test_the_consumed_sources_are_what_the_code_binds(service):
    """If this fails, a service started consuming another's events: let its broker user read
    (and declare) that ``<source>.events`` exchange in deploy/rabbitmq/definitions.json."""
    assert consumed_sources(service) == CONSUMES[service]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_writes_only_its_own_events_exchange(service):
    granted = permissions(service)
    assert allows(granted["write"], f"{service}.events")
    assert allows(granted["write"], "nameko-rpc")  # requests and replies
    for other in (*SERVICES, "gateway"):
        if other != service:
            assert not allows(granted["write"], f"{other}.events"), other
            # nor another's queues, nor its RPC queue
            assert not allows(granted["write"], f"rpc-{other}"), other
            assert not allows(granted["write"], f"evt-registry-x--{other}.handler"), other
    assert not allows(granted["write"], "amq.default")  # no publishing straight into a queue
    assert allows(granted["write"], "jinguo.changes") == (service == "projects")
    for source in CONSUMES[service]:
        assert allows(granted["read"], f"{source}.events"), source
        assert allows(granted["configure"], f"{source}.events"), source
    for other in set(SERVICES) - CONSUMES[service] - {service}:
        assert not allows(granted["read"], f"{other}.events"), other


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reaches_every_queue_the_kit_declares_for_it(service):
    granted = permissions(service)
    reply = "rpc.reply-{}-0b9f4c7e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"
    event_queue = f"evt-registry-organization_registered--{service}.directory_registered"
    for name in (f"rpc-{service}", event_queue, f"{event_queue}.dead", reply.format(service)):
        for kind in ("configure", "write", "read"):
            assert allows(granted[kind], name), (kind, name)
    assert not allows(granted["read"], reply.format("gateway"))  # another's replies
    assert allows(granted["write"], "jinguo.dead-letters")  # its queues' dead-letter exchange
    # its retry exchange and delay queues (kit.retry), and not another service's
    from kit.retry import RetryPolicy, delay_queue, exchange_name, return_exchange_name

    names = [
        exchange_name(service),
        return_exchange_name(service),
        *(delay_queue(service, t) for t in RetryPolicy().tiers()),
    ]
    for name in names:
        for kind in ("configure", "write", "read"):
            assert allows(granted[kind], name), (kind, name)
    for other in set(SERVICES) - {service}:
        assert not allows(granted["write"], exchange_name(other)), other
        assert not allows(granted["write"], return_exchange_name(other)), other
        assert not allows(granted["configure"], delay_queue(other, 30)), other
    # expired copies do not go back through the default exchange: writing to it would reach
    # every queue of the vhost
    assert not allows(granted["write"], "amq.default")


def test_event_queues_declared_before_their_arguments_said_so_dead_letter_at_least_once():
    """A policy gives queues declared by an earlier version (EVENT_DEAD_LETTER_STRATEGY
    at-most-once) the at-least-once dead-lettering new ones declare themselves."""
    (policy,) = definitions()["policies"]
    assert policy["vhost"] == "jinguo" and policy["pattern"] == "^evt-"
    assert policy["definition"] == {
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
    }


def test_the_gateway_publishes_only_rpc_requests_and_its_users_change_notices():
    granted = permissions("gateway")
    assert allows(granted["write"], "nameko-rpc")
    for service in SERVICES:
        assert not allows(granted["write"], f"{service}.events"), service
    # a user's role, password or access changed: the other gateway processes drop her tokens
    assert allows(granted["write"], "jinguo.changes")
    assert allows(granted["read"], "jinguo.changes")  # it follows the change notices
    assert allows(granted["configure"], f"changes-{'a' * 32}")
    assert allows(granted["configure"], "rpc.reply-gateway-0b9f4c7e-1d2a-4c3b-9e8f-7a6b5c4d3e2f")


def test_the_gateway_consumes_the_events_its_notifications_are_made_from():
    """gateway.routes.notices binds to these sources: its broker user reads (and declares)
    their exchanges, and owns its queues, their dead-letter queues and its retry exchanges."""
    from kit.retry import RetryPolicy, delay_queue, exchange_name, return_exchange_name

    assert consumed_sources("gateway") == {"projects", "funding", "volunteers"}
    granted = permissions("gateway")
    for source in ("projects", "funding", "volunteers"):
        assert allows(granted["read"], f"{source}.events"), source
        assert allows(granted["configure"], f"{source}.events"), source
    assert not allows(granted["read"], "registry.events")
    queue = "evt-projects-milestone_due--gateway.notify_milestone_due"
    own = [queue, f"{queue}.dead", exchange_name("gateway"), return_exchange_name("gateway")]
    own += [delay_queue("gateway", t) for t in RetryPolicy().tiers()]
    for name in own:
        for kind in ("configure", "write", "read"):
            assert allows(granted[kind], name), (kind, name)
    assert allows(granted["write"], "jinguo.dead-letters")
    for service in SERVICES:
        assert not allows(granted["write"], f"evt-projects-x--{service}.handler"), service
        assert not allows(granted["write"], exchange_name(service)), service


def test_kubernetes_loads_the_same_definitions_and_connects_each_process_as_itself():
    documents = [d for _, d in k8s_documents()]
    (config_map,) = [
        d
        for d in documents
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rabbitmq-definitions"
    ]
    assert json.loads(config_map["data"]["definitions.json"]) == definitions()
    script = (DEPLOY / "rabbitmq/render-definitions.sh").read_text()
    assert config_map["data"]["render-definitions.sh"] == script
    rabbit = next(
        d
        for d in documents
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "rabbitmq-config"
    )
    assert (
        "load_definitions = /etc/jinguo/rendered/definitions.json"
        in rabbit["data"]["rabbitmq.conf"]
    )
    secret = yaml.safe_load((DEPLOY / "k8s/secrets.example.yaml").read_text())
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    for name in ("gateway", *SERVICES):
        env = {
            e["name"]: e
            for e in deployments[name]["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        key = env["RABBITMQ_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"]
        assert key == f"RABBITMQ_{name.upper()}_PASSWORD" and key in secret["stringData"], name
        assert env["AMQP_URI"]["value"].startswith(f"amqp://{name}:$(RABBITMQ_PASSWORD)@"), name
        assert env["JINGUO_RPC_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "JINGUO_RPC_KEY"
        audit_key = env["JINGUO_AUDIT_KEY"]["valueFrom"]["secretKeyRef"]["key"]
        assert audit_key == "JINGUO_AUDIT_KEY" and audit_key in secret["stringData"], name
    assert "AMQP_URI" not in secret["stringData"]  # no shared broker user


def test_compose_has_no_default_or_shared_passwords_and_each_process_its_own_user():
    text = (DEPLOY / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert "guest" not in json.dumps(compose)  # the comments may say there is none
    assert "RABBITMQ_DEFAULT_PASS" not in text and "jinguo:jinguo@" not in text
    rabbit = services["rabbitmq"]
    assert "render-definitions.sh" in " ".join(rabbit["entrypoint"])
    for user in ("ADMIN", "GATEWAY", *(s.upper() for s in SERVICES)):
        variable = f"RABBITMQ_{user}_PASSWORD"
        assert rabbit["environment"][variable] == f"${{{variable}:?set {variable}}}"  # fail fast
    for name in ("gateway", *SERVICES):
        environment = services[name]["environment"]
        variable = f"RABBITMQ_{name.upper()}_PASSWORD"
        assert environment["AMQP_URI"] == (
            f"amqp://{name}:${{{variable}:?set {variable}}}@rabbitmq:5672/jinguo"
        ), name
        assert environment["JINGUO_RPC_KEY"].startswith("${JINGUO_RPC_KEY:?"), name
        assert environment["JINGUO_AUDIT_KEY"].startswith("${JINGUO_AUDIT_KEY:?"), name
    conf = (DEPLOY / "rabbitmq/rabbitmq.conf").read_text()
    assert "load_definitions = /tmp/jinguo-definitions.json" in conf
    assert "/tmp/jinguo-definitions.json" in " ".join(rabbit["entrypoint"])


def test_the_definitions_render_with_the_passwords_and_refuse_a_missing_one(tmp_path):
    environment = {
        f"RABBITMQ_{u}_PASSWORD": f"{u.lower()}-0123456789abcdef"
        for u in ("ADMIN", "GATEWAY", "REGISTRY", "PROJECTS", "FUNDING", "VOLUNTEERS")
    }
    script = str(DEPLOY / "rabbitmq/render-definitions.sh")
    output = tmp_path / "definitions.json"
    subprocess.run(["sh", script, str(DEFINITIONS), str(output)], env=environment, check=True)
    rendered = json.loads(output.read_text())
    assert {u["name"]: u["password"] for u in rendered["users"]} == {
        "admin": "admin-0123456789abcdef",
        "gateway": "gateway-0123456789abcdef",
        **{s: f"{s}-0123456789abcdef" for s in SERVICES},
    }
    assert rendered["permissions"] == definitions()["permissions"]
    assert output.stat().st_mode & 0o777 == 0o600
    missing = {k: v for k, v in environment.items() if k != "RABBITMQ_FUNDING_PASSWORD"}
    result = subprocess.run(
        ["sh", script, str(DEFINITIONS), str(tmp_path / "other.json")],
        env=missing,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "RABBITMQ_FUNDING_PASSWORD" in result.stderr


def test_the_business_row_and_the_alerts_watch_overdue_milestones_and_their_holds():
    """Issue 16: overdue milestones (beyond the grace period) and the money held for them are
    on the business row, below its heading, and each has an alert."""
    dashboard = json.loads((DEPLOY / "grafana/dashboards/jinguo.json").read_text())
    panels = dashboard["panels"]
    business_y = next(p["gridPos"]["y"] for p in panels if p["title"] == "Business")
    exprs = {
        target["expr"]
        for panel in panels
        if panel["type"] != "row" and panel["gridPos"]["y"] > business_y
        for target in panel.get("targets", [])
    }
    for metric in (
        "jinguo_milestones_overdue_beyond_grace",
        "jinguo_disbursements_held_overdue",
        "jinguo_disbursements_held_overdue_fen",
    ):
        assert any(metric in expr.split() or expr.startswith(metric) for expr in exprs), metric
    rules = yaml.safe_load((DEPLOY / "prometheus/rules/jinguo.yml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert "jinguo_milestones_overdue_beyond_grace" in alerts["JinguoMilestonesOverdue"]
    assert "jinguo_disbursements_held_overdue" in alerts["JinguoMoneyHeldForOverdueReports"]
