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
    "compute_capability", "source", "mig_mode", "ecc_mode", "power_limit_watts", "mig", "given",
}  # fmt: skip
ACCELERATOR_KEYS = {"kind", "vendor", "vendor_id", "device", "device_id", "pci_slot", "class_id"}
TOP_KEYS = {
    "probe_version", "hostname", "collected_at", "cpu", "memory", "gpus", "accelerators",
    "os_release", "kernel", "container", "python", "scheduler", "runtimes", "errors",
    "runtime_checks", "limits", "cpu_topology", "hypervisor", "nvidia", "visible_gpus", "rocm",
    "disk",
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
            "mig_mode": "Disabled",
            "ecc_mode": "Enabled",
            "power_limit_watts": 700.0,
            "mig": None,
            "given": True,
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
    assert (gpu["power_limit_watts"], gpu["mig_mode"], gpu["ecc_mode"]) == (200.0, None, None)


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
        "mig_mode": None,
        "ecc_mode": None,
        "power_limit_watts": None,
        "mig": None,
        "given": True,
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
    assert calls[1][1] == (
        "--query-gpu=index,name,uuid,memory.total,driver_version,pci.bus_id,mig.mode.current,"
        "ecc.mode.current,power.limit"
    )


# --- the whole probe on this machine -------------------------------------------------------------


def test_collect_on_this_machine() -> None:
    found = hwinfo.collect()
    assert set(found) == TOP_KEYS
    json.dumps(found)
    assert found["probe_version"] == 2
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


# --- cgroups: the limits the run really had (trees under tests/fixtures/hwinfo/) --------------


def test_cgroup_v1_limits_of_this_machine() -> None:
    # This machine's own /proc/self/{cgroup,mountinfo} and the cgroup files they name.
    root = FIXTURES / "machine_kvm_amd_epyc_2026-12"
    limits = hwinfo.cgroup_limits(str(root))
    assert limits["version"] == 1
    memory_dir = "/sys/fs/cgroup/memory/process_api/101141f676373cb6b2577e4c65af80e8"
    assert limits["paths"]["memory"] == memory_dir
    assert limits["memory_max_bytes"] is None  # 9223372036854771712: no limit
    assert (limits["cpu_quota_us"], limits["cpu_limit"]) == (None, None)  # cfs_quota_us -1
    assert (limits["cpuset_cpus"], limits["cpuset_cpu_count"]) == ("0-1", 2)


def test_cgroup_v1_docker_memory_limit() -> None:
    limits = hwinfo.cgroup_limits(str(FIXTURES / "cgroup_v1_docker_memory_moby_12394"))
    assert (limits["version"], limits["memory_max_bytes"]) == (1, 4294967296)


def test_cgroup_v1_paths_of_a_docker_container() -> None:
    # /proc/<pid>/cgroup of a docker container: each v1 controller's path is the container's.
    paths = hwinfo.parse_proc_cgroup(fixture("cgroup_v1_docker_moby_33352.txt"))
    assert paths["v2"] is None
    assert paths["v1"]["memory"].startswith("/docker/") and "cpuset" in paths["v1"]


def test_cgroup_v2_podman_cpu_and_memory() -> None:
    limits = hwinfo.cgroup_limits(str(FIXTURES / "cgroup_v2_podman_runc_2243"))
    assert limits["version"] == 2
    assert limits["memory_max_bytes"] == 44040192  # podman --memory 42m
    assert (limits["cpu_quota_us"], limits["cpu_period_us"], limits["cpu_limit"]) == (
        42000,
        100000,
        0.42,
    )


def test_cgroup_v2_cpuset() -> None:
    limits = hwinfo.cgroup_limits(str(FIXTURES / "cgroup_v2_podman_cpuset_sclorg_202"))
    assert (limits["cpuset_cpus"], limits["cpuset_cpu_count"]) == ("1-3", 3)


def test_cgroup_v2_slurm_limit_is_on_a_parent_of_the_task() -> None:
    limits = hwinfo.cgroup_limits(str(FIXTURES / "cgroup_v2_slurm_step_enroot_169"))
    assert limits["paths"]["unified"].endswith("/job_4749/step_0/user/task_0")
    assert limits["memory_max_bytes"] == 4194304000  # the task's own memory.max is "max"


def test_cgroup_mounts_under_a_container_root() -> None:
    # A v1 mount whose root is the container's cgroup: the path is taken relative to it.
    mounts = hwinfo.parse_cgroup_mounts(
        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory"
    )
    assert hwinfo._cgroup_dir("/docker/abc", mounts[0]) == "/sys/fs/cgroup/memory"
    docker = hwinfo.parse_cgroup_mounts(fixture("mountinfo_docker_desktop_cgroup2.txt"))
    assert all(m["version"] in (1, 2) for m in docker)


def test_no_cgroup_files_means_no_limits(tmp_path: Path) -> None:
    limits = hwinfo.cgroup_limits(str(tmp_path))
    assert limits["version"] is None and limits["memory_max_bytes"] is None


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]), ("0", [0]), ("", []), ("x", [])],
)
def test_cpu_lists(text: str, cpus: list[int]) -> None:
    assert hwinfo.parse_cpu_list(text) == cpus


# --- caches, NUMA, threads per core, hypervisor --------------------------------------------------


def test_caches_numa_and_threads_of_this_machine() -> None:
    root = str(FIXTURES / "machine_kvm_amd_epyc_2026-12")
    caches = hwinfo.cpu_caches(root)
    assert [(c["name"], c["size_bytes"], c["shared_cpu_list"]) for c in caches] == [
        ("l1d", 32 * 1024, "0"),
        ("l1i", 32 * 1024, "0"),
        ("l2", 1024 * 1024, "0"),
        ("l3", 32 * 1024 * 1024, "0-1"),
    ]
    assert caches[3]["ways"] == 16 and caches[0]["line_bytes"] == 64
    [node] = hwinfo.numa_nodes(root)
    assert (node["node"], node["cpus"], node["cpu_count"]) == (0, "0-1", 2)
    assert node["memory_total_bytes"] == 7300840 * 1024
    assert hwinfo.threads_per_core(root) == 1


def test_threads_per_core_from_cpuinfo_when_sysfs_is_missing(tmp_path: Path) -> None:
    # The KVM Xeon's cpuinfo says siblings 2, cpu cores 2.
    assert hwinfo.threads_per_core(str(tmp_path), fixture("cpuinfo_x86_64_kvm.txt")) == 1
    assert hwinfo.threads_per_core(str(tmp_path), "") is None


def test_hypervisor_of_this_machine() -> None:
    root = FIXTURES / "machine_kvm_amd_epyc_2026-12"
    flags = hwinfo.parse_cpuinfo((root / "proc" / "cpuinfo").read_text())["flags"]
    found = hwinfo.detect_hypervisor(str(root), flags)
    # A KVM guest without DMI tables: the cpu flag says there is one, nothing says which.
    assert found == {
        "detected": True, "name": None, "cpu_flag": True, "sys_vendor": None,
        "product_name": None, "xen_type": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("vendor", "product", "name"),
    [
        ("QEMU", "Standard PC (Q35 + ICH9, 2009)", "kvm"),
        ("Amazon EC2", "c5.large", "kvm"),
        ("Microsoft Corporation", "Virtual Machine", "hyperv"),
        ("VMware, Inc.", "VMware Virtual Platform", "vmware"),
        ("Dell Inc.", "PowerEdge R750", None),
    ],
)
def test_hypervisor_from_dmi(tmp_path: Path, vendor: str, product: str, name: str | None) -> None:
    # The DMI strings are the ones these platforms publish; the directory is made up here.
    dmi = tmp_path / "sys" / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text(vendor + "\n")
    (dmi / "product_name").write_text(product + "\n")
    found = hwinfo.detect_hypervisor(str(tmp_path), [])
    assert (found["name"], found["detected"]) == (name, name is not None)


# --- NVIDIA: CUDA version, MIG, the devices a run was given ------------------------------------


def test_cuda_and_driver_version_from_nvidia_smi_q() -> None:
    found = hwinfo.parse_nvidia_smi_q(fixture("nvidia_smi_q_rtx4070_laptop_566.36_head.txt"))
    assert found == {"driver_version": "566.36", "cuda_version": "12.7"}


def test_nvidia_smi_list_with_seven_mig_slices() -> None:
    [gpu] = hwinfo.parse_nvidia_smi_list(
        fixture("nvidia_smi_L_a100_80gb_mig_7x1g10gb_datadog_33120.txt")
    )
    assert (gpu["index"], gpu["name"]) == (0, "NVIDIA A100-SXM4-80GB")
    assert gpu["uuid"] == "GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16"
    assert [d["index"] for d in gpu["mig_devices"]] == list(range(7))
    assert {d["profile"] for d in gpu["mig_devices"]} == {"1g.10gb"}
    assert gpu["mig_devices"][6]["uuid"] == "MIG-1aae4990-b962-574e-8375-119d6d9b9687"


def test_mig_profiles_and_instances() -> None:
    profiles = hwinfo.parse_nvidia_mig_profiles(
        fixture("nvidia_smi_mig_lgip_a100_80gb_tutorial.txt")
    )
    assert [(p["profile"], p["id"]) for p in profiles] == [
        ("1g.10gb", 19), ("1g.10gb+me", 20), ("2g.20gb", 14), ("3g.40gb", 9), ("4g.40gb", 5),
        ("7g.80gb", 0),
    ]  # fmt: skip
    assert profiles[0]["memory_bytes"] == 9728 * MIB  # 9.50 GiB
    a30 = hwinfo.parse_nvidia_mig_profiles(fixture("nvidia_smi_mig_lgip_a30_summer_lo.txt"))
    assert {p["profile"]: p["memory_bytes"] for p in a30} == {
        "1g.6gb": 5949 * MIB, "1g.6gb+me": 5949 * MIB, "2g.12gb": 11971 * MIB,
        "4g.24gb": 24064 * MIB,
    }  # fmt: skip
    gh200 = hwinfo.parse_nvidia_mig_profiles(
        fixture("nvidia_smi_mig_lgip_gh200_mig_parted_139.txt")
    )
    assert [(p["profile"], p["memory_bytes"]) for p in gh200][0] == ("1g.18gb", 17920 * MIB)
    instances = hwinfo.parse_nvidia_mig_instances(fixture("nvidia_smi_mig_lgi_a30_summer_lo.txt"))
    assert [(i["instance_id"], i["placement"]) for i in instances] == [
        (3, "0:1"), (4, "1:1"), (5, "2:1"), (6, "3:1"),
    ]  # fmt: skip
    assert {(i["gpu"], i["profile"], i["profile_id"]) for i in instances} == {(0, "1g.6gb", 14)}
    a100 = hwinfo.parse_nvidia_mig_instances(fixture("nvidia_smi_mig_lgi_a100_40gb_mps_test.txt"))
    assert [(i["profile"], i["instance_id"], i["placement"]) for i in a100] == [
        ("3g.20gb", 1, "4:4"), ("3g.20gb", 2, "0:4"),
    ]  # fmt: skip


def a100_query(mig_modes: list[str], uuids: list[str]) -> list[dict[str, Any]]:
    """Query rows shaped like nvidia-smi's for the cards `nvidia-smi -L` lists (the -L files are
    captured; the CSV rows here are built from them, with the A100 80GB's 81920 MiB)."""
    fields = ("index", "name", "uuid", "memory.total", "mig.mode.current")
    rows = [
        f"{i}, NVIDIA A100-SXM4-80GB, {uuid}, 81920, {mode}"
        for i, (uuid, mode) in enumerate(zip(uuids, mig_modes, strict=True))
    ]
    return hwinfo.parse_nvidia_smi_csv("\n".join(rows), fields)


def test_a_mig_slice_is_never_the_whole_80gb_card() -> None:
    listing = hwinfo.parse_nvidia_smi_list(
        fixture("nvidia_smi_L_a100_80gb_mig_7x1g10gb_datadog_33120.txt")
    )
    profiles = hwinfo.parse_nvidia_mig_profiles(
        fixture("nvidia_smi_mig_lgip_a100_80gb_tutorial.txt")
    )
    gpus = hwinfo.apply_mig(a100_query(["Enabled"], [listing[0]["uuid"]]), listing, profiles)
    assert len(gpus) == 7
    assert {g["memory_bytes"] for g in gpus} == {9728 * MIB}
    assert {g["model"] for g in gpus} == {"NVIDIA A100-SXM4-80GB MIG 1g.10gb"}
    assert gpus[0]["uuid"] == "MIG-feb88891-0321-5fef-9c87-d4af3b54259e"
    assert gpus[0]["mig"] == {
        "parent_uuid": "GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16", "parent_index": 0,
        "device_index": 0, "profile": "1g.10gb", "memory_source": "nvidia-smi mig -lgip",
    }  # fmt: skip
    assert all(set(g) == GPU_KEYS for g in gpus)
    # Without -lgip (not readable as this user), the profile's name gives the size, still not 80GB.
    named = hwinfo.apply_mig(a100_query(["Enabled"], [listing[0]["uuid"]]), listing, [])
    assert {g["memory_bytes"] for g in named} == {10 * 10**9}
    assert {g["mig"]["memory_source"] for g in named} == {"profile name"}


def test_mixed_mig_node_and_what_placement_sees() -> None:
    from shared import hardware

    listing = hwinfo.parse_nvidia_smi_list(
        fixture("nvidia_smi_L_a100_80gb_mixed_mig_telegraf_5812.txt")
    )
    query = a100_query(
        ["Enabled", "Disabled", "Disabled", "Disabled"], [g["uuid"] for g in listing]
    )
    gpus = hwinfo.apply_mig(query, listing)
    assert [g["model"] for g in gpus] == ["NVIDIA A100-SXM4-80GB MIG 1g.20gb"] * 4 + [
        "NVIDIA A100-SXM4-80GB"
    ] * 3  # fmt: skip
    node = hardware.node_from_hwinfo({"gpus": gpus}, name="n", testbed="t")
    sizes = sorted((a.model, a.memory_bytes, a.count) for a in node.accelerators)
    assert sizes == [
        ("NVIDIA A100-SXM4-80GB", 81920 * MIB, 3),
        ("NVIDIA A100-SXM4-80GB MIG 1g.20gb", 20 * 10**9, 4),
    ]


def test_a_mig_card_without_devices_offers_none() -> None:
    gpus = a100_query(["Enabled"], ["GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16"])
    assert hwinfo.apply_mig(gpus, [], []) == []


def test_visible_devices_resolve_to_uuids() -> None:
    listing = hwinfo.parse_nvidia_smi_list(
        fixture("nvidia_smi_L_a100_80gb_mixed_mig_telegraf_5812.txt")
    )
    query = a100_query(
        ["Enabled", "Disabled", "Disabled", "Disabled"], [g["uuid"] for g in listing]
    )
    gpus = hwinfo.apply_mig(query, listing)
    environ = {
        "CUDA_VISIBLE_DEVICES": "MIG-a45882f0-9215-5733-a0c1-49286ab31cb5,2,GPU-69ec2344,7,1",
        "NVIDIA_VISIBLE_DEVICES": "GPU-513536b6-7d19-9063-b049-1e69664bb298",
    }
    found = hwinfo.resolve_visible_devices(environ, gpus)
    assert found["CUDA_VISIBLE_DEVICES"] == {
        "value": environ["CUDA_VISIBLE_DEVICES"],
        "uuids": [
            "MIG-a45882f0-9215-5733-a0c1-49286ab31cb5",
            "GPU-5e375e7e-b41f-155b-dcdc-534524c356fc",
            "GPU-69ec2344-ebac-b028-f88f-452abb3d7f11",
        ],
        "unresolved": ["7", "1"],  # CUDA stops at the first it cannot find
    }
    # The whole MIG card handed to a container: its four MIG devices.
    assert [u[:12] for u in found["NVIDIA_VISIBLE_DEVICES"]["uuids"]] == [
        "MIG-ce861fb0", "MIG-a45882f0", "MIG-f00d722c", "MIG-930574a9",
    ]  # fmt: skip
    hwinfo.mark_given(gpus, found)
    assert [g["given"] for g in gpus] == [False, True, False, False, False, True, True]
    everything = hwinfo.resolve_visible_devices({"NVIDIA_VISIBLE_DEVICES": "all"}, gpus)
    assert len(everything["NVIDIA_VISIBLE_DEVICES"]["uuids"]) == 7
    assert (
        hwinfo.resolve_visible_devices({"CUDA_VISIBLE_DEVICES": "none"}, gpus)[
            "CUDA_VISIBLE_DEVICES"
        ]["uuids"]
        == []
    )
    assert hwinfo.resolve_visible_devices({}, gpus) == {}


def test_nvidia_details_runs_the_mig_listings_only_on_mig_cards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = {
        "-q": fixture("nvidia_smi_q_rtx4070_laptop_566.36_head.txt"),
        "-L": fixture("nvidia_smi_L_a100_80gb_mig_7x1g10gb_datadog_33120.txt"),
        "-lgip": fixture("nvidia_smi_mig_lgip_a100_80gb_tutorial.txt"),
        "-lgi": None,
    }
    calls: list[list[str]] = []

    def fake_run(argv: list[str], timeout: float = 10.0) -> tuple[str | None, str]:
        calls.append(argv)
        key = next(a for a in argv if a in answers)
        out = answers[key]
        return (
            (out, "") if out is not None else (None, "nvidia-smi: exit 4: Insufficient Permissions")
        )

    monkeypatch.setattr(hwinfo, "run_command", fake_run)
    errors: list[str] = []
    query = a100_query(["Enabled"], ["GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16"])
    gpus, info = hwinfo._nvidia_details(query, errors)
    assert info["cuda_version"] == "12.7" and len(info["mig"]["devices"]) == 7
    assert info["mig"]["gpu_instances"] == [] and errors == [
        "nvidia-smi: exit 4: Insufficient Permissions"
    ]
    assert {g["memory_bytes"] for g in gpus} == {9728 * MIB}
    calls.clear()
    plain = a100_query(["Disabled"], ["GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16"])
    answers["-L"] = (
        "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16)\n"
    )
    gpus, info = hwinfo._nvidia_details(plain, [])
    assert [c[1] for c in calls] == ["-q", "-L"] and info["mig"] is None and gpus == plain


# --- AMD ROCm, FPGAs ---------------------------------------------------------------------------


def test_rocm_version_from_amd_smi() -> None:
    assert hwinfo.parse_amd_smi_version(fixture("amd_smi_version_mi300x_aks.txt")) == "6.4.0"
    assert hwinfo.parse_amd_smi_version("") is None


def test_rocm_version_file(tmp_path: Path) -> None:
    assert hwinfo.rocm_version(str(tmp_path)) is None
    # The file's layout is ROCm's; its content here is the release amd-smi reported above.
    info = tmp_path / "opt" / "rocm-6.4.0" / ".info"
    info.mkdir(parents=True)
    (info / "version").write_text("6.4.0-47\n")
    assert hwinfo.rocm_version(str(tmp_path)) == "6.4.0-47"


def test_alveo_memory_controller_class_is_an_fpga(tmp_path: Path) -> None:
    # Alveo shells show up as "Memory controller" (class 0580) with Xilinx's vendor id; the ids
    # are real (lspci output of an Alveo management function), the tree is made up here.
    slot = tmp_path / "0000:0b:00.0"
    slot.mkdir()
    for name, value in (("class", "0x058000"), ("vendor", "0x10ee"), ("device", "0x5048")):
        (slot / name).write_text(value + "\n")
    other = tmp_path / "0000:0c:00.0"  # a memory controller of another vendor is not one
    other.mkdir()
    for name, value in (("class", "0x058000"), ("vendor", "0x8086"), ("device", "0x2021")):
        (other / name).write_text(value + "\n")
    [found] = hwinfo.scan_pci(str(tmp_path), "")
    assert (found["kind"], found["vendor"], found["pci_slot"]) == (
        "fpga", "Xilinx Corporation", "0000:0b:00.0",
    )  # fmt: skip


# --- container runtimes ------------------------------------------------------------------------


def test_docker_without_a_daemon_is_not_listed() -> None:
    # What `docker version --format {{.Server.Version}}` printed on this machine (no daemon).
    said = fixture("docker_version_format_no_daemon.txt").splitlines()

    def fake_run(argv: list[str], timeout: float = 10.0) -> tuple[str | None, str]:
        assert timeout <= 5
        if argv[0] == "docker":
            return None, "docker: exit 1: " + said[1]
        if argv[0] == "apptainer":
            return "apptainer version 1.3.4\n", ""
        return None, f"{argv[0]}: not installed"

    listed, checks = hwinfo.check_runtimes(fake_run)
    assert listed == ["apptainer"]
    assert checks == {
        "apptainer": "ok: apptainer version 1.3.4",
        "docker": "docker: exit 1: Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?",
    }


def test_docker_with_a_daemon_is_listed() -> None:
    def fake_run(argv: list[str], timeout: float = 10.0) -> tuple[str | None, str]:
        return ("27.3.1\n", "") if argv[0] == "docker" else (None, f"{argv[0]}: not installed")

    assert hwinfo.check_runtimes(fake_run) == (["docker"], {"docker": "ok: 27.3.1"})


def test_disk_is_the_file_system_the_probe_runs_in(tmp_path: Path) -> None:
    found = hwinfo.disk_space(str(tmp_path))
    assert found["path"] == str(tmp_path)
    assert 0 < found["free_bytes"] <= found["total_bytes"]
    from shared import hardware

    node = hardware.node_from_hwinfo({"disk": found}, name="n", testbed="t")
    assert node.disk_bytes == found["free_bytes"]
    assert not hardware.match(hardware.parse_spec({"disk": "1GB.."}), node)


def test_a_runs_probe_leaves_the_runtime_checks_to_discovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`hwinfo.py --run` (the runner's probe) does not run podman/buildah/docker checks."""
    asked: list[object] = []
    monkeypatch.setattr(hwinfo, "_checked_runtimes", lambda: asked.append(1) or (["native"], {}))
    data = hwinfo.collect(runtimes=False)
    assert asked == [] and data["runtimes"] == ["native"]
    assert "not checked" in data["runtime_checks"]["all"]
    hwinfo.collect()
    assert asked == [1]
