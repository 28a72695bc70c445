"""The hardware spec's model and canonical form: what a run asks of a node, and nodes as seen.

Parsing lives in `parse`, matching in `match`, nodes from the hardware probe in `node`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace


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
    # A count range ("A100:1..2"): `count` is its minimum, this its maximum (math.inf: none);
    # None when the count is exact. The run gets as many as its node can give within it.
    count_max: float | None = None

    @property
    def counts(self) -> Range:
        """The counts the request takes: exactly `count`, or `count`..`count_max`."""
        return Range(self.count, self.count if self.count_max is None else self.count_max)


@dataclass(frozen=True)
class CpuSpec:
    """What the node's CPU must be; `model` is a substring, `cores` counts logical CPUs.

    `family` and `model_number` are /proc/cpuinfo's "cpu family" and "model" numbers and
    `processor` a model name matched word by word (Amun's cpu_family, cpu_model, processor).
    """

    arch: str | None = None
    vendor: str | None = None
    model: str | None = None
    flags: tuple[str, ...] = ()
    cores: Range = Range()
    family: int | None = None
    model_number: int | None = None
    processor: str | None = None


@dataclass(frozen=True)
class HardwareSpec:
    """Everything a run asks of the node it runs on; the default asks nothing."""

    cpu: CpuSpec = CpuSpec()
    memory: Range = Range()
    accelerators: tuple[AcceleratorSpec, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    features: tuple[str, ...] = ()
    node: str | None = None
    # One of these accelerators as well (SkyPilot's {A100: 1, V100: 1}, or in this order of
    # preference when `ordered`: [A100:1, V100:1]); placement records which one was taken.
    choices: tuple[AcceleratorSpec, ...] = ()
    ordered: bool = False
    disk: Range = Range()

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
    cpu_family: int | None = None
    cpu_model_number: int | None = None
    disk_bytes: int | None = None


def options(spec: HardwareSpec) -> list[HardwareSpec]:
    """The spec once per alternative it allows (in its order), each with no alternatives
    left: the chosen accelerator joins `accelerators`. A spec without any is its one option."""
    if not spec.choices:
        return [spec]
    return [
        replace(spec, accelerators=(*spec.accelerators, choice), choices=(), ordered=False)
        for choice in spec.choices
    ]


def _tokens(model: str) -> list[str]:
    return re.findall(r"[A-Z0-9]+", model.upper())


def model_matches(wanted: str, model: str) -> bool:
    """Whether every token of `wanted` is among those of `model` ("H100" in "NVIDIA H100 80GB")."""
    tokens = _tokens(model)
    # Runs of adjacent tokens count as one too, so "RTX4090" finds "NVIDIA GeForce RTX 4090".
    runs = {"".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)}
    return all(token in runs for token in _tokens(wanted))


# ---- names: vendors, architectures ------------------------------------------------------------

_VENDORS = {
    **{v: v for v in ("nvidia", "amd", "intel", "xilinx", "altera", "habana", "google", "aws")},
    **{v: v for v in ("tenstorrent", "graphcore", "qualcomm", "cerebras", "groq", "sambanova")},
    **{v: v for v in ("arm", "ampere", "apple", "ibm", "hygon")},
    "amazon": "aws", "annapurna": "aws", "genuineintel": "intel", "authenticamd": "amd",
    "hygongenuine": "hygon", "ati": "amd",
}  # fmt: skip
_ARCHES = {
    "x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "x86-64": "x86_64",
    "intel64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "armv8": "aarch64",
    "ppc64le": "ppc64le", "ppc64el": "ppc64le", "powerpc64le": "ppc64le", "ppc64": "ppc64",
    "s390x": "s390x", "riscv64": "riscv64", "loongarch64": "loongarch64", "i686": "i686",
    "i386": "i686", "x86": "i686", "armv7l": "armv7l", "armv7": "armv7l", "armhf": "armv7l",
}  # fmt: skip


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


# ---- sizes ------------------------------------------------------------------------------------

_EXACT_UNITS = sorted(
    [(f"{p}iB", 1024 ** (i + 1)) for i, p in enumerate("KMGTPE")]
    + [(f"{p}B", 1000 ** (i + 1)) for i, p in enumerate("KMGTPE")],
    key=lambda unit: -unit[1],
)


def _exact_bytes(value: float) -> str:
    """Bytes in the largest unit that holds them exactly: "16GiB", "40GB", "1000B"."""
    n = int(value)
    for unit, size in _EXACT_UNITS:
        if n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


def decimal_bytes(value: float) -> str:
    """Bytes in the largest decimal unit that holds them exactly ("80GB", "954B"): a GPU's
    memory is in nominal GB, where "1KiB" would not read back as the same number."""
    n = int(value)
    for unit, size in _EXACT_UNITS:
        if unit.endswith("iB") or n % size:
            continue
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


# ---- the canonical form -----------------------------------------------------------------------


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


def accelerator_dict(a: AcceleratorSpec) -> dict[str, object]:
    """One accelerator requirement in the canonical form: a count, or a count range."""
    count: object = a.count
    if a.count_max is not None:
        count = f"{a.count}.." + ("" if math.isinf(a.count_max) else _plain(a.count_max))
    out = {
        "kind": a.kind,
        "vendor": a.vendor,
        "model": list(a.models) or None,
        "memory": _syntax(a.memory, decimal_bytes) if a.memory.bounded else None,
        "count": count,
    }
    return {key: value for key, value in out.items() if value is not None}


def to_dict(spec: HardwareSpec) -> dict[str, object]:
    """The canonical JSON form of a spec: parse_spec(to_dict(spec)) == spec."""
    cpu = {
        "arch": spec.cpu.arch,
        "vendor": spec.cpu.vendor,
        "model": spec.cpu.model,
        "flags": list(spec.cpu.flags) or None,
        "cores": _syntax(spec.cpu.cores, _plain) if spec.cpu.cores.bounded else None,
        "family": spec.cpu.family,
        "model_number": spec.cpu.model_number,
        "processor": spec.cpu.processor,
    }
    out: dict[str, object] = {
        "cpu": {key: item for key, item in cpu.items() if item is not None} or None,
        "memory": _syntax(spec.memory, _exact_bytes) if spec.memory.bounded else None,
        "disk": _syntax(spec.disk, _exact_bytes) if spec.disk.bounded else None,
        "accelerators": [accelerator_dict(a) for a in spec.accelerators],
        "gpu_ordered" if spec.ordered else "gpu_any_of": [
            accelerator_dict(a) for a in spec.choices
        ],
        "labels": dict(spec.labels),
        "features": list(spec.features),
        "node": spec.node,
    }
    return {key: item for key, item in out.items() if item not in (None, [], {})}
