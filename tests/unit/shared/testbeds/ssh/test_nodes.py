"""A host's probe as a node report (shared/testbeds/ssh/nodes.py), on a real captured
nvidia-smi output read by the probe's parser."""

from __future__ import annotations

from pathlib import Path

from shared import hwinfo
from shared.testbeds.ssh import nodes

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "hwinfo"


def _probe() -> dict[str, object]:
    text = (FIXTURES / "nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv").read_text()
    return {
        "hostname": "gpu-1",
        "cpu": {"arch": "x86_64", "vendor": "GenuineIntel", "flags": ["avx2"], "threads": 8},
        "memory": {"total_bytes": 2**35},
        "gpus": hwinfo.parse_nvidia_smi_csv(text),
    }


def test_a_probed_host_lists_its_gpus_by_index() -> None:
    report = nodes.node_report("gpu-1", "lab", _probe(), ["native", "podman"])
    assert report.state == "online" and report.hwinfo is not None
    gpus = report.inventory["ssh"]["gpus"]
    assert [g["index"] for g in gpus] == list(range(len(gpus))) and gpus
    assert all(g["vendor"] == "nvidia" and "H100" in g["model"] for g in gpus)
    assert report.inventory["runtimes"] == ["native", "podman"]
    assert report.inventory["accelerators"][0]["count"] == len(gpus)


def test_a_mig_slice_is_handed_out_by_its_uuid_not_its_parents_index() -> None:
    from tests.unit.shared.test_hwinfo import a100_query

    listing = hwinfo.parse_nvidia_smi_list(
        (FIXTURES / "nvidia_smi_L_a100_80gb_mixed_mig_telegraf_5812.txt").read_text()
    )
    modes = ["Enabled", "Disabled", "Disabled", "Disabled"]
    gpus = hwinfo.apply_mig(a100_query(modes, [g["uuid"] for g in listing]), listing)
    found = nodes.host_gpus({"gpus": gpus})
    devices = [g["device"] for g in found]
    assert devices[:4] == [g["uuid"] for g in gpus[:4]] and devices[0].startswith("MIG-")
    assert devices[4:] == ["1", "2", "3"]  # whole cards: their index
    assert len(set(devices)) == len(devices)  # never two runs on one slice


def test_an_unreachable_host_keeps_its_last_probe() -> None:
    report = nodes.offline_report("gpu-1", "lab", _probe(), "unreachable: timed out")
    assert (report.state, report.state_reason) == ("offline", "unreachable: timed out")
    assert report.inventory["accelerators"] and report.hwinfo is None
    bare = nodes.offline_report("gpu-9", "lab", None, "unreachable")
    assert bare.inventory["accelerators"] == [] and bare.info.name == "gpu-9"
