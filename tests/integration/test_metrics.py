"""A real Prometheus scrapes the running stack: the series after an inspection, the series
every Grafana panel queries, and a prefork worker's pool summed by its main process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from shared.celery_app import make_celery
from shared.config import Settings
from tests.integration.conftest import REDIS_URL, Stack, free_port

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
# The jobs of the shipped scrape config, and which of the stack's processes each one finds.
JOB_SERVICES = {
    "tessera-api": ["api"],
    "tessera-worker": ["builder", "deployer", "monitor"],
    "tessera-beat": ["beat"],
}
GPU_TESTBED = "metrics-gpu-lab"


@dataclass
class Prometheus:
    url: str
    started_in_s: float

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{promql}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of an instant query, None when it has no series."""
        result = self.query(promql)
        assert len(result) <= 1, f"{promql} has {len(result)} series: {result}"
        return float(result[0]["value"][1]) if result else None

    def wait(self, promql: str, done: Callable[[float], bool], timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while True:
            found = self.value(promql)
            if found is not None and done(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql} is {found} after {timeout} s")
            time.sleep(0.25)


def scrape_config(stack: Stack) -> dict[str, Any]:
    """The shipped compose config, its DNS discovery replaced by the stack's addresses."""
    shipped = yaml.safe_load(SCRAPE_CONFIG.read_text())
    jobs = []
    for job in shipped["scrape_configs"]:
        services = JOB_SERVICES.get(job["job_name"])
        if services is None:
            continue
        job.pop("dns_sd_configs")
        job.pop("relabel_configs", None)
        job["static_configs"] = [
            {"targets": [stack.metrics[name]], "labels": {"service": name}} for name in services
        ]
        jobs.append(job)
    assert {job["job_name"] for job in jobs} == set(JOB_SERVICES)
    interval = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    return {"global": interval, "scrape_configs": jobs}


@pytest.fixture(scope="module")
def gpu_testbed(stack: Stack) -> Iterator[None]:
    """An offline testbed with an 8-GPU node, as a refresh of a cloud testbed would store it.

    Offline, so placement never considers it, and of a kind no connector refreshes here; its
    inventory still counts in the metrics.
    """
    url = stack.env["TESSERA_DATABASE_URL"]
    inventory = {
        "arch": "x86_64",
        "accelerators": [
            {"kind": "gpu", "vendor": "nvidia", "model": "H100", "memory_bytes": 85899345920,
             "count": 8}
        ],
        "runtimes": ["native"],
    }  # fmt: skip
    testbed_id, node_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO testbeds (id, name, kind, config, state, state_reason, created_at)"
            " VALUES (%s, %s, 'ec2', '{}', 'offline', 'not reachable from tests', now())",
            (testbed_id, GPU_TESTBED),
        )
        connection.execute(
            "INSERT INTO nodes (id, testbed_id, name, state, inventory, hwinfo, updated_at)"
            " VALUES (%s, %s, 'gpu-node-01', 'online', %s, '{}', now())",
            (node_id, testbed_id, json.dumps(inventory)),
        )
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("DELETE FROM testbeds WHERE id = %s", (testbed_id,))


@pytest.fixture(scope="module")
def prometheus(
    stack: Stack, gpu_testbed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    assert binary, "Prometheus is missing: `make test` installs it (scripts/test-tools.sh)"
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(stack)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError((folder / "prometheus.log").read_text()[-3000:])
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > 30:
                raise RuntimeError("Prometheus did not become ready in 30 s")
            time.sleep(0.05)
        found = Prometheus(url, time.monotonic() - started)
        print(f"prometheus_ready_s={found.started_in_s:.2f}")
        # Every target answered once before a test compares values.
        found.wait('count(up{service!=""} == 1)', lambda n: n == 5)
        yield found
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_an_inspection_shows_in_the_run_build_and_placement_series(
    stack: Stack, client: httpx.Client, prometheus: Prometheus
) -> None:
    queries = {
        "succeeded": 'sum(tessera_runs{state="succeeded"})',
        "placed": 'sum(tessera_placements_total{testbed_kind="local"})',
        "waits": 'sum(tessera_run_time_to_placement_seconds_count{testbed_kind="local"})',
        "durations": (
            'sum(tessera_run_duration_seconds_count{testbed_kind="local",state="succeeded"})'
        ),
        "builds": 'sum(tessera_builds_finished_total{state="succeeded"})',
        "build_times": "sum(tessera_build_duration_seconds_count)",
        "place_tasks": (
            'sum(tessera_tasks_total{service="deployer",task="deployer.place",outcome="success"})'
        ),
        "build_tasks": 'sum(tessera_tasks_total{service="builder",task="builder.build"})',
        "posts": (
            'sum(tessera_http_requests_total{service="api",method="POST",'
            'route="/api/v1/inspections",status="202"})'
        ),
    }
    before = {name: prometheus.value(q) or 0.0 for name, q in queries.items()}
    script = '#!/usr/bin/env python3\nimport json\nprint(json.dumps({"metrics": 1}))\n'
    created = client.post("/inspections", json={"base": "host", "script": script, "batch_size": 2})
    assert created.status_code == 202, created.text
    final = stack.wait(client, f"/inspections/{created.json()['inspection_id']}/status")
    assert final["state"] == "succeeded", final

    grown = {
        "succeeded": 2,
        "placed": 2,
        "waits": 2,
        "durations": 2,
        "builds": 1,
        "build_times": 1,
        "place_tasks": 2,
        "build_tasks": 1,
        "posts": 1,
    }
    for name, by in grown.items():
        prometheus.wait(queries[name], lambda now, name=name, by=by: now >= before[name] + by)

    # The histograms answer the questions the dashboards ask of them.
    p50 = prometheus.value(
        "histogram_quantile(0.5, sum by (le) (tessera_run_time_to_placement_seconds_bucket))"
    )
    assert p50 is not None and 0 < p50 < 60
    assert prometheus.value('sum(tessera_placements_total{accelerator="none"})')
    assert prometheus.value('tessera_testbed_online{testbed="local"}') == 1
    # The inventory, with the GPUs of the offline testbed counted but none of them free.
    gpus = f'{{testbed="{GPU_TESTBED}",model="H100",vendor="nvidia",kind="gpu"}}'
    assert prometheus.value(f"tessera_node_accelerators{gpus}") == 8
    assert prometheus.value(f"tessera_node_accelerators_free{gpus}") == 0
    assert prometheus.value(f'tessera_testbed_online{{testbed="{GPU_TESTBED}"}}') == 0
    assert prometheus.value('tessera_state_up{source="database"}') == 1
    assert prometheus.value('tessera_state_up{source="broker"}') == 1
    depth = prometheus.value('tessera_queue_messages{queue="deploy"}')
    assert depth is not None and depth >= 0
    assert prometheus.value('count(tessera_tasks_total{service="monitor",task="monitor.poll"})')


# ---- the dashboards --------------------------------------------------------------------------

GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "$testbed": ".*",
    "$service": ".*",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset",
                "bool", "and", "or", "unless", "inf", "nan", "le"}  # fmt: skip


def panel_exprs() -> list[tuple[str, str]]:
    """(dashboard file and panel title, expr) of every query of every dashboard."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']}", target["expr"]))
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for found in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, call = found.group(1), found.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def grafana_expr(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, route) "
        '(rate(tessera_http_request_duration_seconds_bucket{route!="/metrics"}[$__rate_interval])))'
        ' / on (x) group_left sum(up{job="a"}) > bool 0'
    )
    assert metric_names(expr) == {"tessera_http_request_duration_seconds_bucket", "up"}


def test_every_metric_a_panel_queries_exists_in_a_real_scrape(
    stack: Stack, client: httpx.Client, prometheus: Prometheus
) -> None:
    if prometheus.value("sum(tessera_run_duration_seconds_count)") is None:
        # Run alone, this test first makes the histograms that only ended runs fill.
        created = client.post("/inspections", json={"base": "host", "script": "true"})
        stack.wait(client, f"/inspections/{created.json()['inspection_id']}")
        prometheus.wait("sum(tessera_run_duration_seconds_count)", lambda n: n >= 1)
    exprs = panel_exprs()
    assert len(exprs) >= 20, "four dashboards of several panels each"
    names = set().union(*(metric_names(expr) for _, expr in exprs))
    assert {name for name in names if not name.startswith("tessera_")} <= {"up"}
    missing = [
        name for name in sorted(names) if not prometheus.query(f'count({{__name__="{name}"}})')
    ]
    assert not missing, f"panels query metrics no target exposes: {missing}"
    for where, expr in exprs:  # every query is valid PromQL that Prometheus evaluates
        body = httpx.get(
            f"{prometheus.url}/api/v1/query", params={"query": grafana_expr(expr)}, timeout=10
        ).json()
        assert body["status"] == "success", f"{where}: {expr}: {body.get('error')}"


# ---- a prefork worker ------------------------------------------------------------------------


def test_a_prefork_worker_serves_the_sum_over_its_pool(stack: Stack, tmp_path: Path) -> None:
    broker = REDIS_URL.rsplit("/", 1)[0] + "/12"  # its own queue: the stack's workers ignore it
    port = free_port()
    folder = tmp_path / "metrics"
    env = stack.env | {
        "TESSERA_BROKER_URL": broker,
        "TESSERA_METRICS_PORT": str(port),
        "TESSERA_METRICS_DIR": str(folder),
    }
    settings = Settings(home=stack.home, broker_url=broker)
    app = make_celery(settings)
    with app.connection_for_write() as connection:
        connection.default_channel.client.flushdb()
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker", "builder", "--pool", "prefork", "-c", "2",
         "--loglevel", "INFO"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 60
        while True:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the worker's exporter did not start"
                time.sleep(0.2)
        sent = 8
        for _ in range(sent):  # builds that do not exist: each task ends at once, successfully
            app.send_task("builder.build", args=[str(uuid.uuid4())])
        labels = {"task": "builder.build", "outcome": "success"}
        deadline = time.monotonic() + 30
        while True:
            text = httpx.get(url, timeout=5).text
            done = [
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "tessera_tasks_total" and sample.labels == labels
            ]
            if done and done[0] == sent:
                break
            assert time.monotonic() < deadline, f"tasks counted: {done}\n{text[-2000:]}"
            time.sleep(0.2)
        # The pool's processes counted (files named by their pids), not the main process.
        writers = {int(p.stem.rsplit("_", 1)[1]) for p in folder.glob("counter_*.db")}
        assert writers and worker.pid not in writers, writers
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
