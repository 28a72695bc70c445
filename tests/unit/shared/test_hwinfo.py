"""The hardware probe: its parsers on captured outputs, and the whole probe on this machine."""

from __future__ import annotations

import ast
import json
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared import hwinfo

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "hwinfo"
PROBE = ROOT / "shared" / "hwinfo.py"
MIB = 1024 * 1024

GPU_KEYS = {
    "index", "vendor", "model", "memory_bytes", "uuid", "driver_version", "pci_bus_id",
    "compute_capability", "source",
}  # fmt: skip
ACCELERATOR_KEYS = {"kind", "vendor", "vendor_id", "device", "device_id", "pci_slot", "class_id"}
TOP_KEYS = {
    "probe_version", "hostname", "collected_at", "cpu", "memory", "gpus", "accelerators",
    "os_release", "kernel", "container", "python", "scheduler", "runtimes", "errors",
}  # fmt: skip
CPU_KEYS = {
    "arch", "vendor", "model_name", "family", "model", "stepping", "flags", "sockets", "cores",
    "threads", "usable_threads",
}  # fmt: skip


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- /proc/cpuinfo ---------------------------------------------------------------------------


def test_cpuinfo_of_the_kvm_xeon() -> None:
    cpu = hwinfo.parse_cpuinfo(fixture("cpuinfo_x86_64_kvm.txt"))
    assert cpu["vendor"] == "GenuineIntel"
    assert cpu["model_name"] == "Intel(R) Xeon(R) Processor"
    assert (cpu["family"], cpu["model"], cpu["stepping"]) == (6, 167, 8)
    assert {"avx2", "avx512f", "amx_tile", "sse4_2", "hypervisor"} <= set(cpu["flags"])
    assert cpu["flags"] == sorted(set(cpu["flags"]))
    assert (cpu["sockets"], cpu["cores"], cpu["threads"]) == (1, 2, 2)


def test_cpuinfo_of_a_graviton2() -> None:
    cpu = hwinfo.parse_cpuinfo(fixture("cpuinfo_aarch64_graviton2.txt"))
    assert cpu["vendor"] == "ARM"
    assert cpu["model_name"] == "Neoverse-N1"
    assert (cpu["family"], cpu["model"], cpu["stepping"]) == (8, 0xD0C, 1)
    assert {"asimd", "atomics", "sha2", "ssbs"} <= set(cpu["flags"])
    assert "avx2" not in cpu["flags"]
    assert (cpu["sockets"], cpu["cores"], cpu["threads"]) == (1, 1, 1)


def test_cpuinfo_of_an_ampereone() -> None:
    cpu = hwinfo.parse_cpuinfo(fixture("cpuinfo_aarch64_ampereone.txt"))
    assert cpu["vendor"] == "Ampere"
    assert cpu["model_name"] == "Ampere-1a"
    assert cpu["model"] == 0xAC4
    assert {"bf16", "i8mm", "sha512", "rng"} <= set(cpu["flags"])


def test_cpuinfo_of_a_thunderx_counts_both_processors() -> None:
    cpu = hwinfo.parse_cpuinfo(fixture("cpuinfo_aarch64_thunderx_scaleway.txt"))
    assert cpu["vendor"] == "Cavium"
    assert cpu["model_name"] == "ThunderX 88XX"
    assert (cpu["sockets"], cpu["cores"], cpu["threads"]) == (1, 2, 2)
    assert cpu["flags"] == ["aes", "asimd", "atomics", "crc32", "evtstrm", "fp", "pmull", "sha1",
                            "sha2"]  # fmt: skip


def test_cpuinfo_without_processors() -> None:
    cpu = hwinfo.parse_cpuinfo("")
    assert (cpu["threads"], cpu["cores"], cpu["sockets"], cpu["flags"]) == (0, 0, 1, [])


# --- /proc/meminfo and os-release ----------------------------------------------------------------


def test_meminfo() -> None:
    memory = hwinfo.parse_meminfo(fixture("meminfo_x86_64_kvm.txt"))
    assert memory == {"total_bytes": 24684084 * 1024, "available_bytes": 23768908 * 1024}


def test_meminfo_of_an_old_kernel_has_no_available_figure() -> None:
    text = "\n".join(line for line in fixture("meminfo_x86_64_kvm.txt").splitlines()
                     if not line.startswith("MemAvailable"))  # fmt: skip
    assert hwinfo.parse_meminfo(text)["available_bytes"] is None


def test_os_release() -> None:
    release = hwinfo.parse_os_release(fixture("os_release_debian12.txt"))
    assert release["id"] == "debian"
    assert release["version_id"] == "12"
    assert release["pretty_name"] == "Debian GNU/Linux 12 (bookworm)"
    assert release["version_codename"] == "bookworm"
    assert release["home_url"] == "https://www.debian.org/"


# --- nvidia-smi ----------------------------------------------------------------------------------


def test_nvidia_smi_h100_csv_with_header_and_units() -> None:
    gpus = hwinfo.parse_nvidia_smi_csv(fixture("nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv"))
    assert gpus == [
        {
            "index": 0,
            "vendor": "nvidia",
            "model": "NVIDIA H100 80GB HBM3",
            "memory_bytes": 81559 * MIB,
            "uuid": "GPU-00000000-0000-0000-0000-000000000000",
            "driver_version": "590.48.01",
            "pci_bus_id": "0000:00:09.0",
            "compute_capability": "9.0",
            "source": "nvidia-smi",
        }
    ]


def test_nvidia_smi_old_driver_without_compute_cap() -> None:
    fields = (
        "power.limit", "power.min_limit", "power.max_limit", "memory.total", "vbios_version",
        "driver_version", "name", "gpu_uuid", "power.draw", "temperature.gpu",
        "temperature.memory", "clocks.current.graphics", "clocks.sm", "clocks.mem",
        "utilization.gpu", "utilization.memory", "fan.speed", "pcie.link.width.current", "pstate",
    )  # fmt: skip
    text = fixture("nvidia_smi_query_gpu_rtx2080_driver440_noheader_nounits.csv")
    [gpu] = hwinfo.parse_nvidia_smi_csv(text, fields)
    assert gpu["model"] == "GeForce RTX 2080"
    assert gpu["memory_bytes"] == 7979 * MIB
    assert gpu["uuid"] == "GPU-22b2c6ac-2d49-4863-197c-9c469071178a"
    assert gpu["driver_version"] == "440.64"
    assert (gpu["index"], gpu["compute_capability"], gpu["pci_bus_id"]) == (0, None, None)


def test_nvidia_smi_refusal_is_not_a_gpu() -> None:
    # What drivers before 510 print for compute_cap (huggingface/candle#733).
    assert hwinfo.parse_nvidia_smi_csv('Field "compute_cap" is not a valid field to query.') == []


@pytest.mark.parametrize("cell", ["[N/A]", "[Not Supported]", "N/A", "", "[Unknown Error]"])
def test_placeholder_cells_mean_no_value(cell: str) -> None:
    assert hwinfo._missing(cell)


# --- rocm-smi ------------------------------------------------------------------------------------


def test_rocm_smi_four_mi100() -> None:
    gpus = hwinfo.parse_rocm_smi_json(fixture("rocm_smi_mi100_rocm602.json"))
    assert [gpu["index"] for gpu in gpus] == [0, 1, 2, 3]
    assert {gpu["model"] for gpu in gpus} == {"Arcturus GL-XL [Instinct MI100]"}
    assert {gpu["memory_bytes"] for gpu in gpus} == {34342961152}
    assert [gpu["pci_bus_id"] for gpu in gpus] == [
        "0000:83:00.0", "0000:a3:00.0", "0000:c3:00.0", "0000:e3:00.0",
    ]  # fmt: skip
    assert gpus[0]["uuid"] == "0x79ccd55167a2124a"
    assert {gpu["driver_version"] for gpu in gpus} == {"6.3.6"}
    assert {(gpu["vendor"], gpu["source"]) for gpu in gpus} == {("amd", "rocm-smi")}
    assert all(set(gpu) == GPU_KEYS for gpu in gpus)


def test_rocm_smi_mi50_with_older_keys() -> None:
    [gpu] = hwinfo.parse_rocm_smi_json(fixture("rocm_smi_mi50_vega20_rocm5.json"))
    assert gpu["model"] == "Radeon Instinct MI50 32GB"
    assert gpu["memory_bytes"] == 34342961152
    assert gpu["pci_bus_id"] == "0000:63:00.0"
    assert gpu["driver_version"] == "5.9.17"


def test_rocm_smi_rx7900xt_with_rocm6_keys() -> None:
    [gpu] = hwinfo.parse_rocm_smi_json(fixture("rocm_smi_rx7900xt_rocm6.json"))
    assert gpu["model"] == "Radeon RX 7900 XT"
    assert gpu["memory_bytes"] == 21458059264
    assert gpu["compute_capability"] == "gfx1100"
    assert (gpu["pci_bus_id"], gpu["driver_version"]) == (None, None)


def test_rocm_smi_mi250x_product_name_only() -> None:
    [gpu] = hwinfo.parse_rocm_smi_json(fixture("rocm_smi_mi250x_productname.json"))
    assert gpu["model"] == "AMD INSTINCT MI200 (MCM) OAM LC MBA HPE C2"
    assert gpu["memory_bytes"] is None
    assert gpu["compute_capability"] == "gfx9010"


def test_rocm_smi_without_json_is_an_error() -> None:
    with pytest.raises(ValueError):
        hwinfo.parse_rocm_smi_json("")


# --- PCI -----------------------------------------------------------------------------------------


def test_scan_pci_of_the_kvm_guest_keeps_nothing() -> None:
    root = FIXTURES / "pci_devices_kvm"
    assert len(list(root.iterdir())) == 6  # a host bridge and five virtio functions
    assert hwinfo.scan_pci(str(root), pci_ids="") == []


def make_pci_tree(root: Path) -> Path:
    """A synthetic sysfs layout: the ids are real products, the directory tree is made up."""
    devices = {
        "0000:00:02.0": ("0x030000", "0x1234", "0x1111"),  # QEMU standard VGA
        "0000:00:03.0": ("0x020000", "0x1af4", "0x1041"),  # virtio network card
        "0000:17:00.0": ("0x030200", "0x10de", "0x2330"),  # NVIDIA H100 SXM5, 3D controller
        "0000:3b:00.0": ("0x120000", "0x10ee", "0x5000"),  # Xilinx Alveo U200
    }
    for slot, ids in devices.items():
        (root / slot).mkdir(parents=True)
        for name, value in zip(("class", "vendor", "device"), ids, strict=True):
            (root / slot / name).write_text(value + "\n")
    return root


def test_scan_pci_with_the_builtin_vendor_table(tmp_path: Path) -> None:
    found = hwinfo.scan_pci(str(make_pci_tree(tmp_path / "devices")), str(tmp_path / "none"))
    assert found == [
        {
            "kind": "display",
            "vendor": "QEMU",
            "vendor_id": "0x1234",
            "device": "Device 1111",
            "device_id": "0x1111",
            "pci_slot": "0000:00:02.0",
            "class_id": "0x030000",
        },
        {
            "kind": "gpu",
            "vendor": "NVIDIA Corporation",
            "vendor_id": "0x10de",
            "device": "Device 2330",
            "device_id": "0x2330",
            "pci_slot": "0000:17:00.0",
            "class_id": "0x030200",
        },
        {
            "kind": "fpga",
            "vendor": "Xilinx Corporation",
            "vendor_id": "0x10ee",
            "device": "Device 5000",
            "device_id": "0x5000",
            "pci_slot": "0000:3b:00.0",
            "class_id": "0x120000",
        },
    ]


def test_scan_pci_names_devices_from_pci_ids(tmp_path: Path) -> None:
    pci_ids = FIXTURES / "pci_ids_excerpt_2023.04.10.txt"
    found = hwinfo.scan_pci(str(make_pci_tree(tmp_path / "devices")), str(pci_ids))
    names = {entry["pci_slot"]: (entry["vendor"], entry["device"]) for entry in found}
    assert names == {
        "0000:00:02.0": ("QEMU", "Device 1111"),  # pci.ids no longer lists vendor 1234
        "0000:17:00.0": ("NVIDIA Corporation", "GH100[H100 SXM5 80GB]"),
        "0000:3b:00.0": ("Xilinx Corporation", "Alveo U200 XDMA Platform"),
    }


def test_gpus_come_from_pci_only_when_no_tool_answers(tmp_path: Path) -> None:
    accelerators = hwinfo.scan_pci(str(make_pci_tree(tmp_path / "devices")), "")
    [from_pci] = hwinfo._pick_gpus(None, None, accelerators)
    assert from_pci == {
        "index": 0,
        "vendor": "nvidia",
        "model": "Device 2330",
        "memory_bytes": None,
        "uuid": None,
        "driver_version": None,
        "pci_bus_id": "0000:17:00.0",
        "compute_capability": None,
        "source": "pci",
    }
    smi = hwinfo.parse_nvidia_smi_csv(fixture("nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv"))
    assert hwinfo._pick_gpus(smi, None, accelerators) == smi


# --- containers and schedulers -------------------------------------------------------------------


def container(**kwargs: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "environ": {}, "dockerenv": False, "containerenv": False, "cgroup": "", "mountinfo": "",
    }  # fmt: skip
    arguments.update(kwargs)
    return hwinfo.detect_container(**arguments)


def test_docker_from_cgroup_v1() -> None:
    found = container(cgroup=fixture("cgroup_v1_docker_moby_33352.txt"))
    assert found == {"in_container": True, "runtime": "docker"}


def test_kubernetes_from_cgroup_v1() -> None:
    found = container(cgroup=fixture("cgroup_v1_kubernetes_containerd_otel_4507.txt"))
    assert found == {"in_container": True, "runtime": "kubernetes"}


def test_docker_from_the_root_mount_under_cgroup_v2() -> None:
    found = container(mountinfo=fixture("mountinfo_docker_desktop_cgroup2.txt"))
    assert found == {"in_container": True, "runtime": "docker"}


def test_no_container_markers() -> None:
    assert container(cgroup=fixture("cgroup_v1_kvm_pid1.txt")) == {
        "in_container": False,
        "runtime": None,
    }


@pytest.mark.parametrize(
    ("kwargs", "runtime"),
    [
        ({"dockerenv": True}, "docker"),
        ({"containerenv": True}, "podman"),
        ({"environ": {"container": "podman"}}, "podman"),
        ({"environ": {"container": "lxc"}}, "lxc"),
        ({"environ": {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "dockerenv": True}, "kubernetes"),
    ],
)
def test_container_markers(kwargs: dict[str, Any], runtime: str) -> None:
    assert container(**kwargs) == {"in_container": True, "runtime": runtime}


def test_scheduler_env_keeps_job_and_device_variables_but_no_secrets() -> None:
    environ = {
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NAME": "train",
        "SLURM_JOB_NODELIST": "gpu[01-02]",
        "SLURM_CPUS_ON_NODE": "16",
        "SLURM_GPUS_ON_NODE": "4",
        "CUDA_VISIBLE_DEVICES": "0,1,2,3",
        "ROCR_VISIBLE_DEVICES": "0",
        "SLURM_AUTH_TOKEN": "hunter2",
        "SLURM_JOB_KEY": "hunter2",
        "PBS_PASSWORD": "hunter2",
        "KUBERNETES_CREDENTIALS": "hunter2",
        "AWS_SECRET_ACCESS_KEY": "hunter2",
        "HOME": "/home/user",
    }
    found = hwinfo.scheduler_env(environ)
    assert found["kind"] == "slurm"
    assert found["variables"] == {
        "CUDA_VISIBLE_DEVICES": "0,1,2,3",
        "ROCR_VISIBLE_DEVICES": "0",
        "SLURM_CPUS_ON_NODE": "16",
        "SLURM_GPUS_ON_NODE": "4",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NAME": "train",
        "SLURM_JOB_NODELIST": "gpu[01-02]",
    }
    assert "hunter2" not in json.dumps(found)


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        ({"PBS_JOBID": "17.server", "PBS_O_WORKDIR": "/scratch"}, "pbs"),
        ({"LSB_JOBID": "99", "LSB_HOSTS": "node1"}, "lsf"),
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, "kubernetes"),
        ({"HIP_VISIBLE_DEVICES": "1"}, None),
    ],
)
def test_scheduler_kind(environ: dict[str, str], kind: str | None) -> None:
    found = hwinfo.scheduler_env(environ)
    assert found == {"kind": kind, "variables": environ}


# --- external commands ---------------------------------------------------------------------------


def test_run_command_failures_are_short_notes() -> None:
    assert hwinfo.run_command(["no-such-tool-for-hwinfo"]) == (
        None,
        "no-such-tool-for-hwinfo: not installed",
    )
    out, why = hwinfo.run_command([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert (out, why) == (None, f"{sys.executable}: exit 3")
    out, why = hwinfo.run_command([sys.executable, "-c", "import time; time.sleep(5)"], 0.2)
    assert out is None and why.endswith("timed out after 0.2s")
    assert hwinfo.run_command([sys.executable, "-c", "print('ok')"]) == ("ok\n", "")


def test_nvidia_smi_retries_without_compute_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    refusal = 'nvidia-smi: exit 2: Field "compute_cap" is not a valid field to query.'
    answer = fixture("nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv")

    def fake_run(argv: list[str], timeout: float = 10.0) -> tuple[str | None, str]:
        calls.append(argv)
        return (None, refusal) if "compute_cap" in argv[1] else (answer, "")

    monkeypatch.setattr(hwinfo, "run_command", fake_run)
    errors: list[str] = []
    gpus = hwinfo._nvidia_smi(errors)
    assert [gpu["model"] for gpu in gpus or []] == ["NVIDIA H100 80GB HBM3"]
    assert errors == []
    assert calls[1][1] == "--query-gpu=index,name,uuid,memory.total,driver_version,pci.bus_id"


# --- the whole probe on this machine -------------------------------------------------------------


def test_collect_on_this_machine() -> None:
    found = hwinfo.collect()
    assert set(found) == TOP_KEYS
    json.dumps(found)
    assert found["probe_version"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", found["collected_at"])
    cpu = found["cpu"]
    assert set(cpu) == CPU_KEYS
    model_names = re.findall(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
    if model_names:
        assert cpu["model_name"] == model_names[0].strip()
    assert cpu["threads"] >= 1 and cpu["cores"] >= 1 and cpu["sockets"] >= 1
    assert 1 <= cpu["usable_threads"] <= cpu["threads"]
    assert cpu["arch"] == platform.machine()
    assert found["memory"]["total_bytes"] > 0
    assert set(found["memory"]) == {"total_bytes", "available_bytes"}
    assert all(set(gpu) == GPU_KEYS for gpu in found["gpus"])
    assert all(set(entry) == ACCELERATOR_KEYS for entry in found["accelerators"])
    assert set(found["kernel"]) == {"system", "release", "version", "machine"}
    assert found["kernel"]["system"] == platform.system()
    assert set(found["container"]) == {"in_container", "runtime"}
    assert found["python"]["version"] == platform.python_version()
    assert set(found["scheduler"]) == {"kind", "variables"}
    assert found["runtimes"][0] == "native"
    assert all(isinstance(error, str) for error in found["errors"])


def test_collect_survives_a_broken_system(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(path: str) -> str:
        raise PermissionError(13, "Permission denied", path)

    def no_sysfs(*args: Any) -> list[dict[str, Any]]:
        raise FileNotFoundError(2, "No such file or directory", hwinfo.PCI_DEVICES_ROOT)

    monkeypatch.setattr(hwinfo, "_read", unreadable)
    monkeypatch.setattr(hwinfo, "scan_pci", no_sysfs)
    monkeypatch.setattr(hwinfo, "run_command", lambda argv, timeout=10.0: (None, "x: gone"))
    found = hwinfo.collect()
    assert set(found) == TOP_KEYS
    assert set(found["cpu"]) == CPU_KEYS and found["cpu"]["threads"] >= 1
    assert found["memory"] == {"total_bytes": 0, "available_bytes": None}
    assert (found["gpus"], found["accelerators"], found["os_release"]) == ([], [], {})
    assert any(error.startswith("cpu: PermissionError") for error in found["errors"])
    assert any(error.startswith("pci: FileNotFoundError") for error in found["errors"])
    json.dumps(found)


def test_the_script_prints_json_with_only_the_standard_library() -> None:
    done = subprocess.run(
        [sys.executable, "-I", str(PROBE)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == TOP_KEYS
    imported = set()
    for node in ast.walk(ast.parse(PROBE.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= sys.stdlib_module_names | {"__future__"}
