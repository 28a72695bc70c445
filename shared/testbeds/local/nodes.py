"""Pure: this machine's probe as the local testbed's one node."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

from shared import hardware, inventory
from shared.testbeds.base import NodeReport


def node_report(data: dict[str, Any], runtimes: Iterable[str], testbed: str) -> NodeReport:
    """The node of a probe (hwinfo) with the container runtimes that work here."""
    name = data.get("hostname") or socket.gethostname()
    info = hardware.node_from_hwinfo(data, name=name, testbed=testbed)
    return NodeReport(
        name=name,
        state="online",
        state_reason=None,
        info=info,
        inventory=inventory.node_to_json(info, runtimes),
        hwinfo=data,
    )
