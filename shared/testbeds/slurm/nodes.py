"""Pure: SLURM's view of its nodes (scontrol show node -d, sinfo, squeue) and the probe's, as
node reports; and the GPUs other work holds on each node."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared import hardware, inventory
from shared.testbeds.base import NodeReport
from shared.testbeds.slurm.config import SlurmConfig
from shared.testbeds.slurm.parse import (
    NULL,
    RUNNING_STATES,
    JobState,
    integer,
    parse_squeue,
    records,
    sections,
)

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
    gres_used: tuple[Gres, ...] | None = None  # what its jobs hold; None: not reported

    @property
    def online(self) -> bool:
        return node_online(self.state)


def _words(value: str | None) -> tuple[str, ...]:
    if value is None or value in NULL:
        return ()
    return tuple(word for word in value.split(",") if word)


def parse_nodes(text: str) -> list[SlurmNode]:
    """`scontrol show node -d -o` (or without -d): one node per line."""
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
                gres_used=gres_used(record),
            )
        )
    return nodes


def gres_used(record: Mapping[str, str]) -> tuple[Gres, ...] | None:
    """What the node's jobs hold, as SLURM allocated it: `GresUsed=gpu:h100:1(IDX:0)` (from
    `scontrol show node -d`), else AllocTRES's `gres/gpu:h100=1` where CfgTRES tracks gres;
    None when the record says neither."""
    used = record.get("GresUsed")
    if used is not None:
        return tuple(gres_list(used.replace(":(null)", "")))
    if "gres/" not in record.get("CfgTRES", ""):
        return None
    found = []
    for item in record.get("AllocTRES", "").split(","):
        key, _, value = item.partition("=")
        if key.startswith("gres/") and value.isdigit():
            name, _, kind = key[len("gres/") :].partition(":")
            found.append(Gres(name, kind or None, int(value)))
    return tuple(found)


def _per_entry(entries: Sequence[Gres], held: Iterable[Gres]) -> list[int]:
    """How many devices of each gpu entry of a node `held` takes: typed counts go to the
    entries of their type, untyped ones (less what the typed ones already name, as AllocTRES
    gives both) and those of a type no entry has to the entries in order; no entry gets more
    than it has."""
    gpus = [g for g in held if g.name == "gpu"]
    by_type: dict[str, int] = {}
    for g in gpus:
        if g.type:
            by_type[g.type.lower()] = by_type.get(g.type.lower(), 0) + g.count
    untyped = sum(g.count for g in gpus if not g.type)
    loose = max(0, untyped - sum(by_type.values())) if by_type else untyped
    kinds = {(e.type or "").lower() for e in entries}
    loose += sum(n for kind, n in by_type.items() if kind not in kinds)
    counts = []
    for entry in entries:
        kind = (entry.type or "").lower()
        if kind in by_type:
            take = min(entry.count, by_type[kind])
            by_type[kind] -= take
        else:
            take = min(entry.count, loose)
            loose -= take
        counts.append(take)
    return counts


TESSERA_JOB = re.compile(r"^tessera-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def tessera_gres(jobs: Iterable[JobState]) -> dict[str, list[Gres]]:
    """What Tessera's own running jobs (named `tessera-<run id>`) hold, by node (squeue's %N
    and %b: `gres:gpu:h100:1`, or `gres/gpu:1` in later versions)."""
    held: dict[str, list[Gres]] = {}
    for job in jobs:
        if job.state not in RUNNING_STATES or not job.node or not job.gres:
            continue
        if not TESSERA_JOB.match(job.name or ""):
            continue
        for entry in _split_gres_entries(job.gres):
            entry = entry.strip().removeprefix("gres:").removeprefix("gres/")
            held.setdefault(job.node, []).extend(parse_gres(entry))
    return held


def _others(gres: Iterable[Gres], used: Iterable[Gres], tessera: Iterable[Gres]) -> tuple[int, ...]:
    entries = [g for g in gres if g.name == "gpu"]
    counts = zip(_per_entry(entries, used), _per_entry(entries, tessera), strict=True)
    return tuple(max(0, u - o) for u, o in counts)


def held_by_others(node: SlurmNode, tessera: Iterable[Gres] = ()) -> tuple[int, ...] | None:
    """Per gpu entry of the node: the devices SLURM reports held by jobs that are not Tessera's
    (other users', or the account's own outside Tessera); None when SLURM does not say."""
    if node.gres_used is None:
        return None
    return _others(node.gres, node.gres_used, tessera)


# What the monitor reads of each `scontrol show node -d -o` line (every field: 2.4x the time).
_USAGE_FIELDS = re.compile(r"(?:^|\s)(NodeName|Gres|GresUsed|CfgTRES|AllocTRES)=(\S*)")


def usage(node_text: str, queue: Mapping[str, JobState]) -> dict[str, tuple[int, ...]]:
    """The monitor's view, from one `scontrol show node -d -o` and the account's squeue: per
    node, the GPUs other work holds (per gpu entry, as the node's report lists them)."""
    tessera = tessera_gres(queue.values())
    found = {}
    for line in node_text.splitlines():
        record = dict(_USAGE_FIELDS.findall(line))
        name, used = record.get("NodeName"), gres_used(record)
        if name and used is not None:
            found[name] = _others(gres_list(record.get("Gres", "")), used, tessera.get(name, ()))
    return found


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
    """A node of the testbed as a refresh listed it: scontrol's record, sinfo's view and what
    Tessera's running jobs hold on it (squeue)."""

    node: SlurmNode
    partitions: list[str] | None
    sinfo_reason: str | None
    tessera: tuple[Gres, ...] = ()


def listed(text: str, config: SlurmConfig) -> list[Listed]:
    """The nodes in a refresh's output (scontrol, sinfo, then the account's squeue) that belong
    to the testbed's partition."""
    node_text, sinfo_text, queue_text = (sections(text) + ["", ""])[:3]
    partitions: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    for row in parse_sinfo(sinfo_text):
        partitions.setdefault(row.node, []).append(row.partition)
        if row.reason:
            reasons[row.node] = row.reason
    tessera = tessera_gres(parse_squeue(queue_text).values())
    found = []
    for node in parse_nodes(node_text):
        if config.partition and config.partition not in (
            partitions.get(node.name) or node.partitions
        ):
            continue
        held = tuple(tessera.get(node.name, ()))
        found.append(Listed(node, partitions.get(node.name), reasons.get(node.name), held))
    return found


def gpu_memory(
    model: str, gres_type: str | None, seen: hardware.NodeInfo | None, only: bool
) -> tuple[int | None, str | None]:
    """A gpu entry's memory and where it comes from: "probe", the GPUs of that model the
    probe saw (any it saw, when the entry is the node's only one and they are of one model);
    else "table", the known size of the model, gres type or model the probe names
    (`hardware.known_memory`); else (None, None)."""
    probed = [a for a in seen.accelerators if a.kind == "gpu"] if seen else []
    names = [model] + ([gres_type.replace("_", " ")] if gres_type else [])
    same = [a for a in probed if any(hardware.model_matches(n, a.model) for n in names)]
    if not same and only and len({a.model for a in probed}) == 1:
        same = probed
    sizes = [a.memory_bytes for a in same if a.memory_bytes]
    if sizes:
        return min(sizes), "probe"
    for name in [*names, *(a.model for a in same)]:
        size = hardware.known_memory(name)
        if size is not None:
            return size, "table"
    return None, None


def node_report(
    listed: Listed,
    probed: Mapping[str, Any] | None,
    testbed: str,
    config: SlurmConfig,
    allowed: Mapping[str, list[str] | None] | None = None,
    cluster_runtimes: Sequence[str] = (),
) -> NodeReport:
    """A node from SLURM's view of it and, when there is one, its hwinfo probe; `allowed`:
    the accounts, qos and reservations runs may ask (parse.allowed); `cluster_runtimes`:
    what srun itself runs images with (pyxis)."""
    found = listed.node
    seen = hardware.node_from_hwinfo(probed, name=found.name, testbed=testbed) if probed else None
    models = {gres.lower(): model for model, gres in config.gres_types.items()}
    gpus = [g for g in found.gres if g.name == "gpu"]
    accelerators, sources = [], []
    for g in gpus:
        model = models.get((g.type or "").lower(), g.type or "gpu")
        memory, source = gpu_memory(model, g.type, seen, len(gpus) == 1)
        accelerators.append(
            hardware.NodeAccelerator("gpu", config.gres_vendor, model, memory, g.count)
        )
        sources.append(source)
    info = hardware.NodeInfo(
        name=found.name,
        testbed=testbed,
        arch=found.arch or (seen.arch if seen else None),
        cpu_vendor=seen.cpu_vendor if seen else None,
        cpu_model=seen.cpu_model if seen else None,
        cpu_flags=seen.cpu_flags if seen else frozenset(),
        cores=found.cpus,
        memory_bytes=found.memory_bytes,
        accelerators=tuple(accelerators),
        features=frozenset(found.features),
        cpu_family=seen.cpu_family if seen else None,
        cpu_model_number=seen.cpu_model_number if seen else None,
        disk_bytes=seen.disk_bytes if seen else None,
    )
    runtimes = [*((probed or {}).get("runtimes") or ["native"]), *cluster_runtimes]
    data = inventory.node_to_json(info, runtimes, held_by_others(found, listed.tessera))
    for entry, source in zip(data["accelerators"], sources, strict=True):
        entry["memory_source"] = source
    data["slurm"] = {
        "state": found.state,
        "partitions": listed.partitions or list(found.partitions),
        **(allowed or {}),
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
