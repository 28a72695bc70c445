from __future__ import annotations

from typing import Any

import pytest

from services.monitor.results import final_state, parse_stdout, result_document
from shared.testbeds.base import Collected


def _collected(**status: Any) -> Collected:
    base = {
        "exit_code": 0,
        "start": "2026-11-22T01:00:00.000Z",
        "end": "2026-11-22T01:00:01.000Z",
        "script_sha256": "ab",
        "usage": {"ru_utime": 0.1},
    }
    return Collected(
        status={**base, **status},
        hwinfo={"hostname": "n1", "os_release": {"id": "debian"}},
        stdout=b'{"a": 1}',
        stderr=b"warn\n",
        log=None,
    )


def test_result_has_amun_keys() -> None:
    doc = result_document(_collected(), run_id="r", index=2, testbed="local", node="n1")
    for key in (
        "hwinfo",
        "stdout",
        "stderr",
        "exit_code",
        "script_sha256",
        "usage",
        "start_datetime",
        "end_datetime",
        "os_release",
        "hostname",
    ):
        assert key in doc
    assert doc["stdout"] == {"a": 1}
    assert doc["hostname"] == "n1" and doc["os_release"] == {"id": "debian"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"x": [1, 2]}', {"x": [1, 2]}),
        (b"plain text\n", "plain text\n"),
        (b"", ""),
        (b"42", 42),
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_parse_stdout(data: bytes, expected: Any) -> None:
    assert parse_stdout(data) == expected


@pytest.mark.parametrize(
    ("status", "cancel", "expected"),
    [
        ({}, False, ("succeeded", None)),
        ({"exit_code": 3}, False, ("failed", "exit code 3")),
        (
            {"exit_code": 137, "signal": "SIGKILL"},
            False,
            ("failed", "killed by SIGKILL (exit code 137)"),
        ),
        ({"exit_code": 143, "timed_out": True}, False, ("failed", "timed out after 5 s")),
        ({"exit_code": 143, "cancelled": True}, False, ("cancelled", "cancelled by request")),
        ({"exit_code": 0}, True, ("cancelled", "cancelled by request")),
        (
            {"exit_code": 127, "error": "could not start: No such file"},
            False,
            ("failed", "could not start: No such file"),
        ),
    ],
)
def test_final_state(status: dict[str, Any], cancel: bool, expected: tuple[str, Any]) -> None:
    doc = result_document(_collected(**status), run_id="r", index=0, testbed="t", node="n")
    assert final_state(doc, cancel, 5) == expected
