"""Live logs as server-sent events: what the server sends and what the CLI reads back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.api import logstream
from services.cli.user.api import Event, parse_events
from shared.db.models import utcnow
from shared.store import ArtifactStore
from tests.unit.services.api.conftest import Api

KEY = "runs/abc/log"


def _events(raw: bytes) -> list[Event]:
    return list(parse_events(iter(raw.decode().split("\n"))))


@pytest.mark.parametrize(
    "text",
    ["hello", "a\nb", "a\nb\n", "\n", "\n\n", "  indented\n", "data: looks like a field\n", ""],
)
def test_one_event_round_trips_through_the_parser(text: str) -> None:
    events = _events(logstream.event(text, event_id="7"))
    assert [(e.name, e.data, e.id) for e in events] == [("message", text, "7")]


def test_carriage_returns_become_line_ends_never_a_broken_field() -> None:
    raw = logstream.event("progress 10%\rprogress 20%\r\ndone")
    assert b"\r" not in raw
    assert _events(raw)[0].data == "progress 10%\nprogress 20%\ndone"


class Script:
    """A log that grows in steps while a probe reports the work running, then ended."""

    def __init__(self, store: ArtifactStore, steps: list[bytes]) -> None:
        self.store, self.steps, self.data = store, list(steps), b""

    async def probe(self) -> logstream.End | None:
        if not self.steps:
            return logstream.End("succeeded", None, 0)
        self.data += self.steps.pop(0)
        self.store.put(KEY, self.data)
        return None


async def _collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def _run(store: ArtifactStore, steps: list[bytes], **kwargs: float) -> tuple[str, list[Event]]:
    script = Script(store, steps)
    raw = asyncio.run(_collect(logstream.stream(store, KEY, script.probe, poll_s=0, **kwargs)))
    events = _events(raw)
    text = "".join(e.data for e in events if e.name == "message")
    return text, events


def test_growing_log_arrives_whole_and_ends_with_the_state(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    euro = "€".encode()  # three bytes, cut across two polls below
    steps = [b"first line\nsecond", b" half\r", b"\nthird " + euro[:1], euro[1:] + b"\n", b"tail"]
    text, events = _run(store, steps)
    assert text == "first line\nsecond half\nthird €\ntail"
    assert events[-1].name == "end"
    assert json.loads(events[-1].data) == {
        "state": "succeeded",
        "state_reason": None,
        "exit_code": 0,
    }
    ids = [int(e.id) for e in events if e.name == "message" and e.id]
    assert ids == sorted(ids) and ids[-1] == len(b"".join(steps))


def test_ids_are_byte_offsets_a_resumed_stream_starts_from(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    store.put(KEY, "héllo\nworld\n".encode())

    async def ended() -> logstream.End | None:
        return logstream.End("failed", "exit code 3", 3)

    raw = asyncio.run(_collect(logstream.stream(store, KEY, ended, offset=7, poll_s=0)))
    events = _events(raw)
    assert [e.data for e in events] == [
        "world\n",
        json.dumps(logstream.End("failed", "exit code 3", 3).__dict__),
    ]
    assert logstream.resume_offset(3, "7") == 7 and logstream.resume_offset(3, None) == 3
    assert logstream.resume_offset(None, "garbage") == 0


def test_quiet_stream_sends_keep_alive_comments(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    polls = 0

    async def slow() -> logstream.End | None:
        nonlocal polls
        polls += 1
        return logstream.End("succeeded") if polls > 3 else None

    raw = asyncio.run(_collect(logstream.stream(store, KEY, slow, poll_s=0, heartbeat_s=0)))
    assert raw.count(b": keep-alive\n\n") == 3
    assert _events(raw)[-1].name == "end"


def test_reading_a_runs_log_marks_it_watched(stack: Api) -> None:
    """GET of a run's log marks it watched for TESSERA_LOG_WATCH_S (the monitor copies only
    watched logs while runs run); the run's updated_at, which the reconciler reads, stays."""
    from services import worker
    from shared.db.models import Run

    response = stack.client.post(
        "/api/v1/deployments", json={"command": ["true"]}, headers=stack.auth()
    )
    assert response.status_code == 202, response.text
    deployment = response.json()["deployment_id"]
    run_id = stack.client.get(
        f"/api/v1/deployments/{deployment}/runs", headers=stack.auth()
    ).json()["items"][0]["id"]

    def row() -> Run:
        with worker.transaction() as session:
            found = session.get(Run, uuid.UUID(run_id))
            assert found is not None
            return found

    before = row()
    assert before.log_watched_until is None
    log = stack.client.get(f"/api/v1/runs/{run_id}/log", headers=stack.auth())
    assert log.status_code == 200
    after = row()
    assert after.log_watched_until is not None
    assert after.log_watched_until - utcnow() > timedelta(seconds=30)
    assert after.updated_at == before.updated_at
