"""The one parser for the hardware spec: whole specs (CPU, memory, disk, labels, the
accelerators of `sizes` and `accelerators`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shared.hardware.accelerators import (
    _KINDS,
    _accelerator,
    _check_keys,
    _flow,
    _text,
    parse_accelerator,
    parse_gpus,
)
from shared.hardware.sizes import _NUMBER, _cores, _range, _type, parse_memory
from shared.hardware.spec import (
    _ARCHES,
    AcceleratorSpec,
    CpuSpec,
    HardwareSpec,
    Range,
    SpecError,
    normalise_arch,
    normalise_vendor,
)

_TOP_KEYS = (
    "cpu", "memory", "gpu", "accelerators", "labels", "features", "node", "disk",
    "gpu_any_of", "gpu_ordered",
    # SkyPilot's names
    "cpus", "disk_size",
    # Amun's names (its hardware: the CPU /proc/cpuinfo describes)
    "cpu_family", "cpu_model", "physical_cpus", "processor",
)  # fmt: skip
_CPU_KEYS = ("arch", "vendor", "model", "flags", "cores", "count", "family", "model_number",
             "processor")  # fmt: skip
_CORES_EXAMPLE = "e.g. 4, '4..', '4+' or '2..8'"


def _words(value: object, path: str, example: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise SpecError(path, f"must be a list, {example}; got {_type(value)}")
    words = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item.split()) != 1:
            raise SpecError(f"{path}[{i}]", f"must be a single word, {example}; got {_type(item)}")
        words.append(item.strip())
    return words


def _core_range(value: object, path: str) -> Range:
    """Cores: 4 or '4..' (at least: a node is not sized to the run), '4+' (SkyPilot), '..8',
    '2..8', or {min, max} (dstack)."""
    if isinstance(value, Mapping):
        _check_keys(value, path, ("min", "max"))
        low, high = value.get("min"), value.get("max")
        if low is None and high is None:
            raise SpecError(path, f"an empty range; {_CORES_EXAMPLE}")
        value = f"{'' if low is None else low}..{'' if high is None else high}"
    if isinstance(value, str) and value.strip().endswith("+"):
        return Range(_cores(value.strip()[:-1], path), None)
    return _range(value, path, _cores, _CORES_EXAMPLE)


def _arch(value: str, path: str) -> str:
    if normalise_arch(value) not in _ARCHES.values():
        known = ", ".join(sorted(set(_ARCHES.values())))
        raise SpecError(path, f"unknown arch {value!r}; use one of {known} (or x86, arm)")
    return normalise_arch(value)


# dstack's CPU architectures: "x86" is x86_64 there (its 32-bit i686 is not offered), "arm" is
# aarch64.
_DSTACK_ARCHES = {"x86": "x86_64", "arm": "aarch64"}


def _cpu_string(value: str, path: str) -> CpuSpec:
    """dstack's `cpu: x86:16`, `cpu: 2..:arm`, `cpu: 8`: an arch and a core count or range."""
    arch: str | None = None
    cores: Range | None = None
    for token in (token.strip() for token in value.split(":")):
        if not token:
            raise SpecError(path, f"an empty part in {value!r}; e.g. 'x86:16' or '2..:arm'")
        if token[0].isdigit() or token.startswith("."):
            if cores is not None:
                raise SpecError(path, f"two core counts in {value!r}; e.g. 'x86:16'")
            cores = _core_range(token, path)
        else:
            if arch is not None:
                raise SpecError(path, f"two architectures in {value!r}; e.g. 'x86:16'")
            arch = _DSTACK_ARCHES.get(token.lower()) or _arch(token, path)
    return CpuSpec(arch=arch, cores=cores or Range())


def _cpu(value: object) -> CpuSpec:
    if value is None:
        return CpuSpec()
    if isinstance(value, int) and not isinstance(value, bool):
        return CpuSpec(cores=_core_range(value, "cpu"))
    if isinstance(value, str):
        return _cpu_string(value, "cpu")
    if not isinstance(value, Mapping):
        raise SpecError(
            "cpu", f"cpu is a mapping like {{arch: x86_64, cores: 4}}, a count or dstack's "
                   f"'x86:16'; got {_type(value)}"
        )  # fmt: skip
    if value and set(value) <= {"min", "max"}:  # dstack's range object
        return CpuSpec(cores=_core_range(value, "cpu"))
    _check_keys(value, "cpu", _CPU_KEYS)
    if "cores" in value and "count" in value:
        raise SpecError("cpu.count", "give cores or count (dstack's word), not both")
    arch = _text(value.get("arch"), "cpu.arch", "e.g. 'x86_64'")
    vendor = _text(value.get("vendor"), "cpu.vendor", "e.g. 'intel'")
    flags = _words(value.get("flags"), "cpu.flags", "e.g. [avx2, avx512f]")
    key = "count" if "count" in value else "cores"
    cores = value.get(key)
    return CpuSpec(
        arch=None if arch is None else _DSTACK_ARCHES.get(arch.lower()) or _arch(arch, "cpu.arch"),
        vendor=None if vendor is None else normalise_vendor(vendor),
        model=_text(value.get("model"), "cpu.model", "e.g. 'Xeon'"),
        flags=tuple(sorted({flag.lower() for flag in flags})),
        cores=Range() if cores is None else _core_range(cores, f"cpu.{key}"),
        family=_cpuinfo_number(value.get("family"), "cpu.family"),
        model_number=_cpuinfo_number(value.get("model_number"), "cpu.model_number"),
        processor=_text(value.get("processor"), "cpu.processor", "e.g. 'Xeon Skylake'"),
    )


def _cpuinfo_number(value: object, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 6:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**6:
        raise SpecError(path, f"a /proc/cpuinfo number like 6 or 94; got {_type(value)}")
    return value


def _amun_cpu(value: Mapping[str, Any], cpu: CpuSpec) -> CpuSpec:
    """Amun's hardware keys onto the CPU spec: cpu_family and cpu_model are /proc/cpuinfo's
    "cpu family" and "model" numbers, processor its model name (matched word by word:
    'Intel-Xeon-Processor-Skylake-IBRS' is 'Intel Xeon Processor (Skylake, IBRS)'),
    physical_cpus a minimum of CPUs."""
    keys = ("cpu_family", "cpu_model", "physical_cpus", "processor")
    if not any(value.get(key) is not None for key in keys):
        return cpu
    for key, field in (("cpu_family", "family"), ("cpu_model", "model_number"),
                       ("processor", "processor")):  # fmt: skip
        if value.get(key) is not None and getattr(cpu, field) is not None:
            raise SpecError(key, f"{key} and cpu.{field} say the same; give one")
    if value.get("physical_cpus") is not None and cpu.cores.bounded:
        raise SpecError("physical_cpus", "physical_cpus and cpu.cores say the same; give one")
    physical = value.get("physical_cpus")
    return replace(
        cpu,
        family=_cpuinfo_number(value.get("cpu_family"), "cpu_family") or cpu.family,
        model_number=_cpuinfo_number(value.get("cpu_model"), "cpu_model")
        if value.get("cpu_model") is not None
        else cpu.model_number,
        processor=_text(value.get("processor"), "processor", "e.g. 'Intel-Xeon-Processor'")
        or cpu.processor,
        cores=cpu.cores if physical is None else Range(_cores(physical, "physical_cpus"), None),
    )


def _size(value: object, path: str) -> int:
    """A node memory or disk size: with a unit, or a bare number of GiB (SkyPilot's and
    dstack's GB are 2^30 bytes)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value <= 0:
            raise SpecError(path, f"a size must be positive, got {value!r}")
        return int(math.ceil(value * 1024**3))
    if isinstance(value, str) and re.fullmatch(rf"\s*{_NUMBER}\s*", value):
        return _size(float(value), path)
    return parse_memory(value, path)


def _size_range(value: object, path: str) -> Range:
    """'64GiB' or '64GiB..' (at least), '32+' (SkyPilot: at least 32 GiB), '..80GB',
    '8GB..64GB', '512..1TB', or dstack's {min, max}."""
    example = "e.g. '64GiB', '64GiB..', '32+' or '8GB..64GB'"
    if isinstance(value, Mapping):
        _check_keys(value, path, ("min", "max"))
        low, high = value.get("min"), value.get("max")
        if low is None and high is None:
            raise SpecError(path, f"an empty range; {example}")
        lo = None if low is None else _size(low, path)
        hi = None if high is None else _size(high, path)
        if lo is not None and hi is not None and lo > hi:
            raise SpecError(path, f"the range {dict(value)!r} has its minimum above its maximum")
        return Range(lo, hi)
    if isinstance(value, str) and value.strip().endswith("+"):
        return Range(_size(value.strip()[:-1], path), None)
    return _range(value, path, _size, example)


def _disk(value: object, path: str) -> Range:
    if isinstance(value, Mapping) and "size" in value:  # dstack's {size: 100GB..}
        _check_keys(value, path, ("size",))
        return _size_range(value["size"], f"{path}.size")
    return _size_range(value, path)


def _labels(value: object) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise SpecError(
            "labels", f"labels map names to values, e.g. {{zone: a}}; got {_type(value)}"
        )
    labels = []
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise SpecError("labels", f"a label name is a non-empty string, got {_type(key)}")
        # YAML reads `gpu: true` as a bool; Kubernetes label values are the strings.
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, int):
            item = str(item)
        if not isinstance(item, str):
            raise SpecError(f"labels.{key}", f"a label value is a string, got {_type(item)}")
        labels.append((key, item))
    return tuple(sorted(labels))


def _one_of(value: Mapping[str, Any], *keys: str) -> str | None:
    given = [key for key in keys if value.get(key) is not None]
    if len(given) > 1:
        raise SpecError(given[1], f"{' and '.join(given)} say the same; give one")
    return given[0] if given else None


def _gpus(value: Mapping[str, Any]) -> tuple[list[AcceleratorSpec], tuple[AcceleratorSpec, ...],
                                              bool]:  # fmt: skip
    """(needed, alternatives, ordered) from gpu, SkyPilot's accelerators (a string or a
    mapping), and the canonical gpu_any_of / gpu_ordered."""
    listed = value.get("accelerators")
    skypilot = listed is not None and not isinstance(_flow(listed, "accelerators"), list | tuple)
    key = _one_of(value, "gpu", "gpu_any_of", "gpu_ordered", *(["accelerators"] * skypilot))
    if key is None:
        return [], (), False
    found, ordered = parse_gpus(value[key], key)
    if key == "gpu_any_of":
        ordered = False
    elif key == "gpu_ordered":
        ordered = True
    if len(found) == 1 and key in ("gpu", "accelerators"):
        return list(found), (), False
    return [], found, ordered


def parse_spec(value: object) -> HardwareSpec:
    """A hardware spec from its mapping, a GPU shorthand string ("H100:2", "[A100:1, V100:1]"),
    a list of GPU alternatives, or None (no needs)."""
    if value is None:
        return HardwareSpec()
    if isinstance(value, str | list | tuple):
        value = {"gpu": value}
    if not isinstance(value, Mapping):
        raise SpecError("hardware", f"a hardware spec is a mapping or a GPU shorthand like "
                                    f"'H100:2'; got {_type(value)}")  # fmt: skip
    _check_keys(value, "", _TOP_KEYS)
    needed, choices, ordered = _gpus(value)
    listed = _flow(value.get("accelerators"), "accelerators")
    if listed is not None and isinstance(listed, list | tuple):
        if len(listed) > 1 and all(
            isinstance(a, str) and a.split(":")[0].strip().lower() not in _KINDS for a in listed
        ):
            as_gpus = [parse_accelerator(a, f"accelerators[{i}]") for i, a in enumerate(listed)]
            if all(a.models for a in as_gpus) and len({a.models for a in as_gpus}) > 1:
                raise SpecError(
                    "accelerators",
                    f"{list(listed)!r}: Tessera's accelerators list names devices all needed "
                    "at once, SkyPilot's one of them in order; for SkyPilot's meaning write "
                    "gpu: [...] (in order) or gpu: {A100: 1, V100: 1} (any of); for all at "
                    "once, say each one's kind: ['gpu:A100:1', 'gpu:V100:1']",
                )
        parsed = [_accelerator(a, f"accelerators[{i}]", None) for i, a in enumerate(listed)]
        needed += parsed
    memory = value.get("memory")
    disk_key = _one_of(value, "disk", "disk_size")
    cpu = _cpu(value.get("cpu"))
    if value.get("cpus") is not None:
        if cpu.cores.bounded:
            raise SpecError("cpus", "cpus and cpu's cores say the same; give one")
        cpu = replace(cpu, cores=_core_range(value["cpus"], "cpus"))
    return HardwareSpec(
        cpu=_amun_cpu(value, cpu),
        memory=Range() if memory is None else _size_range(memory, "memory"),
        accelerators=tuple(needed),
        labels=_labels(value.get("labels")),
        features=tuple(sorted(set(_words(value.get("features"), "features", "e.g. [cuda]")))),
        node=_text(value.get("node"), "node", "e.g. 'gpu-node-01'"),
        choices=choices,
        ordered=ordered and len(choices) > 1,
        disk=Range() if disk_key is None else _disk(value[disk_key], disk_key),
    )
