"""Describe the hardware of the node a run landed on, as one JSON document.

Standard library only and Python 3.6+: the file is copied onto remote nodes and run there as
``python3 hwinfo.py``, and it is importable as ``shared.hwinfo``. The parsers take text so they
can be tested on captured outputs; the collectors read the live system. :func:`collect` never
raises: a section that fails keeps its defaults and leaves a note in ``errors``.

One file, longer than the others, on purpose: it travels to nodes (and into pods) alone.
"""

import glob
import json
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

PROBE_VERSION = 2
COMMAND_TIMEOUT_S = 10.0
PCI_DEVICES_ROOT = "/sys/bus/pci/devices"
PCI_IDS_PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids")
NVIDIA_FIELDS = (
    "index", "name", "uuid", "memory.total", "driver_version", "pci.bus_id", "compute_cap",
    "mig.mode.current", "ecc.mode.current", "power.limit",
)  # fmt: skip
NVIDIA_FORMAT = ("--format=csv,noheader,nounits",)
NVIDIA_ALIASES = {"gpu_name": "name", "gpu_uuid": "uuid", "gpu_bus_id": "pci.bus_id"}
ROCM_SMI_ARGS = ("--showproductname", "--showmeminfo", "vram", "--showbus", "--json")
CONTAINER_TOOLS = ("podman", "buildah", "apptainer", "singularity", "enroot", "docker")
# How each runtime shows it works here: a daemon that answers, storage that opens, or (for the
# daemonless ones that need neither) a version that prints. One short command per tool.
RUNTIME_CHECKS = (
    ("podman", ("podman", "info", "--format", "{{.Host.OCIRuntime.Name}}")),
    ("buildah", ("buildah", "info")),
    ("apptainer", ("apptainer", "--version")),
    ("singularity", ("singularity", "--version")),
    ("enroot", ("enroot", "version")),
    ("docker", ("docker", "version", "--format", "{{.Server.Version}}")),
)  # fmt: skip
RUNTIME_TIMEOUT_S = 5.0
CGROUP_ROOT = "/sys/fs/cgroup"
# cgroup v1 prints PAGE_COUNTER_MAX rounded to pages for "no limit"; anything this big is none.
CGROUP_V1_UNLIMITED = 1 << 62
CACHE_NAMES = {(1, "data"): "l1d", (1, "instruction"): "l1i", (2, "unified"): "l2",
               (3, "unified"): "l3", (4, "unified"): "l4"}  # fmt: skip
# DMI vendor or product strings of virtual machines, lowercased, and the hypervisor they name.
HYPERVISORS = (
    ("kvm", "kvm"), ("qemu", "kvm"), ("openstack", "kvm"), ("amazon ec2", "kvm"),
    ("google compute engine", "kvm"), ("vmware", "vmware"), ("virtualbox", "virtualbox"),
    ("innotek", "virtualbox"), ("xen", "xen"), ("bochs", "bochs"), ("parallels", "parallels"),
    ("bhyve", "bhyve"), ("cloud hypervisor", "cloud-hypervisor"), ("firecracker", "firecracker"),
)  # fmt: skip
ROCM_VERSION_FILES = ("/opt/rocm/.info/version", "/opt/rocm/.info/version-dev")

# The implementer byte of MIDR_EL1, as /proc/cpuinfo prints it on aarch64.
ARM_IMPLEMENTERS = {
    0x41: "ARM", 0x42: "Broadcom", 0x43: "Cavium", 0x46: "Fujitsu", 0x48: "HiSilicon",
    0x4E: "NVIDIA", 0x50: "APM", 0x51: "Qualcomm", 0x53: "Samsung", 0x61: "Apple",
    0x6D: "Microsoft", 0xC0: "Ampere",
}  # fmt: skip
# aarch64 cpuinfo has no model name; these are the names lscpu gives the common server cores.
ARM_PARTS = {
    (0x41, 0xD03): "Cortex-A53", (0x41, 0xD07): "Cortex-A57", (0x41, 0xD08): "Cortex-A72",
    (0x41, 0xD0C): "Neoverse-N1", (0x41, 0xD40): "Neoverse-V1", (0x41, 0xD49): "Neoverse-N2",
    (0x41, 0xD4F): "Neoverse-V2", (0x41, 0xD84): "Neoverse-V3", (0x41, 0xD8E): "Neoverse-N3",
    (0x43, 0x0A1): "ThunderX 88XX", (0x43, 0x0AF): "ThunderX2 99xx", (0x46, 0x001): "A64FX",
    (0x48, 0xD01): "Kunpeng-920", (0xC0, 0xAC3): "Ampere-1", (0xC0, 0xAC4): "Ampere-1a",
}  # fmt: skip

# Used only when no pci.ids file is installed, which is common in minimal images.
PCI_VENDORS = {
    "0x10de": "NVIDIA Corporation", "0x1002": "Advanced Micro Devices, Inc. [AMD/ATI]",
    "0x1022": "Advanced Micro Devices, Inc. [AMD]", "0x8086": "Intel Corporation",
    "0x10ee": "Xilinx Corporation", "0x1172": "Altera Corporation",
    "0x1d0f": "Amazon.com, Inc.", "0x1e52": "Tenstorrent Inc", "0x1da3": "Habana Labs Ltd.",
    "0x1ae0": "Google, Inc.", "0x19e5": "Huawei Technologies Co., Ltd.",
    "0x1234": "QEMU", "0x1013": "Cirrus Logic", "0x15ad": "VMware",
    "0x1a03": "ASPEED Technology, Inc.", "0x102b": "Matrox Electronics Systems Ltd.",
    "0x1af4": "Red Hat, Inc.", "0x1b36": "Red Hat, Inc.", "0x1414": "Microsoft Corporation",
}  # fmt: skip
GPU_VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x8086": "intel"}
FPGA_VENDORS = frozenset({"0x10ee", "0x1172"})
# Xilinx/AMD Alveo cards (XDMA, QDMA shells) present themselves as "memory controller, other".
FPGA_CLASSES = frozenset({(0x05, 0x80)})
# Intel FPGA programmable acceleration cards (Arria 10, D5005, N3000) and their VFs.
FPGA_DEVICES = frozenset({
    ("0x8086", "0x09c4"), ("0x8086", "0x09c5"), ("0x8086", "0x0b2b"),
    ("0x8086", "0x0b2c"), ("0x8086", "0x0b30"), ("0x8086", "0x0b31"),
})  # fmt: skip
# Emulated, virtual and BMC display adapters drive a console, never a computation.
DISPLAY_ONLY_VENDORS = frozenset(
    {"0x1234", "0x1013", "0x15ad", "0x1a03", "0x102b", "0x1af4", "0x1b36", "0x1414"}
)
PCI_ID_FILES = ("class", "vendor", "device")
# What an engine bind-mounts into every container; a host's own mounts of these say nothing.
ENGINE_MOUNTS = ("/", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/termination-log")

UNAME_KEYS = ("system", "release", "version", "machine")
PYTHON_KEYS = ("version", "implementation", "executable")

SCHEDULERS = (
    ("SLURM_JOB_ID", "slurm"), ("PBS_JOBID", "pbs"), ("LSB_JOBID", "lsf"),
    ("KUBERNETES_SERVICE_HOST", "kubernetes"),
)  # fmt: skip
SCHEDULER_PREFIXES = ("SLURM_", "PBS_", "LSB_", "KUBERNETES_")
DEVICE_VARIABLES = frozenset({
    "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "ZE_AFFINITY_MASK",
})  # fmt: skip
SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL")

T = TypeVar("T")


def _int(value: "str | None", base: "int" = 10) -> "int | None":
    """Parse an integer, or None when the text is not one."""
    try:
        return int(value.strip(), base) if value is not None else None
    except ValueError:
        return None


def _float(value: "str | None") -> "float | None":
    """Parse a decimal number, or None when the text is not one."""
    try:
        return float(value.strip()) if value is not None and value.strip() else None
    except ValueError:
        return None


def _read(path: "str") -> "str":
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _read_or_empty(path: "str") -> "str":
    try:
        return _read(path)
    except OSError:
        return ""


def _blocks(text: "str") -> "list[dict[str, str]]":
    """Split ``key : value`` text into its blank-line separated blocks, keys lowercased."""
    blocks: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not line.strip():
            blocks.append({})
        elif sep:
            blocks[-1][key.strip().lower()] = value.strip()
    return [block for block in blocks if block]


def parse_cpuinfo(text: "str") -> "dict[str, Any]":
    """Summarise /proc/cpuinfo (x86 or aarch64); ``threads`` is 0 when no processor is listed.

    aarch64 has no x86 family/model/stepping, so those carry the CPU architecture, part and
    revision there, and the model name is the part's name.
    """
    processors = [block for block in _blocks(text) if _int(block.get("processor")) is not None]
    first = processors[0] if processors else {}
    info: dict[str, Any] = {
        "vendor": first.get("vendor_id", ""),
        "model_name": first.get("model name", ""),
        "family": _int(first.get("cpu family")),
        "model": _int(first.get("model")),
        "stepping": _int(first.get("stepping")),
        "flags": sorted({f.lower() for f in first.get("flags", first.get("features", "")).split()}),
        "threads": len(processors),
    }
    implementer = _int(first.get("cpu implementer"), 16)
    if implementer is not None:
        part = _int(first.get("cpu part"), 16)
        info["vendor"] = ARM_IMPLEMENTERS.get(implementer, first["cpu implementer"])
        info["family"] = _int(first.get("cpu architecture"))
        info["model"] = part
        info["stepping"] = _int(first.get("cpu revision"))
        fallback = f"{info['vendor']} part {first.get('cpu part', '?')}"
        info["model_name"] = info["model_name"] or ARM_PARTS.get(
            (implementer, part or -1), fallback
        )
    cores_per_socket: dict[str, int | None] = {}
    for block in processors:
        cores_per_socket.setdefault(block.get("physical id", "0"), _int(block.get("cpu cores")))
    counts = list(cores_per_socket.values())
    info["sockets"] = len(counts) or 1
    known = [count for count in counts if count is not None]
    info["cores"] = sum(known) if counts and len(known) == len(counts) else len(processors)
    return info


def parse_meminfo(text: "str") -> "dict[str, Any]":
    """Read MemTotal and MemAvailable (None on kernels before 3.14) in bytes."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        number = _int(fields[0]) if fields else None
        if number is not None:
            unit = fields[1].lower() if len(fields) > 1 else ""
            values[key.strip()] = number * 1024 if unit == "kb" else number
    return {"total_bytes": values.get("MemTotal", 0), "available_bytes": values.get("MemAvailable")}


def parse_os_release(text: "str") -> "dict[str, str]":
    """Parse os-release(5): keys lowercased, shell quoting removed."""
    release: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key or key.startswith("#"):
            continue
        try:
            release[key.strip().lower()] = " ".join(shlex.split(value))
        except ValueError:  # unbalanced quotes: keep what is there
            release[key.strip().lower()] = value.strip().strip("\"'")
    return release


def _missing(value: "str") -> "bool":
    """Whether an smi tool's cell means "no value" ([N/A], [Not Supported], N/A, empty)."""
    value = value.strip()
    return not value or value.upper() == "N/A" or (value.startswith("[") and value.endswith("]"))


def _normalise_bus_id(bus_id: "str | None") -> "str | None":
    """Write a PCI address the way sysfs does: ``00000000:17:00.0`` becomes ``0000:17:00.0``."""
    if bus_id is None or _missing(bus_id):
        return None
    head, _, function = bus_id.strip().lower().rpartition(":")
    domain, sep, bus = head.rpartition(":")
    return f"{domain[-4:].rjust(4, '0')}:{bus}:{function}" if sep else bus_id.strip().lower()


GPU_OPTIONAL_KEYS = (
    "memory_bytes", "uuid", "driver_version", "pci_bus_id", "compute_capability", "mig_mode",
    "ecc_mode", "power_limit_watts", "mig",
)  # fmt: skip


def _gpu(
    index: "int", vendor: "str", model: "str", source: "str", **known: "Any"
) -> "dict[str, Any]":
    """A ``gpus`` entry with every key present."""
    entry: dict[str, Any] = dict.fromkeys(GPU_OPTIONAL_KEYS)
    entry.update(index=index, vendor=vendor, model=model, source=source, given=True, **known)
    return entry


def parse_nvidia_smi_csv(
    text: "str", fields: "tuple[str, ...]" = NVIDIA_FIELDS
) -> "list[dict[str, Any]]":
    """Parse ``nvidia-smi --query-gpu=... --format=csv`` output into ``gpus`` entries.

    ``fields`` names the columns of header-less output; a header line, when there is one, names
    them instead. Units (``81559 MiB``) and ``[N/A]``-style cells are accepted.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    columns = list(fields)
    if lines:
        first = [cell.split(" [")[0].strip() for cell in lines[0].split(",")]
        if not first[0].isdigit() and any(c in NVIDIA_FIELDS or c in NVIDIA_ALIASES for c in first):
            columns, lines = first, lines[1:]
    columns = [NVIDIA_ALIASES.get(column, column) for column in columns]
    gpus: list[dict[str, Any]] = []
    for position, line in enumerate(lines):
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(columns):
            continue  # a warning or an error message, not a row
        row = {columns[i]: None if _missing(cell) else cell for i, cell in enumerate(cells)}
        index = _int(row.get("index"))
        mebibytes = _int((row.get("memory.total") or "").split(" ")[0])
        gpus.append(
            _gpu(
                position if index is None else index,
                "nvidia",
                row.get("name") or "",
                "nvidia-smi",
                memory_bytes=None if mebibytes is None else mebibytes * 1024 * 1024,
                uuid=row.get("uuid"),
                driver_version=row.get("driver_version"),
                pci_bus_id=_normalise_bus_id(row.get("pci.bus_id")),
                compute_capability=row.get("compute_cap"),
                mig_mode=row.get("mig.mode.current"),
                ecc_mode=row.get("ecc.mode.current"),
                power_limit_watts=_float((row.get("power.limit") or "").split(" ")[0]),
            )
        )
    return gpus


def _first_value(card: "Mapping[str, Any]", keys: "tuple[str, ...]") -> "str | None":
    """The first real value among ``keys``, which are matched case-insensitively."""
    lowered = {str(key).strip().lower(): value for key, value in card.items()}
    for key in keys:
        value = lowered.get(key)
        if isinstance(value, (str, int)) and not _missing(str(value)):
            return str(value).strip()
    return None


def parse_rocm_smi_json(text: "str") -> "list[dict[str, Any]]":
    """Parse ``rocm-smi ... --json`` output into ``gpus`` entries; keys vary by ROCm version.

    Raises ValueError when the text holds no JSON object.
    """
    start = text.find("{")  # rocm-smi may print warnings ahead of the document
    data = json.JSONDecoder().raw_decode(text[start:])[0] if start >= 0 else None
    if not isinstance(data, dict):
        raise ValueError("no JSON object in rocm-smi output")
    system = data.get("system")
    driver = _first_value(system, ("driver version",)) if isinstance(system, dict) else None
    cards: list[tuple[int, dict[str, Any]]] = []
    for key, card in data.items():
        number = _int(str(key)[4:]) if str(key).lower().startswith("card") else None
        if number is not None and isinstance(card, dict):
            cards.append((number, card))
    gpus: list[dict[str, Any]] = []
    for number, card in sorted(cards, key=lambda pair: pair[0]):
        # Card Series is the marketing name; older releases print bare ids in the model fields.
        names = (
            _first_value(card, ("card series",)),
            _first_value(card, ("device name", "marketing name")),
            _first_value(card, ("card model",)),
        )
        device_id = _first_value(card, ("device id", "gpu id")) or "?"
        model = next((n for n in names if n and not n.lower().startswith("0x")), None)
        gpus.append(
            _gpu(
                number,
                "amd",
                model or f"Device {device_id}",
                "rocm-smi",
                memory_bytes=_int(_first_value(card, ("vram total memory (b)",))),
                uuid=_first_value(card, ("unique id", "uuid")),
                driver_version=driver,
                pci_bus_id=_normalise_bus_id(_first_value(card, ("pci bus", "pci bus id"))),
                compute_capability=_first_value(card, ("gfx version",)),
            )
        )
    return gpus


def _pci_names(
    path: "str", wanted: "set[tuple[str, str]]"
) -> "tuple[dict[str, str], dict[tuple[str, str], str]]":
    """Vendor and device names of the ``wanted`` (vendor, device) id pairs from a pci.ids file."""
    vendors: dict[str, str] = {}
    devices: dict[tuple[str, str], str] = {}
    wanted_vendors = {vendor for vendor, _ in wanted}
    vendor = ""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("C "):
                break  # device classes follow the vendors, and none of them is needed
            if not line.strip() or line.startswith("#"):
                continue
            if not line[0].isspace():
                vendor = "0x" + line[:4].lower()
                if vendor in wanted_vendors:
                    vendors[vendor] = line[4:].strip()
            elif vendor in wanted_vendors and line[0] == "\t" and line[1] != "\t":
                device = "0x" + line[1:5].lower()
                if (vendor, device) in wanted:
                    devices[(vendor, device)] = line[5:].strip()
    return vendors, devices


def _pci_kind(
    class_id: "int", vendor_id: "str", device_id: "str", device_name: "str"
) -> "str | None":
    """Classify a PCI function; None when it is neither a display nor a compute device."""
    base, subclass = class_id >> 16, (class_id >> 8) & 0xFF
    if (base, subclass) in FPGA_CLASSES and vendor_id in FPGA_VENDORS:
        return "fpga"
    if base not in (0x03, 0x11, 0x12) and (base, subclass) != (0x0B, 0x40):
        return None
    if vendor_id in DISPLAY_ONLY_VENDORS:
        return "display"
    fpga = (vendor_id, device_id) in FPGA_DEVICES or "fpga" in device_name.lower()
    if vendor_id in FPGA_VENDORS or fpga:
        return "fpga"
    if vendor_id in ("0x10de", "0x1002") and base in (0x03, 0x12):
        return "gpu"  # Instinct MI300 boards present themselves as processing accelerators
    if vendor_id == "0x8086" and base == 0x03:
        return "gpu" if subclass == 0x80 else "display"  # Max/Flex are 0x0380; iGPUs are VGA
    return "display" if base == 0x03 else "accelerator"


def scan_pci(
    root: "str" = PCI_DEVICES_ROOT, pci_ids: "str | None" = None
) -> "list[dict[str, Any]]":
    """List the display, accelerator, co-processor and signal-processing PCI functions.

    Names come from ``pci_ids`` (the first installed pci.ids file when None), else from a
    built-in vendor table and ``Device XXXX`` the way lspci writes unknown devices.
    """
    found: list[dict[str, Any]] = []
    for slot in sorted(os.listdir(root)):
        try:
            ids = [_read(os.path.join(root, slot, f)).strip().lower() for f in PCI_ID_FILES]
            class_id = int(ids[0], 16)
        except (OSError, ValueError):
            continue  # a function without readable ids cannot be described
        if _pci_kind(class_id, ids[1], ids[2], "") is not None:
            found.append({
                "kind": "", "vendor": "", "vendor_id": ids[1], "device": "", "device_id": ids[2],
                "pci_slot": slot, "class_id": f"0x{class_id:06x}",
            })  # fmt: skip
    if pci_ids is None:
        pci_ids = next((path for path in PCI_IDS_PATHS if os.path.isfile(path)), "")
    vendors: dict[str, str] = {}
    devices: dict[tuple[str, str], str] = {}
    if found and pci_ids and os.path.isfile(pci_ids):
        vendors, devices = _pci_names(pci_ids, {(e["vendor_id"], e["device_id"]) for e in found})
    for entry in found:
        vendor_id, device_id = entry["vendor_id"], entry["device_id"]
        fallback = PCI_VENDORS.get(vendor_id, f"Vendor {vendor_id[2:]}")
        entry["vendor"] = vendors.get(vendor_id) or fallback
        entry["device"] = devices.get((vendor_id, device_id)) or f"Device {device_id[2:]}"
        entry["kind"] = _pci_kind(int(entry["class_id"], 16), vendor_id, device_id, entry["device"])
    return found


def detect_container(
    environ: "Mapping[str, str] | None" = None,
    dockerenv: "bool | None" = None,
    containerenv: "bool | None" = None,
    cgroup: "str | None" = None,
    mountinfo: "str | None" = None,
) -> "dict[str, Any]":
    """Tell whether this process runs in a container, and under which runtime when known.

    Each argument left None is read from the live system: os.environ, /.dockerenv,
    /run/.containerenv, /proc/1/cgroup and /proc/self/mountinfo.
    """
    env = os.environ if environ is None else environ
    dockerenv = os.path.exists("/.dockerenv") if dockerenv is None else dockerenv
    containerenv = os.path.exists("/run/.containerenv") if containerenv is None else containerenv
    cgroup = _read_or_empty("/proc/1/cgroup") if cgroup is None else cgroup
    mountinfo = _read_or_empty("/proc/self/mountinfo") if mountinfo is None else mountinfo
    rows = (line.split(" ") for line in mountinfo.splitlines())
    mounts = "\n".join(" ".join(row) for row in rows if len(row) > 4 and row[4] in ENGINE_MOUNTS)
    declared = env.get("container", "").lower()  # set by podman, systemd-nspawn, LXC
    runtime: str | None = None
    if "KUBERNETES_SERVICE_HOST" in env or "kubepods" in cgroup or "/kubelet/pods/" in mounts:
        runtime = "kubernetes"
    elif declared in ("docker", "podman"):
        runtime = declared
    elif declared.startswith("lxc"):
        runtime = "lxc"
    elif containerenv or "libpod" in cgroup or "/containers/storage/" in mounts:
        runtime = "podman"
    elif dockerenv or "/docker" in cgroup or "/docker/" in mounts:
        runtime = "docker"
    elif "/lxc" in cgroup:
        runtime = "lxc"
    elif "containerd" in cgroup or "containerd" in mounts:
        runtime = "containerd"
    return {"in_container": runtime is not None or bool(declared), "runtime": runtime}


def scheduler_env(environ: "Mapping[str, str]") -> "dict[str, Any]":
    """Name the batch scheduler and keep the job and device variables it set, minus secrets."""
    kind = next((scheduler for name, scheduler in SCHEDULERS if name in environ), None)
    variables = {
        name: value
        for name, value in sorted(environ.items())
        if (name.startswith(SCHEDULER_PREFIXES) or name in DEVICE_VARIABLES)
        and not any(marker in name.upper() for marker in SECRET_MARKERS)
    }
    return {"kind": kind, "variables": variables}


def run_command(
    argv: "list[str]", timeout: "float" = COMMAND_TIMEOUT_S
) -> "tuple[str | None, str]":
    """Run argv without a shell: (stdout, "") on success, else (None, a short reason)."""
    if shutil.which(argv[0]) is None:
        return None, f"{argv[0]}: not installed"
    try:
        done = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"{argv[0]}: timed out after {timeout:g}s"
    except OSError as exc:
        return None, f"{argv[0]}: {exc}"
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        said = (stderr.strip() or stdout.strip()).splitlines()[:1]
        return None, ": ".join([argv[0], f"exit {done.returncode}", *(s[:200] for s in said)])
    return stdout, ""


def _join(root: "str", path: "str") -> "str":
    """``path`` (absolute, as on the live system) under ``root``."""
    return os.path.join(root, path.lstrip("/")) if root not in ("", "/") else path


def _read_under(root: "str", path: "str") -> "str | None":
    """The stripped text of ``path`` under ``root``, or None when it cannot be read."""
    try:
        return _read(_join(root, path)).strip()
    except OSError:
        return None


def parse_cpu_list(text: "str | None") -> "list[int]":
    """Expand a kernel CPU list (``0-3,8,10-11``) into its CPU numbers; [] when unreadable."""
    cpus: list[int] = []
    for part in (text or "").strip().split(","):
        low, sep, high = part.strip().partition("-")
        first, last = _int(low), _int(high) if sep else _int(low)
        if first is None or last is None or last < first:
            continue
        cpus.extend(range(first, last + 1))
    return sorted(set(cpus))


def _size_bytes(text: "str | None") -> "int | None":
    """Read a sysfs size such as ``32K``, ``1024K``, ``32M`` or a plain byte count."""
    if not text:
        return None
    text = text.strip().upper()
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    number = _int(text[:-1] if scale > 1 else text)
    return None if number is None else number * scale


# --- cgroups: the limits the run really had ---------------------------------------------------


def parse_proc_cgroup(text: "str") -> "dict[str, Any]":
    """Read /proc/<pid>/cgroup: the v2 path (``0::/...``) and each v1 controller's path."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and not controllers:
            v2 = path
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    return {"v2": v2, "v1": v1}


def parse_cgroup_mounts(mountinfo: "str") -> "list[dict[str, Any]]":
    """The cgroup and cgroup2 mounts of a mountinfo file: root, mount point, controllers."""
    mounts: list[dict[str, Any]] = []
    for line in mountinfo.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(" "), tail.split(" ")
        if not sep or len(fields) < 5 or len(rest) < 3 or rest[0] not in ("cgroup", "cgroup2"):
            continue
        options = set(rest[2].split(","))
        mounts.append({
            "version": 2 if rest[0] == "cgroup2" else 1, "root": fields[3],
            "mount_point": fields[4].replace("\\040", " "), "options": options,
        })  # fmt: skip
    return mounts


def _cgroup_dir(path: "str", mount: "Mapping[str, Any]") -> "str":
    """Where cgroup ``path`` lies under a mount whose root may be a sub-tree (a container's)."""
    root = str(mount["root"]).rstrip("/")
    relative = path[len(root) :] if root and (path + "/").startswith(root + "/") else path
    return (str(mount["mount_point"]).rstrip("/") + "/" + relative.strip("/")).rstrip("/")


def _ancestors(directory: "str", top: "str") -> "list[str]":
    """``directory`` and each parent of it up to ``top``, deepest first."""
    found = [directory.rstrip("/") or "/"]
    top = top.rstrip("/") or "/"
    while found[-1] != top and found[-1].startswith(top) and found[-1] != "/":
        found.append(os.path.dirname(found[-1]))
    return found


def _cpu_limit(quota: "int | None", period: "int | None") -> "float | None":
    return round(quota / period, 3) if quota and period and quota > 0 and period > 0 else None


def cgroup_limits(
    root: "str" = "/", proc_cgroup: "str | None" = None, mountinfo: "str | None" = None
) -> "dict[str, Any]":
    """The memory, CPU quota and cpuset limits of this process's cgroups (v2, else v1).

    Read from /proc/self/cgroup's paths under the cgroup mounts that /proc/self/mountinfo names
    (``/sys/fs/cgroup`` and its v1 sub-mounts when it names none). Memory and CPU quota are the
    tightest along the path up to the mount's root, since a parent's limit binds its children
    (SLURM puts the job's limit on ``job_N``, above the task's cgroup). None means no limit.
    """
    if proc_cgroup is None:
        proc_cgroup = _read_under(root, "/proc/self/cgroup") or ""
    if mountinfo is None:
        mountinfo = _read_under(root, "/proc/self/mountinfo") or ""
    paths, mounts = parse_proc_cgroup(proc_cgroup), parse_cgroup_mounts(mountinfo)
    found: dict[str, Any] = {
        "version": None, "paths": {}, "memory_max_bytes": None, "cpu_quota_us": None,
        "cpu_period_us": None, "cpu_limit": None, "cpuset_cpus": None, "cpuset_cpu_count": None,
    }  # fmt: skip
    v1_controllers = ("memory", "cpu", "cpuset")
    if any(c in paths["v1"] for c in v1_controllers) and any(m["version"] == 1 for m in mounts):
        _cgroup_v1(root, paths["v1"], mounts, found)
    elif paths["v2"] is not None:
        _cgroup_v2(root, paths["v2"], mounts, found)
    elif any(c in paths["v1"] for c in v1_controllers):
        _cgroup_v1(root, paths["v1"], mounts, found)
    return found


def _cgroup_v2(
    root: "str", path: "str", mounts: "list[dict[str, Any]]", found: "dict[str, Any]"
) -> "None":
    mount = next((m for m in mounts if m["version"] == 2), None)
    mount = mount or {"root": "/", "mount_point": CGROUP_ROOT}
    leaf = _cgroup_dir(path, mount)
    found.update(version=2, paths={"unified": leaf})
    memory: list[int] = []
    ratios: list[tuple[float, int, int]] = []
    for directory in _ancestors(leaf, mount["mount_point"]):
        limit = _int(_read_under(root, directory + "/memory.max"))
        if limit is not None:
            memory.append(limit)
        quota, _, period = (_read_under(root, directory + "/cpu.max") or "").partition(" ")
        q, p = _int(quota), _int(period)
        if q is not None and p:
            ratios.append((q / p, q, p))
    cpus = _read_under(root, leaf + "/cpuset.cpus.effective")
    if memory:
        found["memory_max_bytes"] = min(memory)
    if ratios:
        _, found["cpu_quota_us"], found["cpu_period_us"] = min(ratios)
        found["cpu_limit"] = _cpu_limit(found["cpu_quota_us"], found["cpu_period_us"])
    if cpus:
        found.update(cpuset_cpus=cpus, cpuset_cpu_count=len(parse_cpu_list(cpus)) or None)


def _v1_mount(controller: "str", mounts: "list[dict[str, Any]]") -> "dict[str, Any]":
    mount = next((m for m in mounts if m["version"] == 1 and controller in m["options"]), None)
    if mount is not None:
        return mount
    names = {"cpu": ("cpu,cpuacct", "cpu"), "memory": ("memory",), "cpuset": ("cpuset",)}
    return {"root": "/", "mount_point": CGROUP_ROOT + "/" + names[controller][0]}


def _cgroup_v1(
    root: "str", paths: "Mapping[str, str]", mounts: "list[dict[str, Any]]",
    found: "dict[str, Any]",
) -> "None":  # fmt: skip
    found["version"] = 1
    if "memory" in paths:
        mount = _v1_mount("memory", mounts)
        leaf = _cgroup_dir(paths["memory"], mount)
        found["paths"]["memory"] = leaf
        limits = [
            _int(_read_under(root, d + "/memory.limit_in_bytes"))
            for d in _ancestors(leaf, mount["mount_point"])
        ]
        real = [limit for limit in limits if limit is not None and limit < CGROUP_V1_UNLIMITED]
        found["memory_max_bytes"] = min(real) if real else None
    if "cpu" in paths:
        mount = _v1_mount("cpu", mounts)
        leaf = _cgroup_dir(paths["cpu"], mount)
        found["paths"]["cpu"] = leaf
        ratios: list[tuple[float, int, int]] = []
        for directory in _ancestors(leaf, mount["mount_point"]):
            quota = _int(_read_under(root, directory + "/cpu.cfs_quota_us"))
            period = _int(_read_under(root, directory + "/cpu.cfs_period_us"))
            if quota is not None and quota > 0 and period:
                ratios.append((quota / period, quota, period))
        if ratios:
            _, found["cpu_quota_us"], found["cpu_period_us"] = min(ratios)
            found["cpu_limit"] = _cpu_limit(found["cpu_quota_us"], found["cpu_period_us"])
    if "cpuset" in paths:
        leaf = _cgroup_dir(paths["cpuset"], _v1_mount("cpuset", mounts))
        found["paths"]["cpuset"] = leaf
        cpus = _read_under(root, leaf + "/cpuset.effective_cpus") or _read_under(
            root, leaf + "/cpuset.cpus"
        )
        if cpus:
            found.update(cpuset_cpus=cpus, cpuset_cpu_count=len(parse_cpu_list(cpus)) or None)


# --- CPU caches, NUMA nodes, threads per core, the hypervisor ---------------------------------


def cpu_caches(root: "str" = "/") -> "list[dict[str, Any]]":
    """CPU 0's caches from sysfs (``cache/index*``), by level and type."""
    base = _join(root, "/sys/devices/system/cpu/cpu0/cache")
    caches: list[dict[str, Any]] = []
    for folder in sorted(glob.glob(os.path.join(base, "index[0-9]*"))):
        level = _int(_read_under("/", folder + "/level"))
        kind = (_read_under("/", folder + "/type") or "").lower()
        if level is None:
            continue
        caches.append(
            {
                "name": CACHE_NAMES.get((level, kind), f"l{level}{kind[:1]}"),
                "level": level,
                "type": kind,
                "size_bytes": _size_bytes(_read_under("/", folder + "/size")),
                "ways": _int(_read_under("/", folder + "/ways_of_associativity")),
                "line_bytes": _int(_read_under("/", folder + "/coherency_line_size")),
                "shared_cpu_list": _read_under("/", folder + "/shared_cpu_list"),
            }
        )
    return sorted(caches, key=lambda cache: (cache["level"], cache["type"]))


def numa_nodes(root: "str" = "/") -> "list[dict[str, Any]]":
    """Each NUMA node with its CPUs and memory, from ``/sys/devices/system/node/node*``."""
    nodes: list[dict[str, Any]] = []
    for folder in glob.glob(_join(root, "/sys/devices/system/node/node[0-9]*")):
        number = _int(os.path.basename(folder)[4:])
        if number is None:
            continue
        cpus = _read_under("/", folder + "/cpulist")
        values: dict[str, int] = {}
        for line in (_read_under("/", folder + "/meminfo") or "").splitlines():
            key, _, rest = line.partition(":")  # "Node 0 MemTotal:       7300840 kB"
            fields = rest.split()
            amount = _int(fields[0]) if fields else None
            if amount is not None:
                scale = 1024 if len(fields) > 1 and fields[1].lower() == "kb" else 1
                values[key.split()[-1]] = amount * scale
        nodes.append(
            {
                "node": number,
                "cpus": cpus or "",
                "cpu_count": len(parse_cpu_list(cpus)),
                "memory_total_bytes": values.get("MemTotal"),
                "memory_free_bytes": values.get("MemFree"),
            }
        )
    return sorted(nodes, key=lambda node: node["node"])


def threads_per_core(root: "str" = "/", cpuinfo: "str | None" = None) -> "int | None":
    """Hardware threads of CPU 0's core (sysfs topology), else cpuinfo's siblings / cpu cores."""
    topology = "/sys/devices/system/cpu/cpu0/topology/"
    for name in ("core_cpus_list", "thread_siblings_list"):
        siblings = parse_cpu_list(_read_under(root, topology + name))
        if siblings:
            return len(siblings)
    first = next(iter(_blocks(cpuinfo or "")), {})
    siblings_count, cores = _int(first.get("siblings")), _int(first.get("cpu cores"))
    return siblings_count // cores if siblings_count and cores else None


def detect_hypervisor(root: "str" = "/", cpu_flags: "list[str] | None" = None) -> "dict[str, Any]":
    """Whether this runs in a virtual machine, and under which hypervisor when it says.

    The x86 ``hypervisor`` CPU flag says a hypervisor is there; ``/sys/hypervisor/type`` (Xen)
    and the DMI system vendor and product name (``QEMU``/``KVM``, ``VMware, Inc.``, ``Amazon
    EC2``, ``Microsoft Corporation``/``Virtual Machine``) say which.
    """
    flag = "hypervisor" in (cpu_flags or [])
    xen = _read_under(root, "/sys/hypervisor/type")
    vendor = _read_under(root, "/sys/class/dmi/id/sys_vendor")
    product = _read_under(root, "/sys/class/dmi/id/product_name")
    dmi = " ".join(v for v in (vendor, product) if v).lower()
    name = xen.lower() if xen else next((h for marker, h in HYPERVISORS if marker in dmi), None)
    if name is None and "microsoft" in dmi and "virtual" in dmi:
        name = "hyperv"
    return {
        "detected": bool(flag or name), "name": name, "cpu_flag": flag,
        "sys_vendor": vendor, "product_name": product, "xen_type": xen,
    }  # fmt: skip


# --- NVIDIA: the driver's CUDA version, MIG, and the devices a run was given -------------------

NVIDIA_LIST_GPU = re.compile(r"^GPU (\d+): (.*?) \(UUID: ([^)]+)\)\s*$")
NVIDIA_LIST_MIG = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: ([^)]+)\)\s*$")
NVIDIA_MIG_PROFILE = re.compile(r"^\|\s+(\d+)\s+MIG (\S+)\s+(\d+)\s+\d+/\d+\s+([\d.]+)\s")
NVIDIA_MIG_INSTANCE = re.compile(r"^\|\s+(\d+)\s+MIG (\S+)\s+(\d+)\s+(\d+)\s+(\d+:\d+)\s+\|")
NVIDIA_PROFILE_GB = re.compile(r"\.(\d+)gb")
NVIDIA_INVALID_FIELD = re.compile(r'Field "([^"]+)" is not a valid field')


def parse_nvidia_smi_list(text: "str") -> "list[dict[str, Any]]":
    """Parse ``nvidia-smi -L``: each GPU, and under it the MIG devices it shows."""
    gpus: list[dict[str, Any]] = []
    for line in text.splitlines():
        gpu, mig = NVIDIA_LIST_GPU.match(line), NVIDIA_LIST_MIG.match(line)
        if gpu:
            gpus.append({"index": int(gpu.group(1)), "name": gpu.group(2),
                         "uuid": gpu.group(3).strip(), "mig_devices": []})  # fmt: skip
        elif mig and gpus:
            gpus[-1]["mig_devices"].append(
                {"index": int(mig.group(2)), "profile": mig.group(1), "uuid": mig.group(3).strip()}
            )
    return gpus


def parse_nvidia_mig_profiles(text: "str") -> "list[dict[str, Any]]":
    """Parse ``nvidia-smi mig -lgip``: each GPU's instance profiles and their memory."""
    profiles: list[dict[str, Any]] = []
    for line in text.splitlines():
        row = NVIDIA_MIG_PROFILE.match(line)
        if row:
            gib = float(row.group(4))
            profiles.append({
                "gpu": int(row.group(1)), "profile": row.group(2), "id": int(row.group(3)),
                "memory_bytes": int(round(gib * 1024)) * 1024 * 1024,
            })  # fmt: skip
    return profiles


def parse_nvidia_mig_instances(text: "str") -> "list[dict[str, Any]]":
    """Parse ``nvidia-smi mig -lgi``: the GPU instances that exist, with their placement."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        row = NVIDIA_MIG_INSTANCE.match(line)
        if row:
            found.append({
                "gpu": int(row.group(1)), "profile": row.group(2),
                "profile_id": int(row.group(3)), "instance_id": int(row.group(4)),
                "placement": row.group(5),
            })  # fmt: skip
    return found


def parse_nvidia_smi_q(text: "str") -> "dict[str, Any]":
    """The driver and CUDA versions from the header of ``nvidia-smi -q``."""
    found: dict[str, Any] = {"driver_version": None, "cuda_version": None}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key in ("driver version", "cuda version") and not _missing(value):
            found[key.replace(" ", "_")] = value.strip()
    return found


def _mig_memory(
    profile: "str", gpu: "int", profiles: "list[dict[str, Any]]"
) -> "tuple[int | None, str | None]":
    """A MIG device's memory: its profile's from ``mig -lgip``, else the size its name says."""
    base = profile.split("+")[0]
    for entry in profiles:
        if entry["gpu"] == gpu and entry["profile"].split("+")[0] == base:
            return entry["memory_bytes"], "nvidia-smi mig -lgip"
    named = NVIDIA_PROFILE_GB.search(base)
    return (int(named.group(1)) * 10**9, "profile name") if named else (None, None)


def apply_mig(
    gpus: "list[dict[str, Any]]",
    listing: "list[dict[str, Any]]",
    profiles: "list[dict[str, Any]] | None" = None,
) -> "list[dict[str, Any]]":
    """The GPUs a run can use: a GPU in MIG mode becomes its MIG devices, each with its slice's
    memory (never the whole card's), its MIG UUID and ``mig`` naming the parent; a GPU in MIG
    mode that shows no device offers none. The others are kept as they are."""
    listed = {entry["index"]: entry for entry in listing}
    found: list[dict[str, Any]] = []
    for gpu in gpus:
        entry = listed.get(gpu["index"])
        devices = entry["mig_devices"] if entry else []
        if (gpu.get("mig_mode") or "").lower() != "enabled" and not devices:
            found.append(gpu)
            continue
        for device in devices:
            memory, source = _mig_memory(device["profile"], gpu["index"], profiles or [])
            slice_entry = dict(gpu)
            slice_entry.update(
                model="{} MIG {}".format(gpu["model"], device["profile"]),
                memory_bytes=memory, uuid=device["uuid"], mig_mode="Enabled",
                mig={"parent_uuid": gpu["uuid"], "parent_index": gpu["index"],
                     "device_index": device["index"], "profile": device["profile"],
                     "memory_source": source},
            )  # fmt: skip
            found.append(slice_entry)
    return found


def resolve_visible_devices(
    environ: "Mapping[str, str]", gpus: "list[dict[str, Any]]"
) -> "dict[str, Any]":
    """Which NVIDIA GPUs the run was given: CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES
    (indexes, ``GPU-``/``MIG-`` UUIDs or their prefixes, ``all``, ``none``) resolved to the
    UUIDs of the GPUs and MIG devices the probe saw. Each variable that is set gets an entry.

    An index or a GPU UUID of a card in MIG mode stands for its MIG devices (CUDA runs on the
    first of them); CUDA stops at the first entry it cannot find, so the rest are unresolved.
    """
    nvidia = [gpu for gpu in gpus if gpu.get("vendor") == "nvidia" and gpu.get("uuid")]
    found: dict[str, Any] = {}
    for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        value = environ.get(name)
        if value is None:
            continue
        uuids: list[str] = []
        unresolved: list[str] = []
        tokens = [token.strip() for token in value.split(",") if token.strip()]
        if value.strip().lower() == "all":
            tokens, uuids = [], [str(gpu["uuid"]) for gpu in nvidia]
        elif value.strip().lower() in ("none", "void"):
            tokens = []
        for position, token in enumerate(tokens):
            matches = _visible_matches(token, nvidia)
            if not matches:
                rest = tokens[position:] if name == "CUDA_VISIBLE_DEVICES" else [token]
                unresolved.extend(rest)
                if name == "CUDA_VISIBLE_DEVICES":
                    break
            uuids.extend(uuid for uuid in matches if uuid not in uuids)
        found[name] = {"value": value, "uuids": uuids, "unresolved": unresolved}
    return found


def _visible_matches(token: "str", gpus: "list[dict[str, Any]]") -> "list[str]":
    """The UUIDs one entry of a visible-devices list names."""
    index = _int(token)

    def card(gpu: "Mapping[str, Any]") -> "tuple[int, str]":
        mig = gpu.get("mig") or {}
        return int(mig.get("parent_index", gpu["index"])), str(
            mig.get("parent_uuid") or gpu["uuid"]
        )

    if index is not None:
        same = [gpu for gpu in gpus if card(gpu)[0] == index]
        return [str(same[0]["uuid"])] if same else []
    lowered = token.lower()
    exact = [str(g["uuid"]) for g in gpus if str(g["uuid"]).lower().startswith(lowered)]
    if exact or not lowered.startswith("gpu-"):
        return exact[:1]
    return [str(g["uuid"]) for g in gpus if card(g)[1].lower().startswith(lowered)]


def mark_given(gpus: "list[dict[str, Any]]", visible: "Mapping[str, Any]") -> "None":
    """Set each GPU's ``given``: False for an NVIDIA device the run's variables leave out."""
    chosen = visible.get("CUDA_VISIBLE_DEVICES") or visible.get("NVIDIA_VISIBLE_DEVICES")
    if chosen is None:
        return
    for gpu in gpus:
        if gpu.get("vendor") == "nvidia":
            gpu["given"] = gpu.get("uuid") in chosen["uuids"]


# --- AMD: the ROCm release ---------------------------------------------------------------------

ROCM_VERSION = re.compile(r"ROCm version:\s*([0-9][0-9A-Za-z.+-]*)", re.IGNORECASE)


def parse_amd_smi_version(text: "str") -> "str | None":
    """The ROCm version ``amd-smi version`` (and the banner of its other commands) prints."""
    found = ROCM_VERSION.search(text)
    return found.group(1) if found else None


def rocm_version(root: "str" = "/") -> "str | None":
    """The installed ROCm release from ``/opt/rocm/.info/version`` (or an ``/opt/rocm-X``)."""
    candidates = [_join(root, path) for path in ROCM_VERSION_FILES]
    candidates += sorted(glob.glob(_join(root, "/opt/rocm-*/.info/version")), reverse=True)
    for path in candidates:
        text = _read_or_empty(path).strip()
        if text:
            return text.splitlines()[0].strip()
    return None


# --- container runtimes that work --------------------------------------------------------------


def check_runtimes(
    run: "Callable[..., tuple[str | None, str]] | None" = None,
) -> "tuple[list[str], dict[str, str]]":
    """The container runtimes that answer here, and what each check said.

    docker is listed only when its daemon answers with a server version, podman and buildah
    only when ``info`` (their storage and OCI runtime) works, the daemonless ones (apptainer,
    singularity, enroot) when they print their version. Each check has a short timeout.
    """
    run = run or run_command
    listed: list[str] = []
    said: dict[str, str] = {}
    for tool, argv in RUNTIME_CHECKS:
        out, why = run(list(argv), RUNTIME_TIMEOUT_S)
        if out is None:
            if not why.endswith("not installed"):
                said[tool] = why
            continue
        answer = out.strip().splitlines()[:1]
        if tool == "docker" and not answer:
            said[tool] = "docker: no server version"
            continue
        listed.append(tool)
        shown = [line for line in answer if line not in ("{", "[")]
        said[tool] = "ok" + (": " + shown[0][:120] if shown else "")
    return listed, said


def _nvidia_smi(errors: "list[str]") -> "list[dict[str, Any]] | None":
    """GPUs from nvidia-smi, or None when it gave no answer.

    An older driver refuses the whole query for one field it does not know (compute_cap before
    510, mig.mode.current before 450): the field it names is dropped and the query asked again.
    """
    fields: tuple[str, ...] = NVIDIA_FIELDS
    while True:
        out, why = run_command(["nvidia-smi", "--query-gpu=" + ",".join(fields), *NVIDIA_FORMAT])
        refused = NVIDIA_INVALID_FIELD.search(why) if out is None else None
        if refused is None or refused.group(1) not in fields or len(fields) == 1:
            break
        fields = tuple(field for field in fields if field != refused.group(1))
    if out is None:
        errors.append(why)
        return None
    return parse_nvidia_smi_csv(out, fields)


def _nvidia_details(
    gpus: "list[dict[str, Any]]", errors: "list[str]"
) -> "tuple[list[dict[str, Any]], dict[str, Any]]":
    """The CUDA version and MIG layout nvidia-smi reports, and the GPUs with MIG applied."""
    drivers = [gpu["driver_version"] for gpu in gpus if gpu.get("driver_version")]
    info: dict[str, Any] = {"driver_version": drivers[0] if drivers else None,
                            "cuda_version": None, "mig": None}  # fmt: skip
    out, why = run_command(["nvidia-smi", "-q", "-d", "COMPUTE"])
    if out is None:
        errors.append(why)
    else:
        versions = parse_nvidia_smi_q(out)
        info["cuda_version"] = versions["cuda_version"]
        info["driver_version"] = info["driver_version"] or versions["driver_version"]
    out, why = run_command(["nvidia-smi", "-L"])
    listing = parse_nvidia_smi_list(out) if out is not None else []
    if out is None:
        errors.append(why)
    in_mig = [g for g in gpus if (g.get("mig_mode") or "").lower() == "enabled"]
    if not in_mig and not any(entry["mig_devices"] for entry in listing):
        return gpus, info
    mig: dict[str, Any] = {"devices": [], "profiles": [], "gpu_instances": []}
    for entry in listing:
        mig["devices"] += [dict(device, gpu=entry["index"]) for device in entry["mig_devices"]]
    for key, argv, parse in (
        ("profiles", ["nvidia-smi", "mig", "-lgip"], parse_nvidia_mig_profiles),
        ("gpu_instances", ["nvidia-smi", "mig", "-lgi"], parse_nvidia_mig_instances),
    ):
        out, why = run_command(argv)
        if out is None:
            errors.append(why)
        else:
            mig[key] = parse(out)
    info["mig"] = mig
    return apply_mig(gpus, listing, mig["profiles"]), info


def _rocm_smi(errors: "list[str]") -> "list[dict[str, Any]] | None":
    """GPUs from rocm-smi, or None when it gave no answer."""
    out, why = run_command(["rocm-smi", *ROCM_SMI_ARGS])
    if out is None:
        errors.append(why)
        return None
    try:
        return parse_rocm_smi_json(out)
    except ValueError as exc:
        errors.append(f"rocm-smi: unreadable output: {exc}")
        return None


def _pick_gpus(
    nvidia: "list[dict[str, Any]] | None",
    amd: "list[dict[str, Any]] | None",
    accelerators: "list[dict[str, Any]]",
) -> "list[dict[str, Any]]":
    """The GPUs the smi tools report, plus PCI GPUs of vendors no tool answered for."""
    gpus = (nvidia or []) + (amd or [])
    answered = {vendor for vendor, got in (("nvidia", nvidia), ("amd", amd)) if got is not None}
    seen: dict[str, int] = {}
    for entry in accelerators:
        vendor = GPU_VENDORS.get(entry["vendor_id"], entry["vendor"].split(" ")[0].lower())
        if entry["kind"] == "gpu" and vendor not in answered:
            seen[vendor] = seen.get(vendor, -1) + 1
            gpus.append(
                _gpu(seen[vendor], vendor, entry["device"], "pci", pci_bus_id=entry["pci_slot"])
            )
    return gpus


def _guard(errors: "list[str]", section: "str", default: "T", func: "Callable[[], T]") -> "T":
    """Run one section; on any failure note it and fall back to the default."""
    try:
        return func()
    except Exception as exc:  # the probe reports what it could not read; it never crashes
        errors.append(f"{section}: {type(exc).__name__}: {exc}")
        return default


def _cpu() -> "dict[str, Any]":
    info = parse_cpuinfo(_read("/proc/cpuinfo"))
    info["arch"] = platform.machine()
    if info["threads"] < 1:
        info["threads"] = os.cpu_count() or 1
        info["cores"] = max(info["cores"], info["threads"])
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    info["usable_threads"] = len(affinity(0)) if affinity else info["threads"]
    return info


def _os_release() -> "dict[str, str]":
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        if os.path.isfile(path):
            return parse_os_release(_read(path))
    return {}


def _kernel() -> "dict[str, str]":
    uname = platform.uname()
    return {key: getattr(uname, key) for key in UNAME_KEYS}


def _python() -> "dict[str, str]":
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable or "",
    }


def _topology(flags: "list[str]") -> "dict[str, Any]":
    caches = cpu_caches()
    return {
        "threads_per_core": threads_per_core(cpuinfo=_read_or_empty("/proc/cpuinfo")),
        "caches": caches,
        "cache_bytes": {cache["name"]: cache["size_bytes"] for cache in caches},
        "numa_nodes": numa_nodes(),
    }


def _rocm() -> "dict[str, Any]":
    version = rocm_version()
    if version is None and shutil.which("amd-smi"):
        out, _ = run_command(["amd-smi", "version"])
        version = parse_amd_smi_version(out or "")
    return {"version": version}


RUN_MODE_CHECKS = {"all": "not checked by a run's probe: the node's discovery checks them"}


def collect(runtimes: "bool" = True) -> "dict[str, Any]":
    """Probe this machine; every key of the schema is always present. A run's probe
    (`runtimes=False`, `hwinfo.py --run`) leaves out the container-runtime checks, which take
    about a second and are the node's, found when it is discovered: its `runtimes` is
    ["native"] and `runtime_checks` says they were not checked."""
    errors: list[str] = []
    threads = os.cpu_count() or 1
    cpu: dict[str, Any] = {
        "arch": platform.machine(), "vendor": "", "model_name": "", "family": None,
        "model": None, "stepping": None, "flags": [], "sockets": 1, "cores": threads,
        "threads": threads, "usable_threads": threads,
    }  # fmt: skip
    memory: dict[str, Any] = {"total_bytes": 0, "available_bytes": None}
    no_devices: list[dict[str, Any]] = []
    no_gpus: list[dict[str, Any]] = []
    release: dict[str, str] = {}
    outside: dict[str, Any] = {"in_container": False, "runtime": None}
    unscheduled: dict[str, Any] = {"kind": None, "variables": {}}
    accelerators = _guard(errors, "pci", no_devices, scan_pci)
    nvidia = _guard(errors, "nvidia-smi", None, lambda: _nvidia_smi(errors))
    nvidia_info: dict[str, Any] = {"driver_version": None, "cuda_version": None, "mig": None}
    if nvidia is not None:
        found = nvidia
        nvidia, nvidia_info = _guard(
            errors, "nvidia", (found, nvidia_info), lambda: _nvidia_details(found, errors)
        )
    amd = _guard(errors, "rocm-smi", None, lambda: _rocm_smi(errors))
    gpus = _guard(errors, "gpus", no_gpus, lambda: _pick_gpus(nvidia, amd, accelerators))
    unresolved: dict[str, Any] = {}
    visible = _guard(
        errors, "visible_gpus", unresolved, lambda: resolve_visible_devices(os.environ, gpus)
    )
    _guard(errors, "visible_gpus", None, lambda: mark_given(gpus, visible))
    cpu = _guard(errors, "cpu", cpu, _cpu)
    limits: dict[str, Any] = dict.fromkeys(
        ("version", "memory_max_bytes", "cpu_quota_us", "cpu_period_us", "cpu_limit",
         "cpuset_cpus", "cpuset_cpu_count")
    )  # fmt: skip
    limits["paths"] = {}
    topology: dict[str, Any] = {
        "threads_per_core": None,
        "caches": [],
        "cache_bytes": {},
        "numa_nodes": [],
    }
    hypervisor: dict[str, Any] = dict.fromkeys(("name", "sys_vendor", "product_name", "xen_type"))
    hypervisor.update(detected=False, cpu_flag=False)
    unchecked: tuple[list[str], dict[str, str]] = (["native"], {})
    if runtimes:
        working, checks = _guard(errors, "runtimes", unchecked, _checked_runtimes)
    else:
        working, checks = ["native"], dict(RUN_MODE_CHECKS)
    return {
        "probe_version": PROBE_VERSION,
        "hostname": _guard(errors, "hostname", "", socket.gethostname),
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu,
        "memory": _guard(errors, "memory", memory, lambda: parse_meminfo(_read("/proc/meminfo"))),
        "gpus": gpus,
        "accelerators": accelerators,
        "os_release": _guard(errors, "os_release", release, _os_release),
        "kernel": _guard(errors, "kernel", dict.fromkeys(UNAME_KEYS, ""), _kernel),
        "container": _guard(errors, "container", outside, detect_container),
        "python": _guard(errors, "python", dict.fromkeys(PYTHON_KEYS, ""), _python),
        "scheduler": _guard(errors, "scheduler", unscheduled, lambda: scheduler_env(os.environ)),
        "runtimes": working,
        "runtime_checks": checks,
        "limits": _guard(errors, "limits", limits, cgroup_limits),
        "cpu_topology": _guard(errors, "cpu_topology", topology, lambda: _topology(cpu["flags"])),
        "hypervisor": _guard(
            errors, "hypervisor", hypervisor, lambda: detect_hypervisor(cpu_flags=cpu["flags"])
        ),
        "nvidia": nvidia_info,
        "visible_gpus": visible,
        "rocm": _guard(errors, "rocm", {"version": None}, _rocm),
        "disk": _guard(errors, "disk", dict.fromkeys(DISK_KEYS), lambda: disk_space(os.getcwd())),
        "errors": errors,
    }


DISK_KEYS = ("path", "total_bytes", "free_bytes")


def disk_space(path: "str") -> "dict[str, Any]":
    """The file system the probe runs in (a run's folder): its size and what is free."""
    usage = shutil.disk_usage(path)
    return {"path": path, "total_bytes": usage.total, "free_bytes": usage.free}


def _checked_runtimes() -> "tuple[list[str], dict[str, str]]":
    listed, said = check_runtimes()
    return ["native"] + listed, said


def main() -> "None":
    """Print the probe as JSON on stdout (`--run`: a run's probe, see collect)."""
    print(json.dumps(collect(runtimes="--run" not in sys.argv[1:]), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
