"""Pure: a run on an EC2 instance as its bundle (a tar.gz of the run's folder), the manifest
of presigned URLs the instance reads and writes through, the user data that runs it, and
the RunInstances request (tags, client token, spot or on-demand).

Objects of attempt KEY on testbed T: `ec2-bundles/T/KEY/{bundle.tar.gz, manifest.json}` (what
the instance reads) and `ec2/T/KEY/...` (what it writes: hwinfo.json, stdout, stderr,
log/NNNNN parts, status.json last). The monitor lists `ec2/T/` once per cycle.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from shared.testbeds.base import Job, RenderError
from shared.testbeds.local import render as local_render

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
PLACEHOLDER = "/@TESSERA_RUN_DIR@"  # the run's folder on the instance, set by the bootstrap
USER_DATA_MAX = 16 * 1024  # EC2's limit on user data (before base64)
LOG_PARTS = 300
OUTPUTS = ("hwinfo.json", "stdout", "stderr", "status.json")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TAG_TESTBED, TAG_RUN, TAG_ATTEMPT, TAG_KEY = (
    "tessera:testbed",
    "tessera:run",
    "tessera:attempt",
    "tessera:key",
)


def results_prefix(testbed_id: object) -> str:
    return f"ec2/{testbed_id}/"


def result_key(testbed_id: object, key: uuid.UUID, name: str) -> str:
    return f"ec2/{testbed_id}/{key}/{name}"


def bundle_key(testbed_id: object, key: uuid.UUID, name: str) -> str:
    return f"ec2-bundles/{testbed_id}/{key}/{name}"


def cost_key(run_id: object, number: int) -> str:
    return f"ec2-costs/{run_id}/{number}.json"


def part_name(number: int) -> str:
    return f"log/{number:05d}"


def bundle(job: Job, node_files: Mapping[str, bytes]) -> bytes:
    """The run's folder as a tar.gz: job.json (paths under PLACEHOLDER), the script, the
    files under work/, requirements.txt when the run needs packages, runner and probe."""
    if job.image is not None:
        raise RenderError(f"image {job.image!r}: ec2 instances run on the AMI's own OS (base host)")
    where = PurePosixPath(PLACEHOLDER)
    spec = local_render.host_job(where, job)
    spec["env"]["PATH"] = HOST_PATH
    members: dict[str, tuple[bytes, int]] = {}
    if job.python_requirements:
        venv = f"{PLACEHOLDER}/venv"
        spec["env"]["VIRTUAL_ENV"] = venv
        spec["env"]["PATH"] = f"{venv}/bin:{HOST_PATH}"
        members["requirements.txt"] = ("\n".join(job.python_requirements).encode() + b"\n", 0o644)
    members["job.json"] = (json.dumps(spec).encode(), 0o644)
    for name, content in node_files.items():
        members[name] = (content, 0o644)
    if job.script is not None:
        members[job.script[0]] = (job.script[1], 0o755)
    for relative, content, executable in job.files:
        members[f"work/{relative}"] = (content, 0o755 if executable else 0o644)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, (content, mode) in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, 0
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def manifest(
    testbed_id: object,
    key: uuid.UUID,
    link: Callable[[str, str], str],
    parts: int = LOG_PARTS,
    log_interval_s: float = 5.0,
) -> dict[str, Any]:
    """What the instance fetches first: the bundle's GET URL, a PUT URL per output and per
    log part. `link(store key, "get" | "put")`: a presigned URL."""
    put = {name: link(result_key(testbed_id, key, name), "put") for name in OUTPUTS}
    log = [link(result_key(testbed_id, key, part_name(n)), "put") for n in range(parts)]
    return {
        "key": str(key),
        "bundle": link(bundle_key(testbed_id, key, "bundle.tar.gz"), "get"),
        "put": {**put, "log": log},
        "log_interval_s": log_interval_s,
        "shutdown": True,
    }


def user_data(manifest_url: str) -> str:
    """The bootstrap with its manifest's URL (a Python string literal, so no quoting
    reaches a shell); refused past EC2's 16 KiB."""
    text = BOOTSTRAP.read_text().replace('"@MANIFEST@"', json.dumps(manifest_url), 1)
    if len(text.encode()) > USER_DATA_MAX:
        raise RenderError(f"user data of {len(text.encode())} bytes is over EC2's 16 KiB")
    return text


def client_token(key: uuid.UUID, instance_type: str, lifecycle: str) -> str:
    """RunInstances' idempotency token: the same for a re-sent request of the same try."""
    digest = hashlib.sha256(f"{key}|{instance_type}|{lifecycle}".encode()).hexdigest()
    return f"tessera-{digest[:48]}"


def run_request(
    *,
    config: Any,
    image: str,
    instance_type: str,
    lifecycle: str,
    key: uuid.UUID,
    run_id: str,
    attempt: int,
    testbed_id: object,
    user_data_text: str,
    max_price: float | None,
) -> dict[str, Any]:
    """The RunInstances parameters of one try."""
    tags = dict(config.tags)
    tags.update(
        {
            TAG_TESTBED: str(testbed_id),
            TAG_RUN: run_id,
            TAG_ATTEMPT: str(attempt),
            TAG_KEY: str(key),
            "Name": f"tessera-{run_id[:8]}-{attempt}",
        }
    )
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    request: dict[str, Any] = {
        "ImageId": image,
        "InstanceType": instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "UserData": user_data_text,
        "ClientToken": client_token(key, instance_type, lifecycle),
        "InstanceInitiatedShutdownBehavior": "terminate",
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tag_list},
            {"ResourceType": "volume", "Tags": tag_list},
        ],
    }
    if config.subnet_id:
        request["SubnetId"] = config.subnet_id
    if config.security_group_ids:
        request["SecurityGroupIds"] = list(config.security_group_ids)
    if config.key_name:
        request["KeyName"] = config.key_name
    if lifecycle == "spot":
        options: dict[str, Any] = {
            "SpotInstanceType": "one-time",
            "InstanceInterruptionBehavior": "terminate",
        }
        if max_price is not None:
            options["MaxPrice"] = f"{max_price:.5f}"
        request["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": options}
    return request


def ordered_offers(
    offers: Sequence[Mapping[str, Any]], first: str, spot: bool, fallback: bool
) -> list[tuple[str, str, float | None]]:
    """The tries of a launch: (instance type, lifecycle, price per hour); the chosen type
    first, then the others by price, all spot ones (when spot) before on-demand ones (when
    spot is off, or on-demand fallback is on)."""
    by_price = sorted(offers, key=lambda o: (o["instance_type"] != first, _price(o, spot)))
    tries: list[tuple[str, str, float | None]] = []
    if spot:
        tries += [
            (str(o["instance_type"]), "spot", o.get("spot_price"))
            for o in by_price
            if o.get("spot_price") is not None
        ]
    if not spot or fallback:
        on_demand = sorted(offers, key=lambda o: (o["instance_type"] != first, _price(o, False)))
        tries += [
            (str(o["instance_type"]), "on-demand", o.get("on_demand_price")) for o in on_demand
        ]
    return tries


def _price(offer: Mapping[str, Any], spot: bool) -> float:
    value = offer.get("spot_price") if spot else offer.get("on_demand_price")
    return float(value) if value is not None else 1e9


def spot_allowed(job: Job) -> bool:
    """Spot while the run's deadline leaves room for another try after an interruption:
    at least twice its wall time left (else on-demand, which is not taken back)."""
    deadline = job.deadline
    if deadline is None:
        return True
    left = (deadline - datetime.now(UTC)).total_seconds()
    return left >= 2 * job.timeout_s
