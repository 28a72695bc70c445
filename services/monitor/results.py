"""A finished run's result document (Amun's keys) and its final state."""

from __future__ import annotations

import json
from typing import Any

from shared.testbeds.base import Collected


def _text(data: bytes) -> str:
    return data.decode(errors="replace")


def parse_stdout(data: bytes) -> Any:
    """stdout as JSON when it is JSON, else as text."""
    text = _text(data)
    try:
        return json.loads(text)
    except ValueError:
        return text


def result_document(
    collected: Collected, *, run_id: str, index: int, testbed: str, node: str
) -> dict[str, Any]:
    status = collected.status
    hwinfo = collected.hwinfo
    return {
        "run_id": run_id,
        "index": index,
        "testbed": testbed,
        "node": node,
        "hwinfo": hwinfo,
        "stdout": parse_stdout(collected.stdout),
        "stderr": _text(collected.stderr),
        "exit_code": status.get("exit_code"),
        "signal": status.get("signal"),
        "timed_out": bool(status.get("timed_out")),
        "cancelled": bool(status.get("cancelled")),
        "script_sha256": status.get("script_sha256"),
        "usage": status.get("usage"),
        "start_datetime": status.get("start"),
        "end_datetime": status.get("end"),
        "os_release": hwinfo.get("os_release"),
        "hostname": hwinfo.get("hostname"),
        "stdout_truncated": bool(status.get("stdout_dropped")),
        "stderr_truncated": bool(status.get("stderr_dropped")),
        "error": status.get("error"),
    }


def final_state(
    result: dict[str, Any], cancel_requested: bool, timeout_s: float | None = None
) -> tuple[str, str | None]:
    """(state, reason) for a run that ended."""
    status_cancelled = cancel_requested or result.get("cancelled")
    if status_cancelled:
        return "cancelled", "cancelled by request"
    if result.get("error"):
        return "failed", str(result["error"])
    if result.get("timed_out"):
        limit = f" after {timeout_s:g} s" if timeout_s else ""
        return "failed", f"timed out{limit}"
    code = result.get("exit_code")
    if code == 0:
        return "succeeded", None
    if result.get("signal"):
        return "failed", f"killed by {result['signal']} (exit code {code})"
    return "failed", f"exit code {code}"
