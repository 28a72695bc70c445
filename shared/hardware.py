"""The hardware spec: the one parser for what a run asks of a node, and the match against nodes."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any


class SpecError(ValueError):
    """A bad hardware spec: `path` is the dotted field path inside it, `reason` a human sentence."""

    path: str
    reason: str

    def __init__(self, path: str, reason: str) -> None:
        # Both go to ValueError so that the error pickles (Celery) and unpickles intact.
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Range:
    """An inclusive range; None leaves that side unbounded."""

    min: float | None = None
    max: float | None = None

    @property
    def bounded(self) -> bool:
        """Whether either side has a bound."""
        return self.min is not None or self.max is not None

    def contains(self, value: float | None) -> bool:
        """Whether value lies in the range; an unknown value fails any bounded range."""
        if value is None:
            return not self.bounded
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def render(self, fmt: Callable[[float], str] = _plain) -> str:
        """The range as written in a spec: "2" when exact, else "2..", "..8" or "2..8"."""
        if self.min is not None and self.min == self.max:
            return fmt(self.min)
        if not self.bounded:
            return "any"
        return _syntax(self, fmt)

    def __str__(self) -> str:
        return self.render()


def _syntax(r: Range, fmt: Callable[[float], str]) -> str:
    lo = "" if r.min is None else fmt(r.min)
    return lo + ".." + ("" if r.max is None else fmt(r.max))


@dataclass(frozen=True)
class AcceleratorSpec:
    """`count` devices of a kind on one node; models are alternatives, memory is per device."""

    kind: str
    vendor: str | None = None
    models: tuple[str, ...] = ()
    memory: Range = Range()
    count: int = 1


@dataclass(frozen=True)
class CpuSpec:
    """What the node's CPU must be; `model` is a substring, `cores` counts logical CPUs."""

    arch: str | None = None
    vendor: str | None = None
    model: str | None = None
    flags: tuple[str, ...] = ()
    cores: Range = Range()


@dataclass(frozen=True)
class HardwareSpec:
    """Everything a run asks of the node it runs on; the default asks nothing."""

    cpu: CpuSpec = CpuSpec()
    memory: Range = Range()
    accelerators: tuple[AcceleratorSpec, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    features: tuple[str, ...] = ()
    node: str | None = None

    def is_empty(self) -> bool:
        """Whether the spec asks nothing, so any online node fits."""
        return self == HardwareSpec()


@dataclass(frozen=True)
class NodeAccelerator:
    """`count` identical devices of a node."""

    kind: str
    vendor: str
    model: str
    memory_bytes: int | None
    count: int


@dataclass(frozen=True)
class NodeInfo:
    """A node as the match sees it; None is a value the node does not report."""

    name: str
    testbed: str
    arch: str | None
    cpu_vendor: str | None
    cpu_model: str | None
    cpu_flags: frozenset[str]
    cores: int | None
    memory_bytes: int | None
    accelerators: tuple[NodeAccelerator, ...]
    labels: tuple[tuple[str, str], ...] = ()
    features: frozenset[str] = frozenset()
    online: bool = True


# ---- names: vendors, architectures, kinds ------------------------------------------------------

_VENDORS = {
    **{v: v for v in ("nvidia", "amd", "intel", "xilinx", "altera", "habana", "google", "aws")},
    **{v: v for v in ("tenstorrent", "graphcore", "qualcomm", "cerebras", "groq", "sambanova")},
    **{v: v for v in ("arm", "ampere", "apple", "ibm", "hygon")},
    "amazon": "aws", "annapurna": "aws", "genuineintel": "intel", "authenticamd": "amd",
    "hygongenuine": "hygon", "ati": "amd",
}  # fmt: skip
# What a vendor's accelerators are when an `accelerators` entry does not say.
_VENDOR_KIND = {"nvidia": "gpu", "amd": "gpu", "intel": "gpu", "xilinx": "fpga", "altera": "fpga"}
_PCI_VENDORS = {
    "10de": "nvidia", "1002": "amd", "1022": "amd", "8086": "intel", "10ee": "xilinx",
    "1172": "altera", "1da3": "habana", "1d0f": "aws", "1ae0": "google", "1e52": "tenstorrent",
}  # fmt: skip
_ARCHES = {
    "x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "x86-64": "x86_64",
    "intel64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "armv8": "aarch64",
    "ppc64le": "ppc64le", "ppc64el": "ppc64le", "powerpc64le": "ppc64le", "ppc64": "ppc64",
    "s390x": "s390x", "riscv64": "riscv64", "loongarch64": "loongarch64", "i686": "i686",
    "i386": "i686", "x86": "i686", "armv7l": "armv7l", "armv7": "armv7l", "armhf": "armv7l",
}  # fmt: skip
_KINDS = ("gpu", "fpga", "accelerator")


def normalise_vendor(value: str) -> str:
    """A vendor's short lowercase name: "NVIDIA Corporation" and "nvidia" are both "nvidia"."""
    for word in re.findall(r"[a-z0-9]+", value.lower()):
        if word in _VENDORS:
            return _VENDORS[word]
    return value.strip().lower()


def normalise_arch(value: str) -> str:
    """The canonical architecture name (amd64 -> x86_64, arm64 -> aarch64); others lowercased."""
    low = value.strip().lower()
    return _ARCHES.get(low, low)


# ---- numbers and sizes ------------------------------------------------------------------------

_MEMORY_EXAMPLE = "e.g. 16GiB or 512MB"
_B_UNITS = {"b": 1} | {f"{p}b": 1000 ** (i + 1) for i, p in enumerate("kmgtpe")}
_B_UNITS |= {f"{p}ib": 1024 ** (i + 1) for i, p in enumerate("kmgtpe")}
# Kubernetes suffixes are case-sensitive: a lower-case "m" is milli there, never mega.
_K8S_UNITS = {f"{p}i": 1024 ** (i + 1) for i, p in enumerate("KMGTPE")}
_K8S_UNITS |= {p: 1000 ** (i + 1) for i, p in enumerate("KMGTPE")} | {"k": 1000}
_EXACT_UNITS = sorted(
    [(f"{p}iB", 1024 ** (i + 1)) for i, p in enumerate("KMGTPE")]
    + [(f"{p}B", 1000 ** (i + 1)) for i, p in enumerate("KMGTPE")],
    key=lambda unit: -unit[1],
)
_NUMBER = r"[0-9]*\.?[0-9]+"
_SIZE_RE = re.compile(rf"({_NUMBER})\s*([A-Za-z]*)")
_MAX_DIGITS = 30  # int() and Fraction() refuse or crawl on thousands of digits


def _type(value: object) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r:.40}"


def _exact_bytes(value: float) -> str:
    """Bytes in the largest unit that holds them exactly: "16GiB", "40GB", "1000B"."""
    n = int(value)
    for unit, size in _EXACT_UNITS:
        if n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def format_bytes(value: float) -> str:
    """Bytes for people: exact when short ("16GiB", "80GB"), else 3 figures ("79.6GiB")."""
    exact = _exact_bytes(value)
    if int(value) == value and len(exact.rstrip("KMGTPEiB")) <= 3:
        return exact
    units = [(u, s) for u, s in _EXACT_UNITS if u.endswith("iB") and s <= value] or [("B", 1)]
    unit, size = units[0]
    shown = value / size
    digits = 2 if shown < 10 else 1 if shown < 100 else 0
    return f"{shown:.{digits}f}".rstrip("0").rstrip(".") + unit


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


def with_requests(spec: HardwareSpec, cpu: float | None, memory: int | None) -> HardwareSpec:
    """The spec with Kubernetes-style cpu and memory requests raised into its minimums."""
    cores, mem = spec.cpu.cores, spec.memory
    if cpu is not None and math.isfinite(cpu) and cpu > 0:
        # Nodes count whole logical CPUs: half a core needs a node with at least one.
        need = math.ceil(cpu)
        if cores.min is None or cores.min < need:
            cores = Range(need, cores.max)
    if memory is not None and memory > 0 and (mem.min is None or mem.min < memory):
        mem = Range(memory, mem.max)
    if cores is spec.cpu.cores and mem is spec.memory:
        return spec  # nothing raised (the common case): no copies
    return replace(spec, cpu=replace(spec.cpu, cores=cores), memory=mem)


def to_dict(spec: HardwareSpec) -> dict[str, object]:
    """The canonical JSON form of a spec: parse_spec(to_dict(spec)) == spec."""
    cpu = {
        "arch": spec.cpu.arch,
        "vendor": spec.cpu.vendor,
        "model": spec.cpu.model,
        "flags": list(spec.cpu.flags) or None,
        "cores": _syntax(spec.cpu.cores, _plain) if spec.cpu.cores.bounded else None,
    }
    accelerators = [
        {
            "kind": a.kind,
            "vendor": a.vendor,
            "model": list(a.models) or None,
            "memory": _syntax(a.memory, _exact_bytes) if a.memory.bounded else None,
            "count": a.count,
        }
        for a in spec.accelerators
    ]
    out: dict[str, object] = {
        "cpu": {key: item for key, item in cpu.items() if item is not None} or None,
        "memory": _syntax(spec.memory, _exact_bytes) if spec.memory.bounded else None,
        "accelerators": [{k: v for k, v in a.items() if v is not None} for a in accelerators],
        "labels": dict(spec.labels),
        "features": list(spec.features),
        "node": spec.node,
    }
    return {key: item for key, item in out.items() if item not in (None, [], {})}


# ---- matching ---------------------------------------------------------------------------------


def _needs(r: Range, fmt: Callable[[float], str]) -> str:
    if r.min is not None and r.max is not None:
        if r.min > r.max:
            return f"{_syntax(r, fmt)} (nothing fits: the minimum is above the maximum)"
        return fmt(r.min) if r.min == r.max else f"between {fmt(r.min)} and {fmt(r.max)}"
    return f">= {fmt(r.min)}" if r.min is not None else f"<= {fmt(r.max or 0)}"


def _range_reason(
    what: str,
    r: Range,
    have: float | None,
    spec_fmt: Callable[[float], str],
    node_fmt: Callable[[float], str],
) -> list[str]:
    if r.contains(have):
        return []
    shown = f"node does not report its {what}" if have is None else f"node has {node_fmt(have)}"
    return [f"needs {what} {_needs(r, spec_fmt)}, {shown}"]


def _model_tokens(model: str) -> list[str]:
    return re.findall(r"[A-Z0-9]+", model.upper())


def model_matches(wanted: str, model: str) -> bool:
    """Whether every token of `wanted` is among those of `model` ("H100" in "NVIDIA H100 80GB")."""
    tokens = _model_tokens(model)
    # Runs of adjacent tokens count as one too, so "RTX4090" finds "NVIDIA GeForce RTX 4090".
    runs = {"".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)}
    return all(token in runs for token in _model_tokens(wanted))


def _fits(spec: AcceleratorSpec, device: NodeAccelerator) -> bool:
    return (
        device.kind == spec.kind
        and (spec.vendor is None or normalise_vendor(device.vendor) == spec.vendor)
        and (not spec.models or any(model_matches(m, device.model) for m in spec.models))
        and spec.memory.contains(device.memory_bytes)
    )


def _accelerator_reason(spec: AcceleratorSpec, node: NodeInfo) -> list[str]:
    if sum(d.count for d in node.accelerators if _fits(spec, d)) >= spec.count:
        return []
    wanted = [f"{spec.count} x {spec.kind}", spec.vendor or "", " or ".join(spec.models)]
    if spec.memory.bounded:
        wanted.append(f"with memory {_needs(spec.memory, _exact_bytes)}")
    shown = []
    for device in (d for d in node.accelerators if d.kind == spec.kind):
        name = device.model
        if device.vendor.lower() not in name.lower():
            name = f"{device.vendor} {name}"
        if spec.memory.bounded:
            size = device.memory_bytes
            name += f" ({'memory not reported' if size is None else format_bytes(size)})"
        shown.append(f"{device.count} x {name}")
    have = ", ".join(shown) or f"no {spec.kind}"
    return [f"needs {' '.join(part for part in wanted if part)}, node has {have}"]


def _cpu_reasons(cpu: CpuSpec, node: NodeInfo) -> list[str]:
    reasons = []
    # Each check only when the spec asks: a submit matches every node of the inventory.
    arch = None if node.arch is None or cpu.arch is None else normalise_arch(node.arch)
    if cpu.arch is not None and arch != cpu.arch:
        shown = "does not report its arch" if arch is None else f"is {arch}"
        reasons.append(f"needs arch {cpu.arch}, node {shown}")
    vendor = (
        None if node.cpu_vendor is None or cpu.vendor is None else normalise_vendor(node.cpu_vendor)
    )
    if cpu.vendor is not None and vendor != cpu.vendor:
        shown = "does not report its cpu vendor" if vendor is None else f"has {vendor}"
        reasons.append(f"needs cpu vendor {cpu.vendor}, node {shown}")
    model = node.cpu_model
    if cpu.model is not None and (model is None or cpu.model.lower() not in model.lower()):
        shown = "does not report its cpu model" if model is None else f"has {model!r}"
        reasons.append(f"needs a cpu model containing {cpu.model!r}, node {shown}")
    have = {flag.lower() for flag in node.cpu_flags} if cpu.flags else set()
    missing = [flag for flag in cpu.flags if flag not in have]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        tail = "" if have else ", node does not report its cpu flags"
        reasons.append(f"needs cpu flag{plural} {', '.join(missing)}{tail}")
    return reasons + _range_reason("cpu cores", cpu.cores, node.cores, _plain, _plain)


def match(spec: HardwareSpec, node: NodeInfo) -> list[str]:
    """Why the node does not fit the spec, one reason per unmet constraint; [] when it fits."""
    reasons = [] if node.online else ["node is offline"]
    if spec.node is not None and spec.node != node.name:
        reasons.append(f"needs node {spec.node}, node is {node.name}")
    reasons += _cpu_reasons(spec.cpu, node)
    reasons += _range_reason("memory", spec.memory, node.memory_bytes, _exact_bytes, format_bytes)
    for accelerator in spec.accelerators:
        reasons += _accelerator_reason(accelerator, node)
    labels = dict(node.labels)
    for key, value in spec.labels:
        if labels.get(key) != value:
            shown = f"no label {key}" if key not in labels else f"{key}={labels[key]}"
            reasons.append(f"needs label {key}={value}, node has {shown}")
    missing = [feature for feature in spec.features if feature not in node.features]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        have = ", ".join(sorted(node.features)) or "none"
        reasons.append(f"needs feature{plural} {', '.join(missing)}, node has {have}")
    return reasons


def first_unmet(spec: HardwareSpec, nodes: Iterable[NodeInfo]) -> str | None:
    """None if some node fits; else the reasons of the node closest to fitting, as one sentence."""
    online = [node for node in nodes if node.online]
    if not online:
        return "no online node"
    closest = min((match(spec, node) for node in online), key=len)
    return "; ".join(closest) or None


# ---- nodes from the hardware probe ------------------------------------------------------------


def _str(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _int(data: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _maps(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _strs(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _device_vendor(device: Mapping[str, Any]) -> str:
    pci_id = (_str(device, "vendor_id") or "").lower().removeprefix("0x").zfill(4)
    name = _str(device, "vendor")
    return _PCI_VENDORS.get(pci_id) or (normalise_vendor(name) if name else "unknown")


def node_from_hwinfo(hwinfo: Mapping[str, Any], *, name: str, testbed: str) -> NodeInfo:
    """The node a hardware probe describes; identical devices are grouped into counts."""
    cpu, memory = _map(hwinfo.get("cpu")), _map(hwinfo.get("memory"))
    groups: dict[tuple[str, str, str, int | None], int] = {}
    gpus = _maps(hwinfo.get("gpus"))
    for gpu in gpus:
        key = ("gpu", _device_vendor(gpu), _str(gpu, "model", "name") or "unknown",
               _int(gpu, "memory_bytes"))  # fmt: skip
        groups[key] = groups.get(key, 0) + 1
    # The PCI scan sees the GPUs that "gpus" already lists; count them once.
    kinds = {"fpga", "accelerator"} | (set() if gpus else {"gpu"})
    for device in _maps(hwinfo.get("accelerators")):
        if device.get("kind") in kinds:
            model = _str(device, "device", "model", "device_id") or "unknown"
            key = (device["kind"], _device_vendor(device), model, _int(device, "memory_bytes"))
            groups[key] = groups.get(key, 0) + 1
    flags = cpu.get("flags")
    flags = flags.split() if isinstance(flags, str) else _strs(flags)
    labels = _map(hwinfo.get("labels"))
    vendor, arch = _str(cpu, "vendor"), _str(cpu, "arch")
    return NodeInfo(
        name=name,
        testbed=testbed,
        arch=None if arch is None else normalise_arch(arch),
        cpu_vendor=None if vendor is None else normalise_vendor(vendor),
        cpu_model=_str(cpu, "model_name", "model"),
        cpu_flags=frozenset(flag.lower() for flag in flags),
        cores=_int(cpu, "usable_threads", "threads"),
        memory_bytes=_int(memory, "total_bytes"),
        accelerators=tuple(NodeAccelerator(*key, count) for key, count in groups.items()),
        labels=tuple(
            sorted((k, v) for k, v in labels.items() if isinstance(k, str) and isinstance(v, str))
        ),
        features=frozenset(_strs(hwinfo.get("features"))),
    )
