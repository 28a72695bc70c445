"""A SLURM node as an inventory row: SLURM's view (gres, features, state) and the probe's."""

from __future__ import annotations

from shared import hardware, inventory
from shared.db.models import Node, Testbed, utcnow
from shared.testbeds import slurm_parse
from shared.testbeds.slurm_config import SlurmConfig


def store_node(
    node: Node,
    found: slurm_parse.SlurmNode,
    testbed: Testbed,
    config: SlurmConfig,
    partitions: list[str] | None,
    reasons: dict[str, str],
) -> None:
    """Fill a node row from SLURM's view of it and, when there is one, its hwinfo probe."""
    probed = (
        hardware.node_from_hwinfo(node.hwinfo, name=found.name, testbed=testbed.name)
        if node.hwinfo
        else None
    )
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
        testbed=testbed.name,
        arch=found.arch or (probed.arch if probed else None),
        cpu_vendor=probed.cpu_vendor if probed else None,
        cpu_model=probed.cpu_model if probed else None,
        cpu_flags=probed.cpu_flags if probed else frozenset(),
        cores=found.cpus,
        memory_bytes=found.memory_bytes,
        accelerators=accelerators,
        features=frozenset(found.features),
    )
    runtimes = (node.hwinfo or {}).get("runtimes") or ["native"]
    data = inventory.node_to_json(info, runtimes)
    data["slurm"] = {
        "state": found.state,
        "partitions": partitions or list(found.partitions),
        "gres": [
            {"name": g.name, "type": g.type, "count": g.count, "sockets": g.sockets}
            for g in found.gres
        ],
    }
    node.inventory = data
    node.arch, node.cpu_vendor, node.cpu_model = info.arch, info.cpu_vendor, info.cpu_model
    node.cores, node.memory_bytes = info.cores, info.memory_bytes
    node.state = "online" if found.online else "offline"
    reason = found.reason or reasons.get(found.name)
    node.state_reason = (
        None if found.online else f"SLURM: {found.state}" + (f" ({reason})" if reason else "")
    )
    node.updated_at = utcnow()
