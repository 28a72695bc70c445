"""A testbed's lease (services/monitor/lease.py): one monitor polls it at a time, and a
killed monitor's lease is free at once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest

from services.monitor.lease import key, lease
from shared.config import Settings
from tests.conftest import reset_settings

HOLD = """
import sys, time, uuid
from services.monitor.lease import lease
with lease(uuid.UUID(sys.argv[1])) as mine:
    print("held" if mine else "refused", flush=True)
    time.sleep(60)
"""


def test_keys_are_stable_and_distinct() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    assert key(one) == key(one) != key(two)
    assert -(2**63) <= key(one) < 2**63


def test_embedded_one_holder_at_a_time(settings: Settings) -> None:
    testbed = uuid.uuid4()
    seen: list[bool] = []
    with lease(testbed) as first:
        worker = threading.Thread(target=lambda: seen.append(lease(testbed).__enter__()))
        worker.start()
        worker.join()
        assert first and seen == [False]
    with lease(testbed) as again:
        assert again


@pytest.fixture
def on_postgres(settings: Settings, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TESSERA_DATABASE_URL", postgres_url)
    reset_settings()
    return postgres_url


def _holder(testbed: uuid.UUID, url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(testbed)],
        stdout=subprocess.PIPE,
        text=True,
        env={"TESSERA_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_another_process_holding_it_is_refused_until_it_is_killed(on_postgres: str) -> None:
    testbed = uuid.uuid4()
    holder = _holder(testbed, on_postgres)
    try:
        with lease(testbed) as mine:
            assert not mine
        with lease(uuid.uuid4()) as other:
            assert other  # another testbed's lease is free
        holder.kill()  # -9: no unlock is ever sent; the connection closes with the process
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            with lease(testbed) as mine:
                if mine:
                    break
            assert time.monotonic() < deadline, "the killed monitor's lease was not freed"
            time.sleep(0.1)
    finally:
        holder.kill()
    with lease(testbed) as again:  # released on leaving, the connection back in the pool
        assert again
