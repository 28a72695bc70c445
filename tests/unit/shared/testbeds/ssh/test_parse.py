"""Reading host.py's answers (shared/testbeds/ssh/parse.py)."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.testbeds.base import NoCapacity
from shared.testbeds.ssh import parse


def test_placed_wait_and_garbage() -> None:
    assert parse.placed("placed 4242\n") == "4242"
    with pytest.raises(NoCapacity, match="waiting for a GPU"):
        parse.placed("wait waiting for a GPU: 2 of the 2 that fit are in use\n")
    with pytest.raises(ValueError, match="Traceback"):
        parse.placed("Traceback (most recent call last):\n")


def test_observations_and_runs_the_host_does_not_list() -> None:
    known, unknown, odd = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    text = json.dumps({
        str(known): {"state": "running", "start": "2026-12-01T10:00:00.000Z", "log_size": 12},
        str(odd): {"state": "exploded", "log_size": "big"},
    })  # fmt: skip
    seen = parse.observations(text + "\n", [known, unknown, odd])
    assert seen[known].observation.state == "running" and seen[known].log_size == 12
    assert seen[unknown].observation.state == "gone" and seen[odd].observation.state == "gone"
    assert seen[odd].log_size is None
    assert parse.observations("not json", [known])[known].observation.state == "gone"


def test_runtimes() -> None:
    assert parse.runtimes('["podman"]\n') == ["native", "podman"]
    assert parse.runtimes("oops") == ["native"]
