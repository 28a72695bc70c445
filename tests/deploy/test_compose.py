"""docker-compose.yml and the Prometheus config it mounts, checked by the real tools:
docker-compose 1.29 (`config` needs no engine) and promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TESSERA = ("api", "builder", "deployer", "monitor", "beat")
SERVERS = ("postgres", "redis", "registry", "prometheus", "grafana")


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: `make test` installs it (scripts/test-tools.sh)"
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors, merges, defaults)."""
    done = subprocess.run(
        [_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    return resolved


def test_docker_compose_accepts_the_file(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(TESSERA) | set(SERVERS)
    assert {"pgdata", "artifacts", "registry", "prometheus", "grafana"} <= set(compose["volumes"])
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_one_image_for_every_tessera_process(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {services[name]["image"] for name in TESSERA}
    builds = {
        (services[n]["build"]["context"], services[n]["build"]["dockerfile"]) for n in TESSERA
    }
    assert len(images) == 1 and builds == {(str(ROOT), "deploy/docker/Dockerfile")}
    assert (ROOT / "deploy" / "docker" / "Dockerfile").is_file()
    for name in TESSERA:
        env = services[name]["environment"]
        assert env["TESSERA_BROKER_URL"].startswith("redis://redis:")
        assert env["TESSERA_DATABASE_URL"].startswith("postgresql://tessera:")
        assert env["TESSERA_METRICS_DIR"] in " ".join(services[name]["tmpfs"])


def test_the_api_migrates_first_and_the_workers_wait_for_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["api"]["command"][0].startswith("tessera migrate && exec tessera api")
    for name in ("builder", "deployer", "monitor", "beat"):
        assert services[name]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["deployer"]["command"][:2] == ["worker", "deployer"]


def test_services_that_scale_publish_no_fixed_ports(compose: dict[str, Any]) -> None:
    # `docker-compose up --scale deployer=3` needs replicas that do not fight over a host port
    # or a container name.
    for name in ("builder", "deployer", "monitor"):
        assert "ports" not in compose["services"][name]
        assert "container_name" not in compose["services"][name]


def test_prometheus_and_grafana_get_the_files_under_deploy(compose: dict[str, Any]) -> None:
    # docker-compose 1.29 prints volumes in the short syntax: SOURCE:TARGET[:MODE].
    mounts = {
        name: dict(v.split(":")[:2] for v in compose["services"][name]["volumes"])
        for name in ("prometheus", "grafana")
    }
    assert mounts["prometheus"][str(ROOT / "deploy/prometheus/prometheus.yml")] == (
        "/etc/prometheus/prometheus.yml"
    )
    provisioning = ROOT / "deploy/grafana/provisioning"
    dashboards = mounts["grafana"][str(ROOT / "deploy/grafana/dashboards")]
    assert mounts["grafana"][str(provisioning)] == "/etc/grafana/provisioning"
    providers = yaml.safe_load((provisioning / "dashboards/tessera.yml").read_text())["providers"]
    assert providers[0]["options"]["path"] == dashboards


def test_promtool_accepts_the_scrape_config() -> None:
    done = subprocess.run(
        [_tool("promtool"), "check", "config", str(ROOT / "deploy/prometheus/prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scrape_config_finds_every_process_with_its_service_label(
    compose: dict[str, Any],
) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    found: dict[str, int] = {}
    for job in config["scrape_configs"]:
        relabels = job.get("relabel_configs", [])
        for sd in job.get("dns_sd_configs", []):
            assert {"source_labels": ["__meta_dns_name"], "target_label": "service"} in relabels
            for name in sd["names"]:
                found[name] = sd["port"]
    assert found == {"api": 8000, "builder": 9100, "deployer": 9100, "monitor": 9100, "beat": 9100}
    services = compose["services"]
    for name in ("builder", "deployer", "monitor", "beat"):
        assert services[name]["environment"]["TESSERA_METRICS_PORT"] == str(found[name])
        assert services[name]["environment"]["TESSERA_METRICS_HOST"] == "0.0.0.0"
