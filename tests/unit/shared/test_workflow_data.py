"""Late binding of a workflow's copies: where a core is free now first, then the shortest
queue, then the most cores free."""

from __future__ import annotations

import uuid

from shared import hardware, placement, ranking, workflow_data


def _candidate(testbed: str, cores: int, gpus: int = 0) -> placement.Candidate:
    accelerators = (hardware.NodeAccelerator("gpu", "nvidia", "H100", 80 * 2**30, gpus),) * bool(
        gpus
    )
    info = hardware.NodeInfo(
        name="n",
        testbed=testbed,
        arch="x86_64",
        cpu_vendor="intel",
        cpu_model="Xeon",
        cpu_flags=frozenset(),
        cores=cores,
        memory_bytes=2**34,
        accelerators=accelerators,
    )
    return placement.Candidate(uuid.uuid4(), testbed, "ssh", info, frozenset({"native"}))


def _order(found: list[placement.Candidate]) -> list[str]:
    return [c.testbed for c in found]


def test_a_full_node_goes_after_one_with_a_core_free() -> None:
    local, slurm, ssh = _candidate("local", 2), _candidate("slurm", 4, gpus=2), _candidate("ssh", 2)
    ranked = [local, ssh, slurm]  # the general ranking: nodes without GPUs first
    idle = ranking.Load({}, {})
    assert _order(workflow_data.soonest(ranked, idle, None)) == ["slurm", "local", "ssh"]
    busy_local = ranking.Load({}, {("local", "n"): 2})
    assert _order(workflow_data.soonest(ranked, busy_local, None))[-1] == "local"
    # every node full: the shortest queue first
    full = ranking.Load({"slurm": 3}, {("local", "n"): 2, ("ssh", "n"): 2, ("slurm", "n"): 9})
    assert _order(workflow_data.soonest(ranked, full, None))[-1] == "slurm"
    # a copy asking 2 cores does not fit where one is free
    one_free = ranking.Load({}, {("local", "n"): 1, ("ssh", "n"): 0, ("slurm", "n"): 3})
    assert _order(workflow_data.soonest(ranked, one_free, 2.0))[0] == "ssh"
