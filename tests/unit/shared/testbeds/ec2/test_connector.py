"""The connector against moto's EC2 and S3 on loopback (no instance runs here: the
integration tests run their user data)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from shared import hardware
from shared.s3store import S3Store
from shared.testbeds.base import Job, NoCapacity, Tracked
from shared.testbeds.ec2.connector import Ec2Connector
from tests import moto
from tests.ec2_harness import Ec2Proxy


@pytest.fixture
def proxy() -> Iterator[Ec2Proxy]:
    with Ec2Proxy() as made:
        yield made


@pytest.fixture
def connector(monkeypatch: pytest.MonkeyPatch) -> Ec2Connector:
    for name, value in moto.AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return Ec2Connector(S3Store(moto.client("s3"), moto.new_bucket(), "c"))


def _testbed(endpoint: str, **config: Any) -> Any:
    base = {
        "region": moto.REGION,
        "endpoint_url": endpoint,
        "images": {"x86_64": "ami-12c6146b"},
        "instance_types": ["g5.xlarge", "g5.2xlarge", "t3.micro"],
        "idle_timeout_s": 0,
    }
    return SimpleNamespace(
        id=uuid.uuid4(), name="cloud", credentials=None, config={**base, **config}
    )


def _job(run: uuid.UUID, **extra: Any) -> Job:
    extra.setdefault("hardware", hardware.parse_spec({"gpu": "A10G:1"}))
    return Job(argv=["true"], env={"TESSERA_RUN_ID": str(run), "TESSERA_ATTEMPT": "1"}, **extra)


def _live(testbed: Any, tag: str, value: str) -> list[dict[str, Any]]:
    found = moto.client("ec2").describe_instances(
        Filters=[
            {"Name": f"tag:{tag}", "Values": [value]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )
    return [i for r in found["Reservations"] for i in r["Instances"]]


def test_refresh_offers_the_allowed_types(connector: Ec2Connector) -> None:
    found = connector.refresh(_testbed(moto.MOTO_URL), {})
    assert found.offline is None
    assert {n.name for n in found.nodes} == {"g5.xlarge", "g5.2xlarge", "t3.micro"}
    g5 = next(n for n in found.nodes if n.name == "g5.xlarge")
    assert g5.inventory["ec2"]["on_demand_price"] == 1.006
    broken = connector.refresh(_testbed("http://127.0.0.1:9", request_timeout_s=1), {})
    assert broken.offline


def test_place_once_per_attempt_and_cancel(connector: Ec2Connector) -> None:
    testbed, run = _testbed(moto.MOTO_URL), uuid.uuid4()
    ref = connector.place(testbed, "g5.xlarge", run, _job(run))
    assert ref.startswith("ec2|i-") and "|g5.xlarge|spot|" in ref
    assert connector.place(testbed, "g5.xlarge", run, _job(run)).split("|")[1] == ref.split("|")[1]
    assert len(_live(testbed, "tessera:key", str(run))) == 1
    notes = connector.placement_notes(run)
    assert notes is not None and notes["ec2_tries"][0]["instance_id"] == ref.split("|")[1]
    seen = connector.observe(testbed, [Tracked(run, ref, "g5.xlarge")])
    assert seen[run].state == "running"
    connector.cancel(testbed, Tracked(run, ref, "g5.xlarge"))
    assert not _live(testbed, "tessera:key", str(run))
    seen = connector.observe(testbed, [Tracked(run, ref, "g5.xlarge")])
    assert seen[run].state == "interrupted"


def test_max_instances_and_refusals_wait(connector: Ec2Connector, proxy: Ec2Proxy) -> None:
    testbed = _testbed(proxy.url, max_instances=1)
    first = uuid.uuid4()
    connector.place(testbed, "g5.xlarge", first, _job(first))
    second = uuid.uuid4()
    with pytest.raises(NoCapacity, match="1 of 1 instances"):
        connector.place(testbed, "g5.xlarge", second, _job(second))
    proxy.refuse_spot = True
    spot_only = _testbed(proxy.url, on_demand_fallback=False)
    with pytest.raises(NoCapacity, match="InsufficientInstanceCapacity"):
        connector.place(spot_only, "g5.xlarge", second, _job(second))
    assert not _live(spot_only, "tessera:key", str(second))


def test_a_near_deadline_goes_on_demand(connector: Ec2Connector) -> None:
    testbed, run = _testbed(moto.MOTO_URL), uuid.uuid4()
    soon = datetime.now(UTC) + timedelta(minutes=30)
    ref = connector.place(testbed, "g5.xlarge", run, _job(run, timeout_s=1200.0, deadline=soon))
    assert "|on-demand|1.006|" in ref


def test_orphans_are_terminated(connector: Ec2Connector) -> None:
    testbed = _testbed(moto.MOTO_URL)
    kept, orphan = uuid.uuid4(), uuid.uuid4()
    for run in (kept, orphan):
        connector.place(testbed, "t3.micro", run, _job(run, hardware=hardware.HardwareSpec()))
    ended = connector.orphans(testbed, {kept}, older_than_s=0)
    assert len(ended) == 1
    assert _live(testbed, "tessera:key", str(kept)) and not _live(
        testbed, "tessera:key", str(orphan)
    )


def test_an_instance_that_uploads_nothing_is_ended(connector: Ec2Connector) -> None:
    testbed, run = _testbed(moto.MOTO_URL, idle_timeout_s=1), uuid.uuid4()
    ref = connector.place(testbed, "g5.xlarge", run, _job(run))
    import time

    time.sleep(1.5)
    seen = connector.observe(testbed, [Tracked(run, ref, "g5.xlarge")])
    assert seen[run].state == "interrupted" and "idle_timeout_s" in (seen[run].reason or "")
    assert not _live(testbed, "tessera:key", str(run))
