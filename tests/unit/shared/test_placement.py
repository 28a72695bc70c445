"""Placement and ranking (shared/placement.py, shared/ranking.py): what the active runs hold,
what is free, and the order among the nodes that fit (the tests use both: a rank is checked
against the free counts)."""

from __future__ import annotations

import uuid
from typing import Any

from shared import hardware, inventory, placement, ranking
from shared.specs import InspectionSpec

TESTBED = uuid.uuid4()


def _node(name: str, gpus: int = 0, model: str = "H100 80GB HBM3") -> placement.Candidate:
    accelerators = (
        (hardware.NodeAccelerator("gpu", "nvidia", model, 80 * 2**30, gpus),) if gpus else ()
    )
    info = hardware.NodeInfo(
        name=name,
        testbed="cluster",
        arch="x86_64",
        cpu_vendor="intel",
        cpu_model="Xeon",
        cpu_flags=frozenset({"avx2"}),
        cores=32,
        memory_bytes=2**38,
        accelerators=accelerators,
    )
    return placement.Candidate(TESTBED, "cluster", "slurm", info, frozenset({"native"}))


def _names(ranked: list[placement.Candidate]) -> list[str]:
    return [c.node.name for c in ranked]


def test_gpu_runs_go_where_gpus_are_free_most_first() -> None:
    wanted = hardware.parse_spec("H100:2").accelerators
    nodes = [_node("a", 4), _node("b", 8), _node("c", 4)]
    held = {("cluster", "b"): list(hardware.parse_spec("H100:7").accelerators)}
    # a and c have 4 free, b only 1 (short of 2): b last; a before c (inventory order)
    assert _names(ranking.rank(nodes, wanted, held)) == ["a", "c", "b"]
    held_a = {("cluster", "a"): list(hardware.parse_spec("H100:1").accelerators)}
    assert _names(ranking.rank(nodes, wanted, held_a)) == ["b", "c", "a"]


def test_runs_without_accelerators_keep_off_gpu_nodes() -> None:
    nodes = [_node("gpu-1", 8), _node("cpu-1"), _node("gpu-2", 2)]
    assert _names(ranking.rank(nodes, (), {})) == ["cpu-1", "gpu-2", "gpu-1"]


def _on(testbed: str, name: str, gpus: int = 0) -> placement.Candidate:
    node = _node(name, gpus)
    info = hardware.NodeInfo(**{**node.node.__dict__, "testbed": testbed})
    return placement.Candidate(uuid.uuid4(), testbed, "slurm", info, node.runtimes)


def test_across_testbeds_the_shortest_queue_then_the_least_busy_node_goes_first() -> None:
    nodes = [_on("busy", "a", 2), _on("idle", "b", 2), _on("idle", "c", 2)]
    wanted = hardware.parse_spec("H100:1").accelerators
    load = ranking.load_of(
        [("busy", "a", "placed", 3), ("idle", "b", "running", 2), ("idle", "c", "running", 1)]
    )
    assert load.queued == {"busy": 3} and load.active[("idle", "b")] == 2
    assert _names(ranking.rank(nodes, wanted, {}, load)) == ["c", "b", "a"]
    # free devices come before the queue: a node short of GPUs is last, however idle
    held = {("idle", "c"): list(hardware.parse_spec("H100:2").accelerators)}
    assert _names(ranking.rank(nodes, wanted, held, load)) == ["b", "a", "c"]
    # and a run that asks for none: the queue decides among equal nodes
    assert _names(ranking.rank(nodes, (), {}, load)) == ["c", "b", "a"]


def test_the_choice_is_explained() -> None:
    nodes = [_on("idle", "b", 2), _on("busy", "a", 2)]
    wanted = hardware.parse_spec("H100:1").accelerators
    load = ranking.load_of([("busy", "a", "placed", 3)])
    why = ranking.explain(nodes, wanted, {}, load)
    assert why["fitting_nodes"] == 2
    assert why["chosen"] == {
        "testbed": "idle", "node": "b", "free_devices": [2], "short": 0, "queued": 0, "active": 0
    }  # fmt: skip
    assert why["next"][0]["queued"] == 3


def test_only_devices_of_the_requested_model_count_as_free() -> None:
    wanted = hardware.parse_spec("A100:1").accelerators
    nodes = [_node("busy", 1, "A100-SXM4-80GB"), _node("idle", 1, "A100-SXM4-80GB")]
    held = {
        ("cluster", "busy"): list(hardware.parse_spec("A100:1").accelerators),
        ("cluster", "idle"): list(hardware.parse_spec("H100:1").accelerators),  # not its model
    }
    ranked = ranking.rank(nodes, wanted, held)
    assert _names(ranked) == ["idle", "busy"]
    assert placement.free_devices(ranked[1].node, held[("cluster", "busy")]) == [0]
    assert placement.free_devices(ranked[0].node, held[("cluster", "idle")]) == [1]


# ---- device accounting ------------------------------------------------------------------------

H100 = {"kind": "gpu", "vendor": "nvidia", "model": "H100", "memory_bytes": 80 << 30, "count": 8}
A100 = {"kind": "gpu", "vendor": "nvidia", "model": "A100", "memory_bytes": 40 << 30, "count": 4}


def _stored(*accelerators: dict[str, Any], name: str = "n") -> hardware.NodeInfo:
    """A node as placement reads it from its row."""
    return inventory.node_from_json(name, "cluster", {"accelerators": list(accelerators)}, True)


def test_accelerator_accounting() -> None:
    node = _stored(A100, H100)
    wanted = [hardware.parse_accelerator("H100:2"), hardware.parse_accelerator("nvidia:1")]
    assert placement.held_devices(node, wanted) == {1: 2, 0: 1}
    assert placement.held_devices(node, [hardware.parse_accelerator("MI300X:1")]) == {}
    spec = InspectionSpec.model_validate(
        {"base": "host", "script": "true", "run": {"requests": {"hardware": "H100:2"}}}
    ).model_dump(mode="json", exclude_none=True)
    assert [a.count for a in placement.requested_accelerators(spec, inspection=True)] == [2]
    assert placement.requested_accelerators({"bogus": 1}, inspection=True) == ()


A100_40GB = {**A100, "model": "NVIDIA A100-SXM4-40GB", "count": 1}
A100_80GB = {**A100, "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 80 << 30, "count": 1}


def _candidate(node: hardware.NodeInfo) -> placement.Candidate:
    return placement.Candidate(TESTBED, "cluster", "slurm", node, frozenset({"native"}))


def test_the_memory_asked_decides_which_device_a_run_holds() -> None:
    """A run asking an 80GB A100 holds the 80GB one, as `hardware.match` reads the request,
    even where a 40GB A100 comes first (a matcher without the memory took that one)."""
    big = hardware.parse_accelerator("nvidia:A100:80GB..:1")
    mixed = _stored(A100_40GB, A100_80GB, name="mixed")
    assert hardware.match(hardware.HardwareSpec(accelerators=(big,)), mixed) == []
    assert hardware.match(hardware.HardwareSpec(accelerators=(big,)), _stored(A100_40GB)) != []
    assert [hardware.fits(big, device) for device in mixed.accelerators] == [False, True]

    assert placement.held_devices(mixed, [big]) == {1: 1}
    assert placement.free_devices(mixed, [big]) == [1, 0]

    # The 40GB A100 of `mixed` is free, so a run that asks for it goes there first.
    small = hardware.parse_spec("nvidia:A100:..40GiB:1").accelerators
    busy = _stored(A100_40GB, name="busy")
    held: placement.Held = {("cluster", "busy"): small, ("cluster", "mixed"): [big]}
    ranked = ranking.rank([_candidate(busy), _candidate(mixed)], small, held)
    assert [c.node.name for c in ranked] == ["mixed", "busy"]
    # A second 80GB run goes where an 80GB A100 is free; the 40GB one never counts for it.
    other = _stored(A100_80GB, name="other")
    ranked = ranking.rank([_candidate(mixed), _candidate(other)], [big], held)
    assert [c.node.name for c in ranked] == ["other", "mixed"]
    assert placement.free_devices(mixed, [big, big]) == [1, 0]


# ---- what other work holds (the testbed's scheduler) ------------------------------------------


def _shared(name: str, others: int, gpus: int = 2) -> placement.Candidate:
    """A node of a shared cluster where other users' jobs hold `others` of its H100s."""
    node = _node(name, gpus)
    return placement.Candidate(
        TESTBED, "cluster", "slurm", node.node, frozenset({"native"}), (others,)
    )


def test_devices_other_work_holds_are_not_free() -> None:
    """Tessera's own runs count from its rows, other work from the scheduler: both hold."""
    node = _node("vm", 2).node
    one = list(hardware.parse_spec("H100:1").accelerators)
    assert placement.free_devices(node, [], (1,)) == [1]
    assert placement.free_devices(node, one, (1,)) == [0]
    assert placement.free_devices(node, one + one, (2,)) == [0]  # never below none
    assert placement.free_devices(node, one) == [1]  # no report: Tessera's runs alone


def test_a_run_waits_when_every_node_that_fits_is_held() -> None:
    wanted = hardware.parse_spec("H100:2").accelerators
    busy = [_shared("vm", 1)]
    reason = ranking.busy(ranking.rank(busy, wanted, {}), wanted, {})
    assert reason == (
        "waiting for free accelerators: cluster/vm, the one node that fits, has 1 of the 2 "
        "asked free now; placement is retried"
    )
    two = ranking.rank([_shared("a", 2), _shared("b", 1)], wanted, {})
    assert [c.node.name for c in two] == ["b", "a"]
    assert "none of the 2 nodes that fit" in (ranking.busy(two, wanted, {}) or "")
    # Another node has both free: it goes first and nothing waits.
    ranked = ranking.rank([_shared("a", 1), _shared("b", 0)], wanted, {})
    assert [c.node.name for c in ranked] == ["b", "a"]
    assert ranking.busy(ranked, wanted, {}) is None
    # Tessera's own placed run holds the rest of b.
    held = {("cluster", "b"): list(hardware.parse_spec("H100:1").accelerators)}
    assert ranking.busy(ranking.rank(ranked, wanted, held), wanted, held) is not None
    assert ranking.busy(ranked, (), held) is None  # a run without accelerators never waits


def test_candidates_read_what_others_hold_from_the_inventory() -> None:
    from shared.db.models import Node

    data = inventory.node_to_json(_node("vm", 2).node, ["native"], (1,))
    row = Node(testbed_id=TESTBED, name="vm", state="online", inventory=data)
    assert placement.candidate(row, "cluster", "slurm").others == (1,)


def _slurm_node(name: str, **lists: list[str] | None) -> placement.Candidate:
    node = _node(name)
    known: dict[str, Any] = {"partitions": ["debug"], "accounts": None, "qos": None,
                             "reservations": []}  # fmt: skip
    known.update(lists)
    return placement.Candidate(TESTBED, "cluster", "slurm", node.node, node.runtimes,
                               scheduler=known)  # fmt: skip


def test_slurm_options_are_checked_against_what_the_refresh_found() -> None:
    def fit(slurm: dict[str, str], *nodes: placement.Candidate) -> Any:
        return placement.feasible(hardware.parse_spec({}), list(nodes), testbed=None,
                                  image=None, spec_field="run.requests.hardware",
                                  slurm=slurm)  # fmt: skip

    debug, gpu = _slurm_node("d"), _slurm_node("g", partitions=["gpu"], reservations=["maint"])
    assert _names(fit({"partition": "gpu"}, debug, gpu)) == ["g"]
    assert _names(fit({"reservation": "maint"}, debug, gpu)) == ["g"]
    assert _names(fit({"account": "anything", "qos": "any"}, debug)) == ["d"]  # unknown: sbatch
    refused = fit({"partition": "big"}, debug)
    assert refused.field == "run.requests.slurm.partition"
    assert "'big'" in refused.reason and "debug" in refused.reason
    listed = _slurm_node("a", accounts=["physics"], qos=["normal"])
    assert fit({"qos": "high"}, listed).field == "run.requests.slurm.qos"
    local = placement.Candidate(TESTBED, "local", "local", _node("vm").node, frozenset({"native"}))
    not_slurm = fit({"partition": "debug"}, local)
    assert "not a SLURM cluster" in not_slurm.reason


def test_an_image_run_needs_a_runtime_its_testbed_kind_drives() -> None:
    def on(kind: str, *runtimes: str) -> placement.Candidate:
        node = _node(f"{kind}-node")
        return placement.Candidate(TESTBED, kind, kind, node.node, frozenset(runtimes))

    def fit(*nodes: placement.Candidate) -> Any:
        return placement.feasible(hardware.parse_spec({}), list(nodes), testbed=None,
                                  image="alpine:3", spec_field="run.requests.hardware")  # fmt: skip

    docker_only = on("slurm", "native", "docker")  # sbatch would refuse what docker runs
    refused = fit(docker_only)
    assert isinstance(refused, placement.Unmet) and refused.field == "base"
    assert "runs images with there" in refused.reason
    assert placement.why_not(docker_only, hardware.parse_spec({}), "alpine:3") == (
        "no container runtime Tessera runs images with on slurm (apptainer, enroot, podman, pyxis)"
    )
    assert _names(fit(docker_only, on("slurm", "native", "apptainer"))) == ["slurm-node"]
    assert _names(fit(on("ssh", "native", "docker"), on("local", "native", "buildah"))) == [
        "local-node"
    ]
