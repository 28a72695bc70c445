"""Live logs as server-sent events: what the server sends and what the CLI reads back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.api import logstream
from services.cli.user.api import Event, parse_events
from shared.store import ArtifactStore

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
