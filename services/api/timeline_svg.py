"""A workflow's timeline as an SVG Gantt picture, drawn server-side: one lane per node
(testbed/node), one bar per attempt (from when it started, or was placed, to when it ended,
or now), coloured by stage. Every user string (stage, task, node and testbed names) is
escaped; the picture is built as text, with no script and no external reference."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from services.api.workflow_views import Timeline, TimelineEntry

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
LANE_H = 22
LABEL_W = 220
PLOT_W = 900
TOP = 40
LEGEND_ROW = 18


def _lane(entry: TimelineEntry) -> str:
    return f"{entry.testbed or '?'}/{entry.node or '?'}"


def _span(entry: TimelineEntry, now: datetime) -> tuple[datetime, datetime] | None:
    start = entry.started_at or entry.queued_at
    if start is None:
        return None
    end = entry.finished_at or now
    return start, max(end, start)


def render(timeline: Timeline, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    colours = {stage: PALETTE[i % len(PALETTE)] for i, stage in enumerate(timeline.stages)}
    spans = [(entry, _span(entry, now)) for entry in timeline.entries]
    drawn = [(entry, span) for entry, span in spans if span is not None]
    lanes = sorted({_lane(entry) for entry, _ in drawn})
    row = {name: i for i, name in enumerate(lanes)}
    begin = min((span[0] for _, span in drawn), default=now)
    finish = max((span[1] for _, span in drawn), default=now)
    total = max((finish - begin).total_seconds(), 1e-3)
    legend_top = TOP + len(lanes) * LANE_H + 30
    height = legend_top + LEGEND_ROW * max(len(timeline.stages), 1) + 10
    width = LABEL_W + PLOT_W + 20
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>workflow {escape(str(timeline.workflow_id))}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LABEL_W}" y="20" font-size="13">{escape(str(timeline.workflow_id))}: '
        f"{len(drawn)} attempts over {total:.1f} s</text>",
    ]
    for name, i in row.items():
        y = TOP + i * LANE_H
        shade = "#f4f4f4" if i % 2 == 0 else "#ffffff"
        out.append(
            f'<rect x="{LABEL_W}" y="{y}" width="{PLOT_W}" height="{LANE_H}" fill="{shade}"/>'
        )
        out.append(
            f'<text x="{LABEL_W - 6}" y="{y + LANE_H - 7}" text-anchor="end">{escape(name)}</text>'
        )
    for tick in range(6):
        x = LABEL_W + PLOT_W * tick / 5
        y = TOP + len(lanes) * LANE_H
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{y}" stroke="#cccccc"/>')
        out.append(
            f'<text x="{x:.1f}" y="{y + 14}" text-anchor="middle">{total * tick / 5:.1f} s</text>'
        )
    for entry, (start, end) in drawn:
        x = LABEL_W + PLOT_W * (start - begin).total_seconds() / total
        w = max(PLOT_W * (end - start).total_seconds() / total, 1.0)
        y = TOP + row[_lane(entry)] * LANE_H + 3
        label = (
            f"{entry.stage}/{entry.task}[{entry.index}] attempt {entry.attempt} {entry.state} "
            f"on {_lane(entry)}: {(end - start).total_seconds():.2f} s"
        )
        colour = colours.get(entry.stage, "#888888")
        dashed = ' stroke="#000000" stroke-dasharray="2,2"' if entry.state != "succeeded" else ""
        out.append(
            f'<rect class="attempt" x="{x:.2f}" y="{y}" width="{w:.2f}" height="{LANE_H - 6}" '
            f'fill="{colour}" data-stage={quoteattr(entry.stage)}{dashed}>'
            f"<title>{escape(label)}</title></rect>"
        )
    for i, stage in enumerate(timeline.stages):
        y = legend_top + i * LEGEND_ROW
        out.append(f'<rect x="{LABEL_W}" y="{y}" width="12" height="12" fill="{colours[stage]}"/>')
        out.append(f'<text x="{LABEL_W + 18}" y="{y + 10}">{escape(stage)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
