"""The ec2 testbed's monitoring cost at 200 active instances, and the S3 store's upload rate
beside plain boto3's, against moto's server on loopback (scripts/moto.sh; `make services`).

Prints `ec2_monitor_calls_per_cycle=` (every HTTP call the connector's observe made to EC2
and S3 in one cycle over 200 running instances, counted at botocore's `before-call` hook),
`ec2_monitor_cycle_ms=`, `s3_store_put_mb_s=` (ArtifactStore.put_file: streamed, multipart
above 8 MiB) and `s3_ref_put_mb_s=` (boto3's `upload_fileobj` of the same bytes, same run,
alternating rounds, medians of each).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.s3store import S3Store  # noqa: E402
from shared.testbeds.base import Tracked  # noqa: E402
from shared.testbeds.ec2 import render  # noqa: E402
from shared.testbeds.ec2.connector import Ec2Connector  # noqa: E402
from tests import moto  # noqa: E402

INSTANCES = 200
MiB = 1024 * 1024


def _count(client: Any, calls: list[str]) -> None:
    client.meta.events.register(
        "before-call.*.*", lambda model, **_: calls.append(model.name), unique_id=str(id(calls))
    )


def monitor() -> tuple[int, float, dict[str, int]]:
    os.environ.update(moto.AWS_ENV)
    store = S3Store(moto.client("s3"), moto.new_bucket(), "bench")
    connector = Ec2Connector(store)
    testbed = SimpleNamespace(
        id=uuid.uuid4(),
        name="bench",
        credentials=None,
        config={
            "region": moto.REGION,
            "endpoint_url": moto.MOTO_URL,
            "images": {"x86_64": "ami-12c6146b"},
            "instance_types": ["t3.micro"],
        },
    )
    ec2 = moto.client("ec2")
    tracked = []
    for _ in range(INSTANCES):
        key = uuid.uuid4()
        tags = [
            {"Key": render.TAG_TESTBED, "Value": str(testbed.id)},
            {"Key": render.TAG_KEY, "Value": str(key)},
            {"Key": render.TAG_RUN, "Value": str(key)},
        ]
        made = ec2.run_instances(
            ImageId="ami-12c6146b",
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        instance = made["Instances"][0]["InstanceId"]
        store.put(render.result_key(testbed.id, key, "hwinfo.json"), b"{}")
        store.put(render.result_key(testbed.id, key, render.part_name(0)), b"log\n")
        tracked.append(Tracked(key, f"ec2|{instance}|t3.micro|spot|0.01|{key}|1", "t3.micro"))
    calls: list[str] = []
    _count(connector.ec2(testbed), calls)  # type: ignore[arg-type]
    _count(store.client, calls)
    connector.observe(testbed, tracked)  # type: ignore[arg-type]  # warm: clients made
    cycles = []
    counted = []
    for _ in range(5):
        calls.clear()
        started = time.perf_counter()
        seen = connector.observe(testbed, tracked)  # type: ignore[arg-type]
        cycles.append(time.perf_counter() - started)
        counted.append(len(calls))
        assert all(seen[t.run_id].state == "running" for t in tracked), seen
    by_name: dict[str, int] = {}
    for name in calls:
        by_name[name] = by_name.get(name, 0) + 1
    return max(counted), statistics.median(cycles) * 1000, by_name


def uploads(size: int = 64 * MiB, rounds: int = 3) -> tuple[float, float]:
    client = moto.client("s3")
    bucket = moto.new_bucket()
    store = S3Store(client, bucket, "bench")
    ours, ref = [], []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "blob"
        with path.open("wb") as handle:
            for _ in range(size // MiB):
                handle.write(os.urandom(MiB))
        for n in range(rounds):
            started = time.perf_counter()
            store.put_file(f"ours-{n}", path)
            ours.append(size / MiB / (time.perf_counter() - started))
            started = time.perf_counter()
            with path.open("rb") as handle:
                client.upload_fileobj(handle, bucket, f"bench/ref-{n}")
            ref.append(size / MiB / (time.perf_counter() - started))
            store.delete(f"ours-{n}")  # moto keeps them in memory
            client.delete_object(Bucket=bucket, Key=f"bench/ref-{n}")
    return statistics.median(ours), statistics.median(ref)


def main() -> int:
    calls, cycle_ms, by_name = monitor()
    print(f"ec2 observe calls by name: {by_name}", file=sys.stderr)
    print(f"ec2_monitor_calls_per_cycle={calls}")
    print(f"ec2_monitor_instances={INSTANCES}")
    print(f"ec2_monitor_cycle_ms={cycle_ms:.1f}")
    ours, ref = uploads()
    print(f"s3_store_put_mb_s={ours:.1f}")
    print(f"s3_ref_put_mb_s={ref:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
