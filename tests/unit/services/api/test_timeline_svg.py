"""The timeline picture: valid SVG, a lane per node, a bar per attempt, every name escaped."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from services.api import timeline_svg
from services.api.workflow_views import Timeline, TimelineEntry

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _entry(
    stage: str, index: int, attempt: int, node: str, start: int, end: int | None
) -> TimelineEntry:
    return TimelineEntry(
        stage=stage,
        task="t",
        index=index,
        run_id=uuid.uuid4(),
        attempt=attempt,
        state="succeeded" if end is not None else "running",
        testbed="lab",
        node=node,
        released_at=T0,
        queued_at=T0 + timedelta(seconds=start),
        started_at=T0 + timedelta(seconds=start),
        finished_at=None if end is None else T0 + timedelta(seconds=end),
    )


def test_one_bar_per_attempt_one_lane_per_node_coloured_by_stage() -> None:
    hostile = '<script>alert("x")</script>&'
    entries = [
        _entry("map", 0, 1, "a", 0, 5),
        _entry("map", 0, 2, "b", 6, 9),
        _entry(hostile, 0, 1, hostile, 10, None),
    ]
    timeline = Timeline(workflow_id=uuid.uuid4(), stages=["map", hostile], entries=entries)
    drawn = timeline_svg.render(timeline, now=T0 + timedelta(seconds=20))
    root = ET.fromstring(drawn)
    assert root.tag == f"{SVG}svg" and "<script" not in drawn
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "attempt"]
    assert len(bars) == 3
    assert bars[0].get("fill") == bars[1].get("fill") != bars[2].get("fill")
    assert bars[2].get("data-stage") == hostile  # escaped in the text, whole once parsed
    labels = {t.text for t in root.iter(f"{SVG}text")}
    assert {"lab/a", "lab/b", f"lab/{hostile}"} <= labels
    assert float(bars[0].get("x") or 0) < float(bars[1].get("x") or 0)


def test_an_empty_timeline_is_still_a_picture() -> None:
    drawn = timeline_svg.render(Timeline(workflow_id=uuid.uuid4(), stages=[], entries=[]))
    assert ET.fromstring(drawn).tag == f"{SVG}svg"
