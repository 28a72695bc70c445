"""The ec2 testbed end to end: a full Tessera (API, workers, beat) on Postgres and Redis with
the S3 artifact store, against moto's EC2 and S3 on loopback (scripts/moto.sh). The harness
(tests/ec2_harness.py) runs each launched instance's user data; the proxy in front of moto's
EC2 refuses spot capacity and kills the deployer on cue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests import moto
from tests.conftest import reset_settings
from tests.ec2_harness import Ec2Harness, Ec2Proxy
from tests.integration.conftest import (
    PG_ADMIN,
    Stack,
    _create_database,
    _drop_database,
    _tessera,
    _wait_ready,
    free_port,
)

pytestmark = pytest.mark.integration
REDIS_URL = os.environ.get("TESSERA_TEST_EC2_REDIS", "redis://127.0.0.1:6379/11")
NAME = "cloud"
TYPES = ["g5.xlarge", "g5.2xlarge", "t3.micro"]


class Cloud:
    def __init__(self, stack: Stack, harness: Ec2Harness, proxy: Ec2Proxy, bucket: str) -> None:
        self.stack, self.harness, self.proxy, self.bucket = stack, harness, proxy, bucket
        self.testbed: dict[str, Any] = {}

    def restart(self, name: str) -> None:
        env = self.stack.env
        self.stack.processes[name] = _tessera(
            "worker",
            name,
            "--pool",
            "threads",
            "-c",
            "4",
            "--loglevel",
            "INFO",
            env=env,
            log=self.stack.home / f"{name}-again.log",
        )

    def instances(self, tag: str, value: str) -> list[dict[str, Any]]:
        ec2 = moto.client("ec2")
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": f"tag:{tag}", "Values": [value]}]
        )
        return [i for p in pages for r in p["Reservations"] for i in r["Instances"]]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    home = tmp_path_factory.mktemp("tessera-ec2")
    database = _create_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    bucket = moto.new_bucket()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TESSERA_")}
    env.update(moto.AWS_ENV)
    env.update(
        {
            "TESSERA_HOME": str(home),
            "TESSERA_DATABASE_URL": f"{PG_ADMIN}/{database}",
            "TESSERA_BROKER_URL": REDIS_URL,
            "TESSERA_API_PORT": str(port),
            "TESSERA_LOCAL_TESTBED": "false",
            "TESSERA_ARTIFACT_STORE": f"s3://{bucket}/tessera",
            "TESSERA_S3_ENDPOINT_URL": moto.MOTO_URL,
            "TESSERA_POLL_INTERVAL_S": "0.5",
            "TESSERA_RECONCILE_INTERVAL_S": "3",
            "TESSERA_RECONCILE_AFTER_S": "10",
            "TESSERA_LOST_AFTER_S": "30",
            "TESSERA_INVENTORY_CACHE_S": "0.5",
            "TESSERA_RATE_LIMIT_PER_S": "0",
        }
    )
    saved = dict(os.environ)
    os.environ.update(env)
    reset_settings()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        subprocess.run(
            [sys.executable, "-m", "services.cli", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        from services.cli.server import create_token

        admin = create_token("admin", admin=True)
        token = create_token("alpha", admin=False)
        for name in ("builder", "deployer", "monitor"):
            processes[name] = _tessera(
                "worker",
                name,
                "--pool",
                "threads",
                "-c",
                "4",
                "--loglevel",
                "INFO",
                env=env,
                log=home / f"{name}.log",
            )
        processes["beat"] = _tessera("beat", env=env, log=home / "beat.log")
        processes["api"] = _tessera("api", env=env, log=home / "api.log")
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, processes, home)
        stack = Stack(url, env, home, admin, token, token, processes)
        with Ec2Proxy() as proxy, Ec2Harness(home / "machines") as harness:
            made = Cloud(stack, harness, proxy, bucket)
            made.testbed = _add_testbed(stack, proxy.url)
            yield made
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
        _drop_database(database)


def _add_testbed(stack: Stack, endpoint: str) -> dict[str, Any]:
    config = {
        "region": moto.REGION,
        "endpoint_url": endpoint,
        "images": {"x86_64": "ami-12c6146b"},
        "instance_types": TYPES,
        "spot": True,
        "on_demand_fallback": True,
        "max_instances": 10,
    }
    with stack.client(stack.admin_token) as admin:
        bad = admin.post(
            "/testbeds", json={"name": "bad", "kind": "ec2", "config": {**config, "region": "Mars"}}
        )
        assert bad.status_code == 422 and "config.region" in bad.text, bad.text
        bad = admin.post(
            "/testbeds",
            json={"name": "bad", "kind": "ec2", "config": config, "credentials": "no-colon"},
        )
        assert bad.status_code == 422 and "credentials" in bad.text, bad.text
        made = admin.post("/testbeds", json={"name": NAME, "kind": "ec2", "config": config})
        assert made.status_code == 201, made.text
        testbed: dict[str, Any] = made.json()
        deadline = time.monotonic() + 60
        while admin.get(f"/testbeds/{testbed['id']}").json()["nodes"] < len(TYPES):
            assert time.monotonic() < deadline, admin.get(f"/testbeds/{testbed['id']}").json()
            time.sleep(0.5)
    return testbed


def _deploy(client: httpx.Client, command: list[str], **extra: Any) -> str:
    body = {"command": command, "requests": {"hardware": {"gpu": "A10G:1"}}, **extra}
    response = client.post("/deployments", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["deployment_id"])


def _run(client: httpx.Client, deployment: str) -> dict[str, Any]:
    run: dict[str, Any] = client.get(f"/deployments/{deployment}/runs").json()["items"][0]
    return run


def test_offers_list_instance_types_with_prices(cloud: Cloud) -> None:
    with cloud.stack.client() as client:
        found = client.get("/offers", params={"hardware": "A10G:1"}).json()
    names = [o["node"] for o in found["offers"]]
    assert set(names) == {"g5.xlarge", "g5.2xlarge"}, found
    assert all(
        o["price_per_hour"] is not None and o["lifecycle"] == "spot" for o in found["offers"]
    )
    assert any(r["node"] == "t3.micro" for r in found["ruled_out"])


def test_spot_a10g_run_succeeds_with_cloud_block(cloud: Cloud) -> None:
    body = {
        "base": "host",
        "script": "echo '{\"ok\": 1}'; echo progress >&2",
        "run": {"requests": {"hardware": {"gpu": "A10G:1"}}},
    }
    with cloud.stack.client() as client:
        response = client.post("/inspections", json=body)
        assert response.status_code == 202, response.text
        inspection = response.json()["inspection_id"]
        final = cloud.stack.wait(client, f"/inspections/{inspection}", timeout=180)
        run = client.get(f"/inspections/{inspection}/runs").json()["items"][0]
        assert final["state"] == "succeeded", (final, run)
        result = client.get(f"/inspections/{inspection}/runs/0/result").json()
        log = client.get(f"/inspections/{inspection}/runs/0/log").text
        links = client.get(f"/runs/{run['id']}/links").json()
    assert httpx.get(links["result"], timeout=10).json()["run_id"] == run["id"]
    assert "progress" in httpx.get(links["log"], timeout=10).text
    cloud_block = result["hwinfo"]["cloud"]
    assert cloud_block["provider"] == "aws" and cloud_block["lifecycle"] == "spot"
    assert cloud_block["instance_type"] in ("g5.xlarge", "g5.2xlarge")
    assert result["stdout"] == {"ok": 1} and "progress" in log
    assert result["usage"]["cost"]["attempts"][0]["instance_id"] == cloud_block["instance_id"]
    assert result["hwinfo"].get("hostname")  # the instance's own probe
    # stored in S3 (the store's bucket), and the instance is gone
    keys = {
        o["Key"]
        for o in moto.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix="tessera/runs/")[
            "Contents"
        ]
    }
    assert f"tessera/runs/{run['id']}/result.json" in keys
    cloud.harness.wait_for(
        lambda: all(
            i["State"]["Name"] == "terminated" for i in cloud.instances("tessera:run", run["id"])
        ),
        30,
    )


def test_spot_refused_goes_on_demand(cloud: Cloud) -> None:
    cloud.proxy.refuse_spot = True
    try:
        with cloud.stack.client() as client:
            deployment = _deploy(client, ["echo", "on-demand"])
            final = cloud.stack.wait(client, f"/deployments/{deployment}", timeout=120)
            run = _run(client, deployment)
            result = client.get(f"/deployments/{deployment}/runs/0/result").json()
            placement = client.get(f"/runs/{run['id']}/placement").json()
    finally:
        cloud.proxy.refuse_spot = False
    assert final["state"] == "succeeded", final
    assert result["hwinfo"]["cloud"]["lifecycle"] == "on-demand"
    tries = placement["placement"]["ec2_tries"]
    assert tries[0]["lifecycle"] == "spot" and tries[0]["error"] == "InsufficientInstanceCapacity"
    assert tries[-1]["lifecycle"] == "on-demand" and tries[-1]["instance_id"]


def test_interrupted_attempt_is_retried_and_both_costs_counted(cloud: Cloud) -> None:
    retry = {"attempts": 2, "on": ["interrupted"]}
    with cloud.stack.client() as client:
        deployment = _deploy(client, ["sh", "-c", "sleep 6; echo finished"], retry=retry)
        deadline = time.monotonic() + 60
        while True:
            run = _run(client, deployment)
            machines = cloud.harness.by_run(run["id"])
            if run["state"] == "running" and machines:
                break
            assert time.monotonic() < deadline, run
            time.sleep(0.3)
        cloud.harness.interrupt(machines[0].instance_id)
        final = cloud.stack.wait(client, f"/deployments/{deployment}", timeout=120)
        assert final["state"] == "succeeded", (final, _run(client, deployment))
        attempts = client.get(f"/runs/{run['id']}/attempts").json()["items"]
        result = client.get(f"/deployments/{deployment}/runs/0/result").json()
    assert [a["state"] for a in attempts] == ["interrupted", "succeeded"], attempts
    assert "before its result was uploaded" in attempts[0]["state_reason"]
    assert result["attempt"] == 2 and result["stdout"] == "finished\n"
    costs = result["usage"]["cost"]["attempts"]
    assert [c["attempt"] for c in costs] == [1, 2]
    assert costs[0]["ended"] == "interrupted" and costs[1]["ended"] == "result"
    assert len(cloud.instances("tessera:run", run["id"])) == 2


def test_deployer_killed_after_run_instances_launches_once(cloud: Cloud) -> None:
    deployer = cloud.stack.processes["deployer"]

    def kill() -> None:
        cloud.proxy.after_run = None
        os.kill(deployer.pid, signal.SIGKILL)

    cloud.proxy.after_run = kill
    with cloud.stack.client() as client:
        deployment = _deploy(client, ["echo", "once"])
        deadline = time.monotonic() + 30
        while deployer.poll() is None:
            assert time.monotonic() < deadline, "RunInstances never came"
            time.sleep(0.2)
        run = _run(client, deployment)
        assert run["state"] == "queued"  # launched, not recorded
        assert len(cloud.instances("tessera:run", run["id"])) == 1
        cloud.restart("deployer")
        final = cloud.stack.wait(client, f"/deployments/{deployment}", timeout=120)
        assert final["state"] == "succeeded", (final, _run(client, deployment))
    key = str(uuid.UUID(run["id"]))  # the first attempt's key is the run id
    assert len(cloud.instances("tessera:key", key)) == 1


def test_cancel_terminates_and_reconciler_ends_orphans(cloud: Cloud) -> None:
    with cloud.stack.client() as client:
        deployment = _deploy(client, ["sleep", "120"])
        cloud.stack.wait(
            client,
            f"/deployments/{deployment}/runs",
            done=lambda b: b["items"][0]["state"] == "running",
            timeout=60,
        )
        run = _run(client, deployment)
        assert client.delete(f"/deployments/{deployment}").status_code == 200
        final = cloud.stack.wait(client, f"/deployments/{deployment}", timeout=60)
    assert final["state"] == "cancelled"
    cloud.harness.wait_for(
        lambda: all(
            i["State"]["Name"] == "terminated" for i in cloud.instances("tessera:run", run["id"])
        ),
        30,
    )
    orphan_key = str(uuid.uuid4())
    tags = [
        {"Key": "tessera:testbed", "Value": cloud.testbed["id"]},
        {"Key": "tessera:key", "Value": orphan_key},
        {"Key": "tessera:run", "Value": orphan_key},
    ]
    moto.client("ec2").run_instances(
        ImageId="ami-12c6146b",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    cloud.harness.wait_for(
        lambda: all(
            i["State"]["Name"] == "terminated" for i in cloud.instances("tessera:key", orphan_key)
        ),
        60,
    )
    assert Path(cloud.stack.home / "monitor.log").read_text().count("orphan") >= 1


def test_a_workflow_passes_data_between_instances(cloud: Cloud) -> None:
    """Map copies on instances leave their outputs in status.json (a presigned PUT); the
    reduce copy's inputs reach its instance in the bundle it fetches (a presigned GET)."""
    from tests.integration.test_workflows import skeleton

    body = skeleton([NAME])
    body["stages"][0]["tasks"][0]["count"] = 3
    with cloud.stack.client() as client:
        created = client.post("/workflows", json=body)
        assert created.status_code == 202, created.text
        workflow_id = created.json()["workflow_id"]
        final = cloud.stack.wait(client, f"/workflows/{workflow_id}", timeout=240)
        assert final["state"] == "succeeded", final
        assert [s["testbeds"] for s in final["stages"]] == [[NAME], [NAME]]
        tasks = client.get(f"/workflows/{workflow_id}/tasks").json()["items"]
        [reduce] = [t for t in tasks if t["stage"] == "reduce"]
        result = client.get(f"/runs/{reduce['run_id']}/result").json()
    assert result["stdout"] == {"n": 3, "sum": 0 + 1 + 4}, result
    assert result["hwinfo"]["cloud"]["provider"] == "aws"
