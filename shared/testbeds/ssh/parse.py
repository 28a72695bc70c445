"""Pure: what host.py printed, read back (placement's answer, the monitor's observations)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from shared.testbeds.base import NoCapacity, Observation


@dataclass(frozen=True)
class Seen:
    observation: Observation
    log_size: int | None


def placed(text: str) -> str:
    """The runner's pid from `host.py place`; NoCapacity for `wait REASON`."""
    for line in text.splitlines():
        words = line.split(maxsplit=1)
        if words and words[0] == "placed" and len(words) == 2 and words[1].strip().isdigit():
            return words[1].strip()
        if words and words[0] == "wait":
            raise NoCapacity(words[1] if len(words) == 2 else "the host is full")
    raise ValueError(f"host.py place said {text.strip()[:200]!r}")


def observations(text: str, runs: Iterable[uuid.UUID]) -> dict[uuid.UUID, Seen]:
    """`host.py observe`'s JSON line by run; a run the host does not list is gone."""
    try:
        data = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
    except ValueError:
        data = {}
    seen = {}
    for run_id in runs:
        entry = data.get(str(run_id)) if isinstance(data, dict) else None
        if not isinstance(entry, dict):
            seen[run_id] = Seen(Observation("gone"), None)
            continue
        state = entry.get("state")
        state = state if state in ("pending", "running", "ended", "gone") else "gone"
        start = entry.get("start") if isinstance(entry.get("start"), str) else None
        size = entry.get("log_size")
        seen[run_id] = Seen(
            Observation(state, start if state != "pending" else None),
            size if isinstance(size, int) else None,
        )
    return seen


def runtimes(text: str) -> list[str]:
    """`host.py runtimes`: the runtimes that ran a container (native is always there)."""
    try:
        found = json.loads(text.strip().splitlines()[-1]) if text.strip() else []
    except ValueError:
        found = []
    names = (
        [str(name) for name in found if isinstance(name, str)] if isinstance(found, list) else []
    )
    return sorted({"native", *names})
