from __future__ import annotations

import io
import json
import tarfile
import uuid
from types import SimpleNamespace

import pytest

from shared.testbeds.base import Job, RenderError
from shared.testbeds.ec2 import render

KEY = uuid.uuid4()


def _job(**extra: object) -> Job:
    return Job(
        argv=[],
        env={"A": "1"},
        files=[("data/in.txt", b"x", False)],
        script=("script", b"echo hi"),
        **extra,
    )  # type: ignore[arg-type]


def test_the_bundle_holds_the_run_folder() -> None:
    data = render.bundle(_job(python_requirements=("numpy==2.0",)), {"runner.py": b"r"})
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = {m.name: m for m in tar.getmembers()}
        spec = json.loads(tar.extractfile("job.json").read())  # type: ignore[union-attr]
    assert set(names) == {"job.json", "runner.py", "script", "work/data/in.txt", "requirements.txt"}
    assert names["script"].mode == 0o755
    assert spec["argv"] == ["/bin/sh", f"{render.PLACEHOLDER}/script"]
    assert spec["env"]["PATH"].startswith(f"{render.PLACEHOLDER}/venv/bin:")
    with pytest.raises(RenderError):
        render.bundle(_job(image="registry/x:1"), {})


def test_manifest_and_user_data() -> None:
    made = render.manifest("tb", KEY, lambda key, method: f"https://s3/{key}?{method}", parts=3)
    assert made["bundle"] == f"https://s3/ec2-bundles/tb/{KEY}/bundle.tar.gz?get"
    assert made["put"]["status.json"] == f"https://s3/ec2/tb/{KEY}/status.json?put"
    assert made["put"]["log"][2] == f"https://s3/ec2/tb/{KEY}/log/00002?put"
    url = 'https://s3/x?a=1&b="; rm -rf /'
    text = render.user_data(url)
    assert text.startswith("#!/usr/bin/env python3")
    assert f"MANIFEST = {json.dumps(url)}" in text  # a string literal, never shell
    compile(text, "user-data", "exec")


def test_run_request_tags_token_and_spot() -> None:
    config = SimpleNamespace(
        tags={"team": "hads"}, subnet_id="subnet-1", security_group_ids=["sg-1"], key_name=None
    )
    request = render.run_request(
        config=config,
        image="ami-1",
        instance_type="g5.xlarge",
        lifecycle="spot",
        key=KEY,
        run_id="r",
        attempt=2,
        testbed_id="tb",
        user_data_text="#!",
        max_price=1.5,
    )
    tags = {t["Key"]: t["Value"] for t in request["TagSpecifications"][0]["Tags"]}
    assert tags["tessera:key"] == str(KEY) and tags["tessera:attempt"] == "2"
    assert tags["team"] == "hads" and request["SubnetId"] == "subnet-1"
    assert request["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert request["InstanceMarketOptions"]["SpotOptions"]["MaxPrice"] == "1.50000"
    again = render.run_request(
        config=config,
        image="ami-1",
        instance_type="g5.xlarge",
        lifecycle="on-demand",
        key=KEY,
        run_id="r",
        attempt=2,
        testbed_id="tb",
        user_data_text="#!",
        max_price=None,
    )
    assert "InstanceMarketOptions" not in again
    assert again["ClientToken"] != request["ClientToken"]
    assert render.client_token(KEY, "g5.xlarge", "spot") == request["ClientToken"]


def test_tries_spot_by_price_then_on_demand() -> None:
    offers = [
        {"instance_type": "g5.2xlarge", "spot_price": 0.5, "on_demand_price": 1.2},
        {"instance_type": "g5.xlarge", "spot_price": 0.4, "on_demand_price": 1.0},
        {"instance_type": "g6.xlarge", "spot_price": None, "on_demand_price": 0.8},
    ]
    tries = render.ordered_offers(offers, "g5.2xlarge", spot=True, fallback=True)
    assert [(t, life) for t, life, _ in tries] == [
        ("g5.2xlarge", "spot"),
        ("g5.xlarge", "spot"),
        ("g5.2xlarge", "on-demand"),
        ("g6.xlarge", "on-demand"),
        ("g5.xlarge", "on-demand"),
    ]
    assert all(life == "spot" for _, life, _ in render.ordered_offers(offers, "x", True, False))
    assert all(
        life == "on-demand" for _, life, _ in render.ordered_offers(offers, "x", False, False)
    )


def test_spot_only_while_the_deadline_leaves_room() -> None:
    from datetime import UTC, datetime, timedelta

    soon = datetime.now(UTC) + timedelta(seconds=1000)
    assert render.spot_allowed(_job(timeout_s=400.0, deadline=soon))
    assert not render.spot_allowed(_job(timeout_s=600.0, deadline=soon))
    assert render.spot_allowed(_job())
