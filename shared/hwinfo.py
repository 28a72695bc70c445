"""Describe the hardware of the node a run landed on, as one JSON document.

Standard library only and Python 3.6+: the file is copied onto remote nodes and run there as
``python3 hwinfo.py``, and it is importable as ``shared.hwinfo``. The parsers take text so they
can be tested on captured outputs; the collectors read the live system. :func:`collect` never
raises: a section that fails keeps its defaults and leaves a note in ``errors``.

One file, longer than the others, on purpose: it travels to nodes (and into pods) alone.
"""

import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

PROBE_VERSION = 1
COMMAND_TIMEOUT_S = 10.0
PCI_DEVICES_ROOT = "/sys/bus/pci/devices"
PCI_IDS_PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids")
NVIDIA_FIELDS = (
    "index", "name", "uuid", "memory.total", "driver_version", "pci.bus_id", "compute_cap",
)  # fmt: skip
NVIDIA_FORMAT = ("--format=csv,noheader,nounits",)
NVIDIA_ALIASES = {"gpu_name": "name", "gpu_uuid": "uuid", "gpu_bus_id": "pci.bus_id"}
ROCM_SMI_ARGS = ("--showproductname", "--showmeminfo", "vram", "--showbus", "--json")
CONTAINER_TOOLS = ("podman", "buildah", "apptainer", "singularity", "enroot", "docker")

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


def _gpu(
    index: "int", vendor: "str", model: "str", source: "str", **known: "Any"
) -> "dict[str, Any]":
    """A ``gpus`` entry with every key present."""
    entry: dict[str, Any] = dict.fromkeys(
        ("memory_bytes", "uuid", "driver_version", "pci_bus_id", "compute_capability")
    )
    entry.update(index=index, vendor=vendor, model=model, source=source, **known)
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


def _nvidia_smi(errors: "list[str]") -> "list[dict[str, Any]] | None":
    """GPUs from nvidia-smi, or None when it gave no answer."""
    fields: tuple[str, ...] = NVIDIA_FIELDS
    out, why = run_command(["nvidia-smi", "--query-gpu=" + ",".join(fields), *NVIDIA_FORMAT])
    if out is None and "not a valid field" in why:
        # Drivers before 510 do not know compute_cap and refuse the whole query for it.
        fields = tuple(field for field in NVIDIA_FIELDS if field != "compute_cap")
        out, why = run_command(["nvidia-smi", "--query-gpu=" + ",".join(fields), *NVIDIA_FORMAT])
    if out is None:
        errors.append(why)
        return None
    return parse_nvidia_smi_csv(out, fields)


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


def _runtimes() -> "list[str]":
    return ["native"] + [tool for tool in CONTAINER_TOOLS if shutil.which(tool)]


def collect() -> "dict[str, Any]":
    """Probe this machine; every key of the schema is always present."""
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
    amd = _guard(errors, "rocm-smi", None, lambda: _rocm_smi(errors))
    return {
        "probe_version": PROBE_VERSION,
        "hostname": _guard(errors, "hostname", "", socket.gethostname),
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": _guard(errors, "cpu", cpu, _cpu),
        "memory": _guard(errors, "memory", memory, lambda: parse_meminfo(_read("/proc/meminfo"))),
        "gpus": _guard(errors, "gpus", no_gpus, lambda: _pick_gpus(nvidia, amd, accelerators)),
        "accelerators": accelerators,
        "os_release": _guard(errors, "os_release", release, _os_release),
        "kernel": _guard(errors, "kernel", dict.fromkeys(UNAME_KEYS, ""), _kernel),
        "container": _guard(errors, "container", outside, detect_container),
        "python": _guard(errors, "python", dict.fromkeys(PYTHON_KEYS, ""), _python),
        "scheduler": _guard(errors, "scheduler", unscheduled, lambda: scheduler_env(os.environ)),
        "runtimes": _guard(errors, "runtimes", ["native"], _runtimes),
        "errors": errors,
    }


def main() -> "None":
    """Print the probe as JSON on stdout."""
    print(json.dumps(collect(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
