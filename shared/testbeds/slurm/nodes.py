"""Pure: SLURM's view of its nodes (scontrol show node, sinfo) and the probe's, as node reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import hardware, inventory
from shared.testbeds.base import NodeReport
from shared.testbeds.slurm.config import SlurmConfig
from shared.testbeds.slurm.parse import NULL, integer, records, sections

MiB = 1024 * 1024
_GRES_RE = re.compile(
    r"(?P<name>[A-Za-z0-9_.-]+)"
    r"(?::(?P<type>[A-Za-z0-9_.-]+?))??"
    r"(?::(?P<count>[0-9]+[KMGTP]?))?"
    r"(?:\((?P<where>[^)]*)\))?"
    r"(?:,|$)"
)
_MULTIPLIERS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


@dataclass(frozen=True)
class Gres:
    """One generic resource of a node: `gpu:h100:4(S:0-1)` is name gpu, type h100, count 4."""

    name: str
    type: str | None
    count: int
    sockets: str | None = None


def parse_gres(text: str) -> list[Gres]:
    """A node's Gres= (or sinfo %G) value: several entries, types, counts, socket suffixes."""
    text = text.strip()
    if text in NULL:
        return []
    found = []
    for match in _GRES_RE.finditer(text):
        if not match.group(0):
            continue
        count_text = match.group("count")
        gres_type = match.group("type")
        if count_text is None and gres_type is not None and gres_type.isdigit():
            # `gpu:2`: the lazy type group took the count
            count_text, gres_type = gres_type, None
        count = 1
        if count_text:
            count = int(count_text.rstrip("KMGTP")) * _MULTIPLIERS[count_text.lstrip("0123456789")]
        where = match.group("where")
        sockets = where[2:] if where and where.startswith("S:") else None
        found.append(Gres(match.group("name"), gres_type, count, sockets))
    return found


def _split_gres_entries(text: str) -> list[str]:
    """Commas inside `(S:0,2)` belong to the entry, not to the list."""
    entries, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            entries.append(current)
            current = ""
        else:
            current += char
    return [*entries, current] if current else entries


def gres_list(text: str) -> list[Gres]:
    """parse_gres over entries split at top-level commas."""
    return [g for entry in _split_gres_entries(text.strip()) for g in parse_gres(entry)]


# Node states in which the node takes work (flags such as DRAIN or NOT_RESPONDING stop it).
_USABLE = {"IDLE", "MIXED", "ALLOCATED", "COMPLETING", "PLANNED"}
_BLOCKING_FLAGS = {
    "DRAIN",
    "DRAINED",
    "DRAINING",
    "DOWN",
    "FAIL",
    "FAILING",
    "NOT_RESPONDING",
    "MAINTENANCE",
    "MAINT",
    "REBOOT_ISSUED",
    "REBOOT_REQUESTED",
    "POWERED_DOWN",
    "POWER_DOWN",
    "POWERING_DOWN",
    "INVALID_REG",
    "FUTURE",
    "INVAL",
}


def node_online(state: str) -> bool:
    """Whether a node in this scontrol state (IDLE, MIXED+DRAIN, DOWN*...) can take runs."""
    state = state.strip().upper()
    if state.endswith(("*", "%")):
        return False  # sinfo/scontrol suffixes: not responding, powering down
    parts = state.rstrip("~#!$@^-").replace("+", " ").split()
    if not parts:
        return False
    return parts[0] in _USABLE and not (_BLOCKING_FLAGS & set(parts[1:]))


@dataclass(frozen=True)
class SlurmNode:
    name: str
    arch: str | None
    cpus: int | None
    memory_bytes: int | None
    gres: tuple[Gres, ...]
    features: tuple[str, ...]
    state: str
    reason: str | None
    partitions: tuple[str, ...]

    @property
    def online(self) -> bool:
        return node_online(self.state)


def _words(value: str | None) -> tuple[str, ...]:
    if value is None or value in NULL:
        return ()
    return tuple(word for word in value.split(",") if word)


def parse_nodes(text: str) -> list[SlurmNode]:
    """`scontrol show node -o`: one node per line."""
    nodes = []
    for record in records(text):
        if "NodeName" not in record:
            continue
        memory = integer(record.get("RealMemory"))
        reason = record.get("Reason")
        nodes.append(
            SlurmNode(
                name=record["NodeName"],
                arch=None if record.get("Arch") in NULL else record.get("Arch"),
                cpus=integer(record.get("CPUTot")) or integer(record.get("CPUEfctv")),
                memory_bytes=memory * MiB if memory else None,
                gres=tuple(gres_list(record.get("Gres", ""))),
                features=_words(record.get("AvailableFeatures")),
                state=record.get("State", "UNKNOWN"),
                reason=None if reason in NULL else reason,
                partitions=_words(record.get("Partitions")),
            )
        )
    return nodes


@dataclass(frozen=True)
class SinfoRow:
    node: str
    partition: str
    default: bool
    state: str
    reason: str | None


SINFO_FORMAT = "%N|%P|%T|%c|%m|%f|%G|%E"


def parse_sinfo(text: str) -> list[SinfoRow]:
    """`sinfo -h -N -o '%N|%P|%T|%c|%m|%f|%G|%E'`: one row per node and partition."""
    rows = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 8:
            continue
        partition = parts[1]
        reason = parts[7].strip()
        rows.append(
            SinfoRow(
                node=parts[0],
                partition=partition.rstrip("*"),
                default=partition.endswith("*"),
                state=parts[2],
                reason=None if reason in (*NULL, "none") else reason,
            )
        )
    return rows


@dataclass(frozen=True)
class Listed:
    """A node of the testbed as a refresh listed it: scontrol's record and sinfo's view."""

    node: SlurmNode
    partitions: list[str] | None
    sinfo_reason: str | None


def listed(text: str, config: SlurmConfig) -> list[Listed]:
    """The nodes in a refresh's output (scontrol, then sinfo) that belong to the testbed's
    partition."""
    node_text, sinfo_text = (sections(text) + [""])[:2]
    partitions: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    for row in parse_sinfo(sinfo_text):
        partitions.setdefault(row.node, []).append(row.partition)
        if row.reason:
            reasons[row.node] = row.reason
    found = []
    for node in parse_nodes(node_text):
        if config.partition and config.partition not in (
            partitions.get(node.name) or node.partitions
        ):
            continue
        found.append(Listed(node, partitions.get(node.name), reasons.get(node.name)))
    return found


def node_report(
    listed: Listed, probed: Mapping[str, Any] | None, testbed: str, config: SlurmConfig
) -> NodeReport:
    """A node from SLURM's view of it and, when there is one, its hwinfo probe."""
    found = listed.node
    seen = hardware.node_from_hwinfo(probed, name=found.name, testbed=testbed) if probed else None
    models = {gres.lower(): model for model, gres in config.gres_types.items()}
    accelerators = tuple(
        hardware.NodeAccelerator(
            kind="gpu",
            vendor=config.gres_vendor,
            model=models.get((g.type or "").lower(), g.type or "gpu"),
            memory_bytes=None,
            count=g.count,
        )
        for g in found.gres
        if g.name == "gpu"
    )
    info = hardware.NodeInfo(
        name=found.name,
        testbed=testbed,
        arch=found.arch or (seen.arch if seen else None),
        cpu_vendor=seen.cpu_vendor if seen else None,
        cpu_model=seen.cpu_model if seen else None,
        cpu_flags=seen.cpu_flags if seen else frozenset(),
        cores=found.cpus,
        memory_bytes=found.memory_bytes,
        accelerators=accelerators,
        features=frozenset(found.features),
    )
    data = inventory.node_to_json(info, (probed or {}).get("runtimes") or ["native"])
    data["slurm"] = {
        "state": found.state,
        "partitions": listed.partitions or list(found.partitions),
        "gres": [
            {"name": g.name, "type": g.type, "count": g.count, "sockets": g.sockets}
            for g in found.gres
        ],
    }
    reason = found.reason or listed.sinfo_reason
    return NodeReport(
        name=found.name,
        state="online" if found.online else "offline",
        state_reason=(
            None if found.online else f"SLURM: {found.state}" + (f" ({reason})" if reason else "")
        ),
        info=info,
        inventory=data,
    )
