"""The one parser for the hardware spec: sizes, counts, accelerator shorthands, whole specs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from shared.hardware.spec import (
    _ARCHES,
    _VENDORS,
    AcceleratorSpec,
    CpuSpec,
    HardwareSpec,
    Range,
    SpecError,
    normalise_arch,
    normalise_vendor,
)

# What a vendor's accelerators are when an `accelerators` entry does not say.
_VENDOR_KIND = {"nvidia": "gpu", "amd": "gpu", "intel": "gpu", "xilinx": "fpga", "altera": "fpga"}
_KINDS = ("gpu", "fpga", "accelerator")

# ---- numbers and sizes ------------------------------------------------------------------------

_MEMORY_EXAMPLE = "e.g. 16GiB or 512MB"
_B_UNITS = {"b": 1} | {f"{p}b": 1000 ** (i + 1) for i, p in enumerate("kmgtpe")}
_B_UNITS |= {f"{p}ib": 1024 ** (i + 1) for i, p in enumerate("kmgtpe")}
# Kubernetes suffixes are case-sensitive: a lower-case "m" is milli there, never mega.
_K8S_UNITS = {f"{p}i": 1024 ** (i + 1) for i, p in enumerate("KMGTPE")}
_K8S_UNITS |= {p: 1000 ** (i + 1) for i, p in enumerate("KMGTPE")} | {"k": 1000}
_NUMBER = r"[0-9]*\.?[0-9]+"
_SIZE_RE = re.compile(rf"({_NUMBER})\s*([A-Za-z]*)")
_MAX_DIGITS = 30  # int() and Fraction() refuse or crawl on thousands of digits


def _type(value: object) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r:.40}"


def parse_memory(value: object, path: str = "memory") -> int:
    """Bytes from a size with a unit: "16GiB", "512MB", "1.5Gi", "64G" (decimal, as Kubernetes)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise SpecError(path, f"memory needs a unit, {_MEMORY_EXAMPLE}")
    if not isinstance(value, str):
        raise SpecError(
            path, f"memory must be a size with a unit, {_MEMORY_EXAMPLE}; got {_type(value)}"
        )
    found = _SIZE_RE.fullmatch(value.strip())
    if found is None:
        if value.strip().startswith("-"):
            raise SpecError(path, f"memory must be positive, got {value!r}")
        raise SpecError(path, f"{value!r} is not a memory size; {_MEMORY_EXAMPLE}")
    number, unit = found.groups()
    if not unit:
        raise SpecError(path, f"memory needs a unit, {_MEMORY_EXAMPLE}")
    scale = _B_UNITS.get(unit.lower()) if unit[-1] in "bB" else _K8S_UNITS.get(unit)
    if scale is None:
        raise SpecError(
            path,
            f"unknown unit {unit!r} in {value!r}: use KB, MB, GB, TB (powers of 1000) or KiB, MiB,"
            f" GiB, TiB (powers of 1024), {_MEMORY_EXAMPLE}",
        )
    if len(number) > _MAX_DIGITS:
        raise SpecError(path, f"{value!r} is too large")
    size = int(math.ceil(Fraction(number) * scale))
    if size <= 0:
        raise SpecError(path, f"memory must be positive, got {value!r}")
    return size


def _range(value: object, path: str, one: Callable[[object, str], float], example: str) -> Range:
    """A "lo..hi" range of values that `one` parses; a plain value is a minimum."""
    if not (isinstance(value, str) and ".." in value):
        return Range(one(value, path), None)
    low_text, _, high_text = value.partition("..")
    if ".." in high_text:
        raise SpecError(path, f"{value!r} has more than one '..'; {example}")
    if not low_text.strip() and not high_text.strip():
        raise SpecError(path, f"{value!r} is an empty range; {example}")
    low = one(low_text, path) if low_text.strip() else None
    high = one(high_text, path) if high_text.strip() else None
    if low is not None and high is not None and low > high:
        raise SpecError(path, f"the range {value!r} has its minimum above its maximum; {example}")
    return Range(low, high)


def parse_memory_range(value: object, path: str = "memory") -> Range:
    """A memory range in bytes: "16GiB" (at least), "16GiB..", "..80GB" or "8GB..64GB"."""
    return _range(value, path, parse_memory, "e.g. '16GiB', '16GiB..', '..80GB' or '8GB..64GB'")


def _cores(value: object, path: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,9}\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(
            path, f"cpu cores are a whole number or a range, e.g. 4, '4..' or '2..8'; got {value!r}"
        )
    if value < 1:
        raise SpecError(path, f"cpu cores must be at least 1, got {value}")
    return value


def parse_cpu_quantity(value: object, path: str = "cpu") -> float:
    """Cores as a Kubernetes quantity: 2, 0.5, "2" or millicores "500m"."""
    example = "e.g. 2, 0.5 or '500m'"
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if abs(value) < 1e300 else math.inf
    elif isinstance(value, str):
        found = re.fullmatch(rf"\s*({_NUMBER})\s*(m?)\s*", value)
        if found is not None and len(found[1]) <= _MAX_DIGITS:
            number = float(found[1]) / (1000 if found[2] else 1)
    if number is None:
        raise SpecError(path, f"cpu must be a number of cores, {example}; got {value!r}")
    if not math.isfinite(number) or number <= 0:
        raise SpecError(path, f"cpu must be a positive number of cores, {example}; got {value!r}")
    return number


def _count(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"a count is a whole number, e.g. 2; got {_type(value)}")
    if value < 1:
        raise SpecError(path, f"a count must be at least 1, got {value}; e.g. 'H100:1'")
    return value


# ---- accelerators -----------------------------------------------------------------------------

_SHORTHAND_EXAMPLE = "e.g. 'H100:2', 'nvidia:40GB..:1', 'amd:MI300X' or 'nvidia:H100,A100:2'"
_MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
# A number and a word of up to 3 letters is a size, so that "40XB" is a bad unit, not a model.
_MEMORY_TOKEN_RE = re.compile(rf"{_NUMBER} ?[A-Za-z]{{1,3}}")
_COUNT_RE = re.compile(r"[+-]?[0-9]+")


def _models(value: object, path: str) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    models: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise SpecError(path, f"a model is a string like 'H100', got {_type(item)}")
        for model in item.split(","):
            if not model.strip():
                raise SpecError(
                    path, f"an empty model name in {item!r}; e.g. 'H100' or 'H100,A100'"
                )
            models.append(model.strip().upper())
    return tuple(dict.fromkeys(models))


def _kind(written: str | None, vendor: str | None, kind: str | None, path: str) -> str:
    """The kind asked for: the field's own, the one written, or the vendor's usual one."""
    if kind is not None:
        if written is not None and written != kind:
            raise SpecError(path, f"this field is for {kind}s only; list a {written} under "
                                  f"accelerators, e.g. ['{written}:1']")  # fmt: skip
        return kind
    found = written or _VENDOR_KIND.get(vendor or "") or ("accelerator" if vendor else None)
    if found is None:
        raise SpecError(path, "say which kind of accelerator, or its vendor: gpu, fpga or "
                              "accelerator, e.g. 'fpga:xilinx:1' or 'gpu:H100:2'")  # fmt: skip
    return found


def _shorthand(text: str, path: str, kind: str | None) -> AcceleratorSpec:
    tokens = [token.strip() for token in text.split(":")]
    if tokens == [""]:
        raise SpecError(path, f"an empty accelerator spec; {_SHORTHAND_EXAMPLE}")
    written = vendor = None
    models: tuple[str, ...] = ()
    memory: Range | None = None
    count = 1
    for i, token in enumerate(tokens):
        low = token.lower()
        if not token:
            raise SpecError(path, f"an empty part in {text!r}; {_SHORTHAND_EXAMPLE}")
        if _COUNT_RE.fullmatch(token):
            if i < len(tokens) - 1:
                two = _COUNT_RE.fullmatch(tokens[-1]) is not None
                what = f"two counts in {text!r}" if two else f"the count {token} must come last"
                hint = "a model that is only digits needs its family, e.g. 'RTX-4090:2'"
                raise SpecError(path, f"{what}; e.g. 'H100:2' ({hint})")
            if len(token) > 9:
                raise SpecError(path, f"the count {token} is too large; e.g. 'H100:8'")
            count = _count(int(token), path)
        elif low in _KINDS:
            if written is not None:
                raise SpecError(path, f"two kinds in {text!r}; e.g. 'fpga:xilinx:1'")
            written = low
        elif low in _VENDORS:
            if vendor is not None:
                raise SpecError(path, f"two vendors in {text!r}; e.g. 'nvidia:H100:2'")
            vendor = _VENDORS[low]
        elif ".." in token or _MEMORY_TOKEN_RE.fullmatch(token):
            if memory is not None:
                raise SpecError(path, f"two memory sizes in {text!r}; e.g. 'nvidia:40GB..80GB:1'")
            memory = parse_memory_range(token, path)
        elif all(_MODEL_RE.fullmatch(model.strip()) for model in token.split(",")):
            if models:
                raise SpecError(path, f"two model lists in {text!r}; e.g. 'nvidia:H100,A100:2'")
            models = _models(token, path)
        else:
            raise SpecError(
                path,
                f"{token!r} is not a vendor, model, memory size or count; {_SHORTHAND_EXAMPLE}",
            )
    kind = _kind(written, vendor, kind, path)
    return AcceleratorSpec(kind, vendor, models, memory or Range(), count)


def _check_keys(value: Mapping[Any, Any], path: str, allowed: tuple[str, ...]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise SpecError(path or "hardware", f"keys are strings, got {_type(key)}")
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            raise SpecError(where, f"unknown key {key!r}; expected one of {', '.join(allowed)}")


def _text(value: object, path: str, example: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SpecError(path, f"must be a non-empty string, {example}; got {_type(value)}")
    return value.strip()


def _accelerator(value: object, path: str, kind: str | None) -> AcceleratorSpec:
    if isinstance(value, str):
        return _shorthand(value, path, kind)
    if isinstance(value, int) and not isinstance(value, bool):
        return AcceleratorSpec(_kind(None, None, kind, path), count=_count(value, path))
    if not isinstance(value, Mapping):
        raise SpecError(path, f"an accelerator is a shorthand string, a count or a mapping, "
                              f"{_SHORTHAND_EXAMPLE}; got {_type(value)}")  # fmt: skip
    _check_keys(value, path, ("kind", "vendor", "model", "memory", "count"))
    written = _text(value.get("kind"), f"{path}.kind", "e.g. 'fpga'")
    if written is not None and written.lower() not in _KINDS:
        raise SpecError(f"{path}.kind", f"kind is one of {', '.join(_KINDS)}; got {written!r}")
    vendor = _text(value.get("vendor"), f"{path}.vendor", "e.g. 'nvidia'")
    vendor = normalise_vendor(vendor) if vendor else None
    memory = value.get("memory")
    return AcceleratorSpec(
        vendor=vendor,
        models=() if value.get("model") is None else _models(value["model"], f"{path}.model"),
        memory=Range() if memory is None else parse_memory_range(memory, f"{path}.memory"),
        count=_count(value.get("count", 1), f"{path}.count"),
        kind=_kind(written.lower() if written else None, vendor, kind, path),
    )


def parse_accelerator(value: object, path: str = "gpu", kind: str = "gpu") -> AcceleratorSpec:
    """One accelerator requirement: shorthand ("nvidia:H100:2"), a count, or a mapping."""
    return _accelerator(value, path, kind)


# ---- the whole spec ---------------------------------------------------------------------------

_TOP_KEYS = ("cpu", "memory", "gpu", "accelerators", "labels", "features", "node")


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


def _cpu(value: object) -> CpuSpec:
    if value is None:
        return CpuSpec()
    if not isinstance(value, Mapping):
        raise SpecError(
            "cpu", f"cpu is a mapping like {{arch: x86_64, cores: 4}}; got {_type(value)}"
        )
    _check_keys(value, "cpu", ("arch", "vendor", "model", "flags", "cores"))
    arch = _text(value.get("arch"), "cpu.arch", "e.g. 'x86_64'")
    if arch is not None and normalise_arch(arch) not in _ARCHES.values():
        known = ", ".join(sorted(set(_ARCHES.values())))
        raise SpecError("cpu.arch", f"unknown arch {arch!r}; use one of {known}")
    vendor = _text(value.get("vendor"), "cpu.vendor", "e.g. 'intel'")
    flags = _words(value.get("flags"), "cpu.flags", "e.g. [avx2, avx512f]")
    cores = value.get("cores")
    return CpuSpec(
        arch=None if arch is None else normalise_arch(arch),
        vendor=None if vendor is None else normalise_vendor(vendor),
        model=_text(value.get("model"), "cpu.model", "e.g. 'Xeon'"),
        flags=tuple(sorted({flag.lower() for flag in flags})),
        cores=Range() if cores is None else _range(cores, "cpu.cores", _cores, "e.g. 4 or '2..8'"),
    )


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


def parse_spec(value: object) -> HardwareSpec:
    """A hardware spec from its mapping, a GPU shorthand string ("H100:2"), or None (no needs)."""
    if value is None:
        return HardwareSpec()
    if isinstance(value, str):
        return HardwareSpec(accelerators=(parse_accelerator(value, "gpu"),))
    if not isinstance(value, Mapping):
        raise SpecError("hardware", f"a hardware spec is a mapping or a GPU shorthand like "
                                    f"'H100:2'; got {_type(value)}")  # fmt: skip
    _check_keys(value, "", _TOP_KEYS)
    gpu = value.get("gpu")
    listed = value.get("accelerators")
    if listed is not None and not isinstance(listed, list | tuple):
        raise SpecError("accelerators", f"accelerators is a list, e.g. ['fpga:xilinx:1']; "
                                        f"got {_type(listed)}")  # fmt: skip
    accelerators = [] if gpu is None else [parse_accelerator(gpu, "gpu")]
    accelerators += [
        _accelerator(a, f"accelerators[{i}]", None) for i, a in enumerate(listed or ())
    ]
    memory = value.get("memory")
    return HardwareSpec(
        cpu=_cpu(value.get("cpu")),
        memory=Range() if memory is None else parse_memory_range(memory, "memory"),
        accelerators=tuple(accelerators),
        labels=_labels(value.get("labels")),
        features=tuple(sorted(set(_words(value.get("features"), "features", "e.g. [cuda]")))),
        node=_text(value.get("node"), "node", "e.g. 'gpu-node-01'"),
    )
