from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.testbeds.ec2 import parse

KEY = uuid.uuid4()


def _reservation(state: str, reason: str | None = None, spot: bool = True) -> dict[str, object]:
    item: dict[str, object] = {
        "InstanceId": "i-1",
        "State": {"Name": state},
        "InstanceType": "g5.xlarge",
        "Placement": {"AvailabilityZone": "us-east-1a"},
        "Tags": [{"Key": "tessera:key", "Value": str(KEY)}, {"Key": "tessera:run", "Value": "r"}],
    }
    if spot:
        item["InstanceLifecycle"] = "spot"
    if reason:
        item["StateReason"] = {"Code": reason, "Message": f"{reason}: gone"}
    return {"Instances": [item]}


def test_instances_read_tags_and_lifecycle() -> None:
    (found,) = parse.instances([_reservation("running")])
    assert found.key == KEY and found.run_id == "r" and found.lifecycle == "spot"
    assert found.zone == "us-east-1a"


def test_observations() -> None:
    running = parse.instances([_reservation("running")])[0]
    gone = parse.instances([_reservation("terminated", "Server.SpotInstanceTermination")])[0]
    assert parse.observation(running, {}).state == "running"
    assert parse.observation(gone, {"status.json": 10}).state == "ended"
    seen = parse.observation(gone, {"log/00000": 3})
    assert seen.state == "interrupted" and "Server.SpotInstanceTermination" in (seen.reason or "")
    assert parse.observation(None, {}).state == "gone"
    pending = parse.instances([_reservation("pending")])[0]
    assert parse.observation(pending, {}).state == "pending"


def test_newest_by_key_prefers_the_live_instance() -> None:
    dead = parse.instances([_reservation("terminated")])[0]
    live = parse.instances([_reservation("running")])[0]
    assert parse.newest_by_key([dead, live])[KEY] is live
    assert parse.newest_by_key([live, dead])[KEY] is live


def test_listing_by_attempt() -> None:
    listing = {"ec2/t/a/status.json": 4, "ec2/t/a/log/00000": 2, "ec2/t/b/hwinfo.json": 1}
    assert parse.by_attempt(listing, "ec2/t/") == {
        "a": {"status.json": 4, "log/00000": 2},
        "b": {"hwinfo.json": 1},
    }


def test_refs_round_trip_and_cost() -> None:
    ref = parse.Ref("i-1", "g5.xlarge", "spot", 0.4, str(KEY), 2)
    assert parse.ref(ref.text()) == ref
    assert parse.ref("error:x") is None and parse.ref(None) is None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse.cost(0.4, start, start + timedelta(hours=2)) == 0.8
    assert parse.cost(3.6, start, start + timedelta(seconds=1)) == 0.06  # a minute at least
    assert parse.cost(None, start, start) is None
