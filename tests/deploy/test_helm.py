"""The Helm chart renders (Helm v4's SDK, from the helm-python-sdk wheel) and every manifest
passes kubernetes-validate against the newest Kubernetes schemas it ships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "tessera"
SERVICES = ("api", "builder", "deployer", "monitor", "beat")
REQUIRED = {
    "database": {"url": "postgresql://tessera:secret@postgres:5432/tessera"},
    "broker": {"url": "redis://redis:6379/0"},
}
EVERYTHING = REQUIRED | {
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}}},
    **{name: {"autoscaling": {"enabled": True}} for name in ("api", "builder", "deployer")},
}
EXISTING = {
    "existingSecret": "tessera-urls",
    "artifacts": {"existingClaim": "shared-artifacts"},
    "serviceAccount": {"create": False, "name": "runner"},
    "rbac": {"create": False},
    "api": {"migrateOnStart": False},
}
DURATION = {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$"}
# The fields of monitoring.coreos.com/v1 ServiceMonitor that the chart writes, as the
# Prometheus Operator documents them; kubernetes-validate knows built-in kinds only.
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"$ref": "#/$defs/metadata"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "relabelings": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "sourceLabels": {
                                            "type": "array",
                                            "items": {
                                                "type": "string",
                                                "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$",
                                            },
                                        },
                                        "targetLabel": {"type": "string"},
                                        "regex": {"type": "string"},
                                        "replacement": {"type": "string"},
                                        "action": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def render(values: dict[str, Any], namespace: str = "tessera") -> list[dict[str, Any]]:
    chart = helm.Chart.load(CHART)
    files = chart.render(values, name="tessera", namespace=namespace, is_install=True)
    return [
        document
        for path, text in sorted(files.items())
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]


def by_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


@pytest.mark.parametrize("values", [REQUIRED, EVERYTHING, EXISTING], ids=["defaults", "all", "byo"])
def test_every_manifest_passes_kubernetes_validate(values: dict[str, Any]) -> None:
    manifests = render(values)
    version = kubernetes_validate.latest_version()
    for manifest in manifests:
        if manifest["kind"] == "ServiceMonitor":
            jsonschema.validate(manifest, SERVICE_MONITOR)
            continue
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validation_is_strict() -> None:
    deployment = by_kind(render(REQUIRED), "Deployment")["tessera-api"]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_a_deployment_per_service_with_replicas_resources_and_probes() -> None:
    manifests = render(REQUIRED)
    deployments = by_kind(manifests, "Deployment")
    assert set(deployments) == {f"tessera-{name}" for name in SERVICES}
    args = {}
    for name in SERVICES:
        spec = deployments[f"tessera-{name}"]["spec"]
        container = spec["template"]["spec"]["containers"][0]
        args[name] = container["args"]
        assert container["resources"]["requests"] and container["readinessProbe"]
        assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/var/lib/tessera/artifacts", "/run/tessera-metrics"} <= mounts
    assert args["api"] == ["api"] and args["beat"] == ["beat"]
    assert args["deployer"] == ["worker", "deployer", "--concurrency", "4"]
    assert deployments["tessera-api"]["spec"]["replicas"] == 2
    beat = deployments["tessera-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    init = deployments["tessera-api"]["spec"]["template"]["spec"]["initContainers"]
    assert [c["args"] for c in init] == [["migrate"]], "the API migrates before it serves"
    assert not by_kind(manifests, "HorizontalPodAutoscaler")
    assert not by_kind(manifests, "ServiceMonitor")


def test_services_expose_every_process_to_the_service_monitor() -> None:
    manifests = render(EVERYTHING, namespace="gpu")
    services = by_kind(manifests, "Service")
    assert set(services) == {f"tessera-{name}" for name in SERVICES}
    ports = {name: [p["name"] for p in s["spec"]["ports"]] for name, s in services.items()}
    assert ports["tessera-api"] == ["http"] and ports["tessera-deployer"] == ["metrics"]
    monitor = by_kind(manifests, "ServiceMonitor")["tessera"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    for service in services.values():
        assert selector.items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"http", "metrics"}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["gpu"]}
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    assert set(hpas) == {"tessera-api", "tessera-builder", "tessera-deployer"}
    deployments = by_kind(manifests, "Deployment")
    assert "replicas" not in deployments["tessera-api"]["spec"], "the HPA owns the count"


def test_rbac_covers_jobs_pods_configmaps_and_nodes() -> None:
    manifests = render(REQUIRED)
    role = by_kind(manifests, "Role")["tessera"]
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert {"create", "delete", "watch"} <= granted[("batch", "jobs")]
    assert {"get", "list", "watch"} <= granted[("", "pods")]
    assert "get" in granted[("", "pods/log")]
    assert {"create", "delete"} <= granted[("", "configmaps")]
    cluster = by_kind(manifests, "ClusterRole")["tessera-tessera-nodes"]
    assert cluster["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}
    ]
    bindings = [
        *by_kind(manifests, "RoleBinding").values(),
        *by_kind(manifests, "ClusterRoleBinding").values(),
    ]
    assert all(b["subjects"][0]["name"] == "tessera" for b in bindings)


def test_secrets_config_and_bring_your_own() -> None:
    manifests = render(REQUIRED)
    secret = by_kind(manifests, "Secret")["tessera"]
    assert secret["stringData"]["TESSERA_DATABASE_URL"].startswith("postgresql://")
    config = by_kind(manifests, "ConfigMap")["tessera"]["data"]
    assert config["TESSERA_METRICS_PORT"] == "9100" and config["TESSERA_LOCAL_TESTBED"] == "false"
    assert config["TESSERA_METRICS_DIR"] == "/run/tessera-metrics"

    own = render(EXISTING)
    assert not by_kind(own, "Secret") and not by_kind(own, "ServiceAccount")
    assert not by_kind(own, "Role") and not by_kind(own, "PersistentVolumeClaim")
    api = by_kind(own, "Deployment")["tessera-api"]["spec"]["template"]["spec"]
    assert "initContainers" not in api and api["serviceAccountName"] == "runner"
    assert api["containers"][0]["envFrom"][1] == {"secretRef": {"name": "tessera-urls"}}
    assert api["volumes"][0]["persistentVolumeClaim"]["claimName"] == "shared-artifacts"


def test_rendering_without_the_urls_names_what_is_missing() -> None:
    with pytest.raises(helm.HelmError, match="database.url"):
        render({})


def test_the_chart_lints_clean() -> None:
    report = helm.lint(CHART, REQUIRED, strict=True)
    assert not report["errors"]
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


SCALED = EVERYTHING | {
    "api": {"replicas": 3},
    "builder": {"replicas": 2},
    "deployer": {"replicas": 5},
    "monitor": {"replicas": 3},
}


def test_replicas_per_process_and_every_replica_is_scraped() -> None:
    manifests = render(SCALED, namespace="gpu")
    deployments = by_kind(manifests, "Deployment")
    replicas = {name: d["spec"].get("replicas") for name, d in deployments.items()}
    assert replicas == {
        "tessera-api": 3,
        "tessera-builder": 2,
        "tessera-deployer": 5,
        "tessera-monitor": 3,
        "tessera-beat": 1,
    }
    assert not by_kind(manifests, "HorizontalPodAutoscaler")
    services = by_kind(manifests, "Service")
    (monitor,) = by_kind(manifests, "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    for name, deployment in deployments.items():
        # Every replica of every process is behind a Service the ServiceMonitor selects, on a
        # named port that one of its endpoints scrapes at /metrics with the `service` label.
        service = services[name]
        pod = deployment["spec"]["template"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        assert selector.items() <= service["metadata"]["labels"].items()
        (port,) = service["spec"]["ports"]
        assert port["name"] in endpoint_ports
        container_ports = {
            p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]
        }
        assert container_ports[port["targetPort"]] == (8000 if name == "tessera-api" else 9100)
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["path"] == "/metrics"
        assert {"sourceLabels": [
            "__meta_kubernetes_service_label_app_kubernetes_io_component"
        ], "targetLabel": "service"} in endpoint["relabelings"]  # fmt: skip
    for manifest in manifests:
        if manifest["kind"] != "ServiceMonitor":
            kubernetes_validate.validate(
                manifest, kubernetes_validate.latest_version(), strict=True
            )


def _hook(manifest: dict[str, Any]) -> tuple[list[str], int, list[str]]:
    annotations = manifest["metadata"].get("annotations", {})
    return (
        annotations.get("helm.sh/hook", "").split(","),
        int(annotations.get("helm.sh/hook-weight", "0")),
        annotations.get("helm.sh/hook-delete-policy", "").split(","),
    )


def test_the_migration_job_runs_as_a_hook_before_everything_else() -> None:
    manifests = render(REQUIRED | {"migrationJob": {"enabled": True}})
    job = by_kind(manifests, "Job")["tessera-migrate"]
    secret = by_kind(manifests, "Secret")["tessera-migrate"]
    hooks, job_weight, job_delete = _hook(job)
    secret_hooks, secret_weight, _ = _hook(secret)
    # Helm runs pre-install / pre-upgrade hooks in weight order, before the release's other
    # resources, and waits for a Job to complete: the Secret it reads comes first.
    assert hooks == secret_hooks == ["pre-install", "pre-upgrade"]
    assert secret_weight < job_weight
    assert "before-hook-creation" in job_delete and "hook-succeeded" in job_delete
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsUser"] == 10001
    (container,) = pod["containers"]
    assert container["args"] == ["migrate"]
    assert container["envFrom"] == [{"secretRef": {"name": "tessera-migrate"}}]
    assert secret["stringData"]["TESSERA_DATABASE_URL"] == REQUIRED["database"]["url"]
    # Not hooks: everything else, so it is made after the migration.
    for manifest in manifests:
        if manifest["metadata"]["name"] != "tessera-migrate":
            assert "helm.sh/hook" not in manifest["metadata"].get("annotations", {})
    api = by_kind(manifests, "Deployment")["tessera-api"]["spec"]["template"]["spec"]
    assert "initContainers" not in api, "the Job migrates: no init container races it"
    version = kubernetes_validate.latest_version()
    for manifest in (job, secret):
        kubernetes_validate.validate(manifest, version, strict=True)

    own = render(EXISTING | {"migrationJob": {"enabled": True}})
    assert "tessera-migrate" not in by_kind(own, "Secret")
    job = by_kind(own, "Job")["tessera-migrate"]
    env = job["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert env == [{"secretRef": {"name": "tessera-urls"}}]


@pytest.mark.parametrize(
    "values", [SCALED, REQUIRED | {"migrationJob": {"enabled": True}}], ids=["scaled", "job"]
)
def test_the_chart_lints_clean_with_replicas_and_the_migration_job(values: dict[str, Any]) -> None:
    report = helm.lint(CHART, values, strict=True)
    assert not report["errors"]
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
