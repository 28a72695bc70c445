"""SLURM's nodes as node reports (shared/testbeds/slurm/nodes.py): what other work holds on
them, and their GPUs' memory; on captures of the test cluster (tests/fixtures/slurm/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared import hardware, hwinfo, inventory
from shared.testbeds.slurm import nodes, parse
from shared.testbeds.slurm.config import SlurmConfig

ROOT = Path(__file__).resolve().parents[4] / "fixtures"
FIXTURES = ROOT / "slurm"
CONFIG = SlurmConfig(host="login", user="u", gres_types={"H100": "h100"})
GB = 1000**3


def _read(name: str) -> str:
    return (FIXTURES / name).read_text()


def _node(name: str) -> nodes.SlurmNode:
    (node,) = nodes.parse_nodes(_read(name))
    return node


def _discovered(node_file: str, queue_file: str | None = None) -> nodes.Listed:
    queue = _read(queue_file) if queue_file else ""
    text = f"{parse.SECTION}\n".join([_read(node_file), _read("sinfo_local.txt"), queue])
    (found,) = nodes.listed(text, CONFIG)
    return found


@pytest.mark.parametrize(
    ("name", "held"),
    [
        ("scontrol_show_node_d_idle.txt", (0,)),
        ("scontrol_show_node_d_gpu_held.txt", (1,)),  # a job outside Tessera holds one H100
        ("scontrol_show_node_d_all_held.txt", (2,)),
    ],
)
def test_what_slurm_allocated_is_read_from_gres_used(name: str, held: tuple[int, ...]) -> None:
    node = _node(name)
    assert node.gres_used == (nodes.Gres("gpu", "h100", held[0]),)
    assert nodes.held_by_others(node) == held


def test_without_detail_slurm_does_not_say() -> None:
    # `scontrol show node -o` (no -d) has no GresUsed, and this cluster's TRES track no gres.
    assert _node("scontrol_show_node_busy.txt").gres_used is None
    assert nodes.held_by_others(_node("scontrol_show_node_busy.txt")) is None


def test_tessera_own_running_jobs_are_not_others() -> None:
    """One H100 held by a Tessera job (tessera-<run id>), one by a job outside Tessera."""
    node = _node("scontrol_show_node_d_shared.txt")
    queue = parse.parse_squeue(_read("squeue_me_shared.txt"))
    (job,) = queue.values()
    assert (job.node, job.gres, job.state) == ("vm", "gres:gpu:h100:1", "RUNNING")
    assert nodes.tessera_gres(queue.values()) == {"vm": [nodes.Gres("gpu", "h100", 1)]}
    assert nodes.held_by_others(node) == (2,)
    assert nodes.usage(_read("scontrol_show_node_d_shared.txt"), queue) == {"vm": (1,)}
    # Only running jobs named as Tessera names its runs count as its own.
    other = parse.JobState("9", "RUNNING", name="my-job", node="vm", gres="gres:gpu:h100:1")
    pending = parse.JobState("8", "PENDING", name=job.name, node="vm", gres=job.gres)
    assert nodes.tessera_gres([other, pending]) == {}


def test_alloc_tres_stands_in_where_cfg_tres_tracks_gres() -> None:
    record = parse.fields(" ".join(_read("public_cranesched_gpu06_fragment.txt").split("\n")))
    assert nodes.gres_used(record) == (nodes.Gres("gpu", None, 2),)
    # squeue's tres-alloc on OSC's cluster: the total and the typed count, as AllocTRES gives.
    tres = _read("public_osc_squeue_tres_alloc.txt").strip()
    used = nodes.gres_used({"CfgTRES": "cpu=4,gres/gpu=4", "AllocTRES": tres})
    assert used == (nodes.Gres("gpu", None, 1), nodes.Gres("gpu", "a100", 1))
    entries = [nodes.Gres("gpu", "h100", 2), nodes.Gres("gpu", "a100", 2)]
    assert nodes._per_entry(entries, used) == [0, 1]  # the untyped 1 is the a100's
    # A type the node's entries do not name counts as untyped.
    assert nodes._per_entry([nodes.Gres("gpu", None, 2)], [nodes.Gres("gpu", "h100", 1)]) == [1]
    assert nodes.gres_used({"CfgTRES": "cpu=2,mem=8000M", "AllocTRES": ""}) is None


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        ("gpu:h100:1(IDX:0),gpu:a100:0(IDX:N/A)", [1, 0]),
        ("gpu:a100:1(IDX:1)", [0, 1]),
        ("gpu:(null):2(IDX:0-1)", [1, 1]),  # untyped: in order, no entry over its count
    ],
)
def test_gres_used_per_entry(used: str, expected: list[int]) -> None:
    # The two-type node (Gres=gpu:h100:1(S:0),gpu:a100:1(S:0)) with a GresUsed appended.
    line = _read("scontrol_show_node_two_types.txt").strip()
    (node,) = nodes.parse_nodes(f"{line} GresUsed={used}")
    assert list(nodes.held_by_others(node) or ()) == expected


def test_the_report_says_what_others_hold() -> None:
    report = nodes.node_report(
        _discovered("scontrol_show_node_d_shared.txt", "squeue_me_shared.txt"), {}, "lab", CONFIG
    )
    assert inventory.held_by_others(report.inventory) == (1,)
    idle = nodes.node_report(_discovered("scontrol_show_node_d_idle.txt"), {}, "lab", CONFIG)
    assert inventory.held_by_others(idle.inventory) == (0,)


def _probe() -> dict[str, Any]:
    csv = (ROOT / "hwinfo" / "nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv").read_text()
    return {"gpus": hwinfo.parse_nvidia_smi_csv(csv), "runtimes": ["native"]}


def test_gpu_memory_from_the_probe_else_the_table() -> None:
    found = _discovered("scontrol_show_node_d_idle.txt")
    probed = nodes.node_report(found, _probe(), "lab", CONFIG)
    (gpu,) = probed.inventory["accelerators"]
    assert (gpu["model"], gpu["count"]) == ("H100", 2)
    assert (gpu["memory_bytes"], gpu["memory_source"]) == (81559 * 2**20, "probe")
    # Not probed (busy), or the probe saw no GPU (devices constrained): the table's H100.
    for probe in ({}, {"gpus": [], "runtimes": ["native"]}):
        (gpu,) = nodes.node_report(found, probe, "lab", CONFIG).inventory["accelerators"]
        assert (gpu["memory_bytes"], gpu["memory_source"]) == (80 * GB, "table")
    # An A100 comes as 40GB and as 80GB: the table names no size unless the name does.
    assert nodes.gpu_memory("A100", "a100", None, only=True) == (None, None)
    assert nodes.gpu_memory("A100", "a100_80gb", None, only=True) == (80 * GB, "table")


def test_a_memory_request_fits_a_slurm_node() -> None:
    wanted = hardware.parse_spec({"gpu": "40GB.."})
    tabled = nodes.node_report(_discovered("scontrol_show_node_d_idle.txt"), {}, "lab", CONFIG)
    assert hardware.match(wanted, tabled.info) == []
    assert hardware.match(hardware.parse_spec("nvidia:24GB..:1"), tabled.info) == []
    assert hardware.match(hardware.parse_spec({"gpu": "100GB.."}), tabled.info) != []


def test_an_untyped_gres_takes_the_probe_of_its_only_gpu_model() -> None:
    seen = hardware.node_from_hwinfo(_probe(), name="n", testbed="t")
    assert nodes.gpu_memory("gpu", None, seen, only=True) == (81559 * 2**20, "probe")
    assert nodes.gpu_memory("gpu", None, seen, only=False) == (None, None)
    assert nodes.gpu_memory("a100_80g", "a100_80g", None, only=True) == (80 * GB, "table")
