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
        assert {e["name"] for e in secret_refs} >= {"AMQP_URI"}, name
    config = next(
        d
        for d in documents
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "jinguo-config"
    )
    assert not any(re.search("SECRET|PASSWORD|KEY|_URL|URI", key) for key in config["data"])
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
