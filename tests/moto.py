"""moto's standalone server (scripts/moto.sh, part of `make services`): the real S3 and EC2
APIs over HTTP on loopback for the S3 store's and the ec2 testbed's tests."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

MOTO_URL = os.environ.get("TESSERA_TEST_MOTO", "http://127.0.0.1:5055")
REGION = "us-east-1"
# moto takes any credentials; these keep boto3 from looking for real ones.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@lru_cache(maxsize=1)
def ensure() -> str:
    """The server's URL; on loopback's default port, started (scripts/moto.sh) when it does
    not answer, so `make unit` works without `make services` too."""
    try:
        urllib.request.urlopen(f"{MOTO_URL}/moto-api/", timeout=2).close()
    except OSError:
        if MOTO_URL == "http://127.0.0.1:5055":
            script = Path(__file__).resolve().parents[1] / "scripts" / "moto.sh"
            env = {**os.environ, "VENV_BIN": str(Path(sys.executable).parent)}
            subprocess.run([str(script)], env=env, check=True, capture_output=True, timeout=60)
    return MOTO_URL


def client(service: str, region: str = REGION) -> Any:
    ensure()
    return boto3.client(
        service,
        endpoint_url=MOTO_URL,
        region_name=region,
        config=Config(connect_timeout=5, read_timeout=30, s3={"addressing_style": "path"}),
        **CREDENTIALS,
    )


def new_bucket() -> str:
    """A bucket of the test's own."""
    name = f"tessera-test-{uuid.uuid4().hex[:12]}"
    client("s3").create_bucket(Bucket=name)
    return name
