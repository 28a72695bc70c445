"""Opt-in: the ec2 connector against real AWS (a t3.micro on-demand, the smallest spend: a
few cents at most), when TESSERA_E2E_AWS=1 and AWS credentials are in the standard chain.

    TESSERA_E2E_AWS=1 TESSERA_E2E_BUCKET=my-bucket TESSERA_E2E_SUBNET=subnet-... \
        .venv/bin/pytest -q tests/e2e/test_ec2_e2e.py

Optional: AWS_DEFAULT_REGION (default us-east-1), TESSERA_E2E_AMI (default: Amazon Linux
2023 through its public SSM parameter), TESSERA_E2E_SECURITY_GROUP. The subnet must reach S3
(a public IP or an S3 gateway endpoint); the instance needs no role: it reads and writes
through presigned URLs. The instance is terminated at the end whatever happens.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import boto3
import pytest

from shared import hardware
from shared.s3store import S3Store, make_client
from shared.testbeds.base import Job, Tracked
from shared.testbeds.ec2.connector import Ec2Connector

ON = os.environ.get("TESSERA_E2E_AWS") == "1"
HAVE_CREDENTIALS = ON and boto3.session.Session().get_credentials() is not None
pytestmark = pytest.mark.skipif(
    not (ON and HAVE_CREDENTIALS and os.environ.get("TESSERA_E2E_BUCKET")),
    reason="set TESSERA_E2E_AWS=1, TESSERA_E2E_BUCKET and AWS credentials to run on real AWS",
)
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
AMI = os.environ.get(
    "TESSERA_E2E_AMI",
    "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
)


def test_a_t3_micro_runs_a_command_and_terminates() -> None:
    config: dict[str, Any] = {
        "region": REGION,
        "images": {"x86_64": AMI},
        "instance_types": ["t3.micro"],
        "spot": False,
        "max_instances": 1,
        "tags": {"purpose": "tessera-e2e"},
    }
    if os.environ.get("TESSERA_E2E_SUBNET"):
        config["subnet_id"] = os.environ["TESSERA_E2E_SUBNET"]
    if os.environ.get("TESSERA_E2E_SECURITY_GROUP"):
        config["security_group_ids"] = [os.environ["TESSERA_E2E_SECURITY_GROUP"]]
    testbed: Any = type(
        "T", (), {"id": uuid.uuid4(), "name": "e2e", "credentials": None, "config": config}
    )()
    store = S3Store(
        make_client(endpoint_url=None, region=REGION),
        os.environ["TESSERA_E2E_BUCKET"],
        f"tessera-e2e/{uuid.uuid4().hex[:8]}",
    )
    connector = Ec2Connector(store)
    assert connector.refresh(testbed, {}).offline is None
    run = uuid.uuid4()
    job = Job(
        argv=["sh", "-c", "echo e2e-ok; uname -m"],
        timeout_s=600,
        env={"TESSERA_RUN_ID": str(run), "TESSERA_ATTEMPT": "1"},
        hardware=hardware.HardwareSpec(),
    )
    ref = connector.place(testbed, "t3.micro", run, job)
    tracked = Tracked(run, ref, "t3.micro")
    try:
        assert ref.startswith("ec2|i-"), ref
        deadline = time.monotonic() + 900
        while connector.observe(testbed, [tracked])[run].state not in ("ended", "interrupted"):
            assert time.monotonic() < deadline, "the instance did not finish in 15 minutes"
            time.sleep(10)
        collected = connector.collect(testbed, tracked, 65536)
        assert collected.status.get("exit_code") == 0, collected
        assert collected.stdout.startswith(b"e2e-ok")
        assert collected.hwinfo["cloud"]["instance_type"] == "t3.micro"
    finally:
        connector.cancel(testbed, tracked)
