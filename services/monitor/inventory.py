"""A testbed's refresh: its connector discovers, outside any transaction; the rows are then
written in one unit of work of their own, so a testbed that hangs holds nothing open."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from services import worker
from shared import testbeds
from shared.db.models import Node, Testbed, utcnow
from shared.inventory import with_held_by_others
from shared.testbeds.base import Discovery, NodeReport
from shared.testbeds.local import connector as local

log = logging.getLogger(__name__)
# The start of the reason of a node that stopped answering (the connectors write it so).
UNREACHABLE = "unreachable: "


def refresh_testbed(testbed_id: uuid.UUID) -> bool:
    """Discover one testbed's nodes and store them; False when the testbed is gone."""
    with worker.transaction() as session:
        testbed = session.get(Testbed, testbed_id)
        if testbed is None:
            return False
        probed: dict[str, dict[str, Any]] = {
            name: hwinfo
            for name, hwinfo in session.execute(
                select(Node.name, Node.hwinfo).where(Node.testbed_id == testbed_id)
            )
            if hwinfo
        }
    found = testbeds.connector(testbed.kind).refresh(testbed, probed)
    with worker.transaction() as session:
        return store(session, testbed_id, found)


def store_held_by_others(testbed_id: uuid.UUID, counts: Mapping[str, Sequence[int]]) -> int:
    """Write what a monitor cycle's call read of a testbed's nodes (by name, per accelerator
    entry: the devices other work holds) into their inventories, in a unit of work of its own;
    only the rows whose counts changed. How many changed."""
    if not counts:
        return 0
    changed = 0
    with worker.transaction() as session:
        rows = session.execute(
            select(Node)
            .where(Node.testbed_id == testbed_id, Node.name.in_(list(counts)))
            .options(load_only(Node.id, Node.name, Node.inventory))
        ).scalars()
        for row in rows:
            new = with_held_by_others(row.inventory, counts[row.name])
            if new is not None:
                row.inventory = new
                changed += 1
    return changed


def mark_hosts(
    testbed_id: uuid.UUID,
    unreachable: Mapping[str, str],
    answered: Sequence[str],
    since: datetime | None = None,
) -> None:
    """What a monitor cycle learned of a testbed's hosts: those that did not answer are
    offline since `since` (when the call that found it began: the clock failover reads); an
    unreachable one that answered is back. A refresh that ended after the call began probed
    the hosts later, so it knows better: its states stay (a host that came back while the
    cycle's call was timing out is not put offline again, where no run of it would bring it
    back before the next refresh)."""
    if not unreachable and not answered:
        return
    now = since or utcnow()
    with worker.transaction() as session:
        refreshed = session.execute(
            select(Testbed.refreshed_at).where(Testbed.id == testbed_id)
        ).scalar_one_or_none()
        if refreshed is not None and refreshed >= now:
            return
        rows = session.execute(
            select(Node).where(
                Node.testbed_id == testbed_id, Node.name.in_([*unreachable, *answered])
            )
        ).scalars()
        for row in rows:
            if row.name in unreachable:
                row.state, row.state_reason = "offline", f"{UNREACHABLE}{unreachable[row.name]}"
                row.unreachable_since = row.unreachable_since or now
            elif row.unreachable_since is not None:
                row.state, row.state_reason, row.unreachable_since = "online", None, None


def register_local(name: str = local.DEFAULT_NAME) -> uuid.UUID:
    """Make sure the local testbed exists, and probe this machine as its one node."""
    with worker.transaction() as session:
        testbed = session.execute(select(Testbed).where(Testbed.name == name)).scalar_one_or_none()
        if testbed is None:
            testbed = Testbed(
                id=uuid.uuid4(), name=name, kind=local.KIND, config={}, state="online"
            )
            session.add(testbed)
        key = testbed.id
    refresh_testbed(key)
    return key


def store(session: Session, testbed_id: uuid.UUID, found: Discovery) -> bool:
    """Write what a refresh found: node rows, the testbed's state (and its pinned config)."""
    testbed = session.get(Testbed, testbed_id)
    if testbed is None:
        return False
    if found.offline is not None:
        testbed.state, testbed.state_reason = "offline", found.offline
        testbed.unreachable_since = testbed.unreachable_since or utcnow()
        return True
    existing = {
        n.name: n
        for n in session.execute(select(Node).where(Node.testbed_id == testbed_id)).scalars()
    }
    for report in found.nodes:
        row = existing.get(report.name)
        if row is None:
            row = Node(id=uuid.uuid4(), testbed_id=testbed_id, name=report.name, hwinfo={})
            session.add(row)
        _fill(row, report)
    if found.missing is not None:
        reported = {report.name for report in found.nodes}
        for name, row in existing.items():
            if name not in reported:
                row.state, row.state_reason = "offline", found.missing
    pins = {key: value for key, value in found.pins.items() if not testbed.config.get(key)}
    if pins:  # trusted on first use, unless the config was given one meanwhile
        testbed.config = {**testbed.config, **pins}
    testbed.state, testbed.state_reason, testbed.refreshed_at = "online", None, utcnow()
    testbed.unreachable_since = None
    return True


def _fill(row: Node, report: NodeReport) -> None:
    info = report.info
    row.state, row.state_reason = report.state, report.state_reason
    lost = report.state == "offline" and (report.state_reason or "").startswith(UNREACHABLE)
    row.unreachable_since = (row.unreachable_since or utcnow()) if lost else None
    row.arch, row.cpu_vendor, row.cpu_model = info.arch, info.cpu_vendor, info.cpu_model
    row.cores, row.memory_bytes = info.cores, info.memory_bytes
    row.inventory = report.inventory
    if report.hwinfo is not None:
        row.hwinfo = report.hwinfo
    row.updated_at = utcnow()
