"""A workflow task's outputs from a Kubernetes pod, which never runs shared/runner.py.

The render gives tessera-exec the globs (`flags`: -c CAP, -o GLOB... from the job file
OUTPUTS_FILE the workflow adds); after the command exited 0 it puts the matching files in the
main container's log after the streams, as records (tessera_exec.c); `collect` reads them
back into what the runner puts in status.json, so the monitor stores them as it does for
every other testbed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from shared.testbeds.base import Job

OUTPUTS_FILE = ".tessera-outputs.json"  # shared/workflow_data.py writes it; keep in step
TAGS = (b"O", b"f", b"d", b"x", b"F")  # tessera-exec's outputs records
ANNOTATION = "tessera.io/outputs"  # on a pod whose tessera-exec sends outputs


class OutputsError(ValueError):
    """The outputs job file is not the one Tessera writes."""


def flags(job: Job) -> list[str]:
    """tessera-exec's -c CAP and -o GLOB... for the job's outputs (the globs the workflow's
    spec checked: relative, no shell characters; they are argv words anyway)."""
    for relative, content, _ in job.files:
        if relative == OUTPUTS_FILE:
            try:
                wanted = json.loads(content)
                globs = [str(item) for item in wanted.get("globs") or []]
                cap = int(wanted.get("cap") or 0)
            except (ValueError, TypeError, AttributeError):
                raise OutputsError(f"{OUTPUTS_FILE} is not the outputs Tessera writes") from None
            return ["-c", str(cap), *(flag for item in globs for flag in ("-o", item))]
    return []


def asked(pod: Mapping[str, Any]) -> bool:
    """Whether the pod's main container was given outputs to send (its ANNOTATION)."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return annotations.get(ANNOTATION) == "true"


def collect(text: bytes, wanted: bool, exit_code: object) -> dict[str, Any]:
    """A workflow task's outputs that tessera-exec put after the streams, as the runner puts
    them in status.json: {"outputs": [{"path", "data" (base64)}]}, with "outputs_error"
    when they were over the cap or the log was cut before their end; {} when none were
    `wanted` or the command did not exit 0 (tessera-exec sends them only then)."""
    if not wanted or exit_code != 0:
        return {}
    lines = text.split(b"\n")
    start = next((i for i, line in enumerate(lines) if line[:2] == b"O "), None)
    if start is None:
        start = len(lines)  # cut before they began
    items: list[dict[str, Any]] = []
    error: str | None = None
    ended = False
    try:
        for line in lines[start + 1 :]:
            tag, payload = line[:2], line[2:]
            if tag == b"f ":
                path = base64.b64decode(payload, validate=True).decode("utf-8", "replace")
                items.append({"path": path, "data": bytearray()})
            elif tag == b"d " and items:
                items[-1]["data"] += base64.b64decode(payload, validate=True)
            elif tag == b"x ":
                error = payload.decode("utf-8", "replace")
            elif tag == b"F ":
                ended = True
                break
    except (binascii.Error, ValueError):  # a record cut by the byte limit
        ended = False
    if not ended:
        error = "the outputs were cut from the pod's log (over the bytes read back)"
    if error is not None:
        return {"outputs": [], "outputs_error": error}
    return {
        "outputs": [
            {"path": item["path"], "data": base64.b64encode(item["data"]).decode()}
            for item in items
        ]
    }
