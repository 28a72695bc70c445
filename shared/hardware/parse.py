"""The one parser for the hardware spec: sizes, counts, accelerator shorthands, whole specs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

import yaml

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

_SHORTHAND_EXAMPLE = (
    "e.g. 'H100:2', 'A100:1..2', 'nvidia:40GB..:1', 'A100:80GB', 'amd:MI300X' or "
    "'nvidia:H100,A100:2'"
)
_MODEL_RE = re.compile(r"[A-Za-z][A-Za-z0-9._+-]*")
_COUNT_RE = re.compile(r"[+-]?[0-9]+")
_COUNT_RANGE_RE = re.compile(r"([0-9]*)\.\.([0-9]*)")
_FRACTION_RE = re.compile(r"[0-9]*\.[0-9]+")
_MIG_RE = re.compile(r"[0-9]+g\.[0-9]+gb", re.IGNORECASE)  # a MIG profile: 1g.10gb
# Words for vendors in accelerator shorthands (dstack's "tt" is Tenstorrent, "tpu" Google).
_ACCELERATOR_VENDORS = {"tt": "tenstorrent", "tpu": "google"}
_NO_TESTBED = (
    "no Tessera testbed kind (local, SLURM, Kubernetes, SSH hosts) hands {what} to a run; "
    "ask for NVIDIA or AMD GPUs instead, e.g. 'A100:1' or 'amd:MI300X:1'"
)


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


def _refuse_vendor(vendor: str | None, text: str, path: str) -> None:
    if vendor == "google":
        raise SpecError(path, f"{text!r} asks for Google TPUs: " + _NO_TESTBED.format(what="TPUs"))
    if vendor == "tenstorrent":
        what = "Tenstorrent accelerators"
        raise SpecError(path, f"{text!r} asks for {what}: " + _NO_TESTBED.format(what=what))


def _gpu_size(value: object, path: str) -> float:
    """A GPU memory size as the nominal GB it names, in units of 10^9 bytes: "80GB", "80GiB",
    "80G" and a bare 80 all name the 80 GB cards; "81920MiB" is 80GB, "1.5TB" 1500GB."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number, unit = str(value), ""
    elif isinstance(value, str):
        found = re.fullmatch(rf"\s*({_NUMBER})\s*([A-Za-z]*)\s*", value)
        if found is None:
            raise SpecError(path, f"{value!r} is not a GPU memory size; e.g. '40GB' or '80GB'")
        number, unit = found.groups()
    else:
        raise SpecError(path, f"a GPU memory size is like '80GB'; got {_type(value)}")
    if len(number) > _MAX_DIGITS:
        raise SpecError(path, f"{value!r} is too large")
    low = unit.lower().removesuffix("b")
    binary = low.endswith("i")
    prefix = low.removesuffix("i") or "g"
    if unit.lower() == "b":
        prefix, binary = "", False
    elif prefix not in ("k", "m", "g", "t", "p", "e") or unit.lower() == "ib":
        raise SpecError(
            path, f"unknown unit {unit!r} in {value!r}: a GPU's memory is in GB, e.g. '80GB'"
        )
    exponent = " kmgtpe".index(prefix or " ") - 3  # GB is 0, bytes -3
    scale = Fraction(1024 if binary else 1000) ** exponent
    size = math.ceil(Fraction(number) * scale * 1000**3)
    if size <= 0:
        raise SpecError(path, f"GPU memory must be positive, got {value!r}")
    return size


def parse_gpu_memory(value: object, path: str = "gpu.memory") -> Range:
    """A GPU memory range in nominal GB: "80GB" (that class of card), "40GB+", "40GB.." (at
    least), "..24GB", "40GB..80GB" (both ends included), or {min, max}."""
    example = "e.g. '80GB', '40GB+', '40GB..' or '40GB..80GB'"
    if isinstance(value, Mapping):
        _check_keys(value, path, ("min", "max"))
        low, high = value.get("min"), value.get("max")
        if low is None and high is None:
            raise SpecError(path, f"an empty range {dict(value)!r}; {example}")
        lo = None if low is None else _gpu_size(low, path)
        hi = None if high is None else _gpu_size(high, path)
        if lo is not None and hi is not None and lo > hi:
            raise SpecError(path, f"the range {dict(value)!r} has its minimum above its maximum")
        return Range(lo, hi)
    if isinstance(value, str) and value.strip().endswith("+"):
        return Range(_gpu_size(value.strip()[:-1], path), None)
    if isinstance(value, str) and ".." in value:
        return _range(value, path, _gpu_size, example)
    exact = _gpu_size(value, path)
    return Range(exact, exact)


def _count_range(value: object, path: str) -> tuple[int, float | None]:
    """A count: 2 (exactly), "1..2", "2.." or {min, max}: (minimum, maximum or None if exact)."""
    example = "e.g. 2, '1..2' or '2..'"
    if isinstance(value, Mapping):
        _check_keys(value, path, ("min", "max"))
        lo, hi = value.get("min"), value.get("max")
        value = f"{'' if lo is None else lo}..{'' if hi is None else hi}"
    if isinstance(value, str):
        text = value.strip()
        if _COUNT_RE.fullmatch(text):
            if len(text) > 9:
                raise SpecError(path, f"the count {text} is too large; e.g. 'H100:8'")
            return _count(int(text), path), None
        ranged = _COUNT_RANGE_RE.fullmatch(text.replace(" ", ""))
        if ranged is None or not any(ranged.groups()) or max(map(len, ranged.groups())) > 9:
            if _FRACTION_RE.fullmatch(text):
                _fraction(text, path)
            raise SpecError(path, f"{value!r} is not a count or a count range; {example}")
        low = _count(int(ranged[1]), path) if ranged[1] else 1
        high = float(ranged[2]) if ranged[2] else math.inf
        if high < low:
            raise SpecError(path, f"the count range {value!r} has its minimum above its maximum")
        return low, (None if high == low else high)
    if isinstance(value, float) and not value.is_integer():
        _fraction(str(value), path)
    if isinstance(value, float):
        value = int(value)
    return _count(value, path), None


def _fraction(text: str, path: str) -> None:
    raise SpecError(
        path,
        f"{text!r} is a fraction of a GPU: Tessera gives a run whole devices (no testbed shares "
        "one GPU between runs); ask for a whole count, e.g. 'A100:1', or a MIG slice by its "
        "model, e.g. 'nvidia:1g.10gb:1'",
    )


def _shorthand(text: str, path: str, kind: str | None) -> AcceleratorSpec:
    """dstack's and SkyPilot's strings: vendor, model(s), memory and count in any order,
    separated by ':'; a model starts with a letter, a memory size with a digit and has a unit
    (or '+'), a count is digits or a range ("A10:4..8", "nvidia:1..8", "40GB..80GB:4")."""
    tokens = [token.strip() for token in text.split(":")]
    if tokens == [""]:
        raise SpecError(path, f"an empty accelerator spec; {_SHORTHAND_EXAMPLE}")
    written = vendor = None
    models: tuple[str, ...] = ()
    memory: Range | None = None
    count: tuple[int, float | None] | None = None
    for token in tokens:
        low = token.lower()
        if not token:
            raise SpecError(path, f"an empty part in {text!r}; {_SHORTHAND_EXAMPLE}")
        if token == "..":
            raise SpecError(path, f"'..' in {text!r} is an empty range; e.g. 'A100:1..2'")
        if _COUNT_RE.fullmatch(token) or _COUNT_RANGE_RE.fullmatch(token):
            if count is not None:
                hint = "a model that is only digits needs its family, e.g. 'RTX-4090:2'"
                raise SpecError(path, f"two counts in {text!r}; e.g. 'H100:2' ({hint})")
            count = _count_range(token, path)
        elif _FRACTION_RE.fullmatch(token):
            _fraction(text, path)
        elif low in _KINDS:
            if written is not None:
                raise SpecError(path, f"two kinds in {text!r}; e.g. 'fpga:xilinx:1'")
            written = low
        elif low in _VENDORS or low in _ACCELERATOR_VENDORS:
            if vendor is not None:
                raise SpecError(path, f"two vendors in {text!r}; e.g. 'nvidia:H100:2'")
            vendor = _VENDORS.get(low) or _ACCELERATOR_VENDORS[low]
        elif (token[0].isdigit() or token.startswith(".")) and not _MIG_RE.fullmatch(
            token.split(",")[0].strip()
        ):
            if memory is not None:
                raise SpecError(path, f"two memory sizes in {text!r}; e.g. 'nvidia:40GB..80GB:1'")
            if not any(c.isalpha() for c in token) and not token.endswith("+"):
                raise SpecError(path, f"{token!r} in {text!r} is neither a count nor a memory "
                                      f"size (with a unit); {_SHORTHAND_EXAMPLE}")  # fmt: skip
            if not re.fullmatch(r"[0-9.]*\s*[A-Za-z]{0,3}\+?(\.\.[0-9.]*\s*[A-Za-z]{0,3})?", token):
                raise SpecError(path, f"{token!r} is not a vendor, model, memory size or count "
                                      f"(in {text!r}); {_SHORTHAND_EXAMPLE}")  # fmt: skip
            memory = parse_gpu_memory(token, path)
        elif all(
            _MODEL_RE.fullmatch(model.strip()) or _MIG_RE.fullmatch(model.strip())
            for model in token.split(",")
        ):
            if models:
                raise SpecError(path, f"two model lists in {text!r}; e.g. 'nvidia:H100,A100:2'")
            if any(model.strip().lower().startswith("tpu-") for model in token.split(",")):
                _refuse_vendor("google", text, path)
            models = _models(token, path)
        else:
            raise SpecError(
                path,
                f"{token!r} is not a vendor, model, memory size or count (in {text!r}); "
                f"{_SHORTHAND_EXAMPLE}",
            )
    _refuse_vendor(vendor, text, path)
    kind = _kind(written, vendor, kind, path)
    low_count, high_count = count or (1, None)
    return AcceleratorSpec(kind, vendor, models, memory or Range(), low_count, high_count)


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


_OBJECT_KEYS = ("kind", "vendor", "model", "name", "memory", "count")


def _accelerator(value: object, path: str, kind: str | None) -> AcceleratorSpec:
    if isinstance(value, str):
        return _shorthand(value, path, kind)
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = _count_range(value, path)
        return AcceleratorSpec(_kind(None, None, kind, path), count=low, count_max=high)
    if not isinstance(value, Mapping):
        raise SpecError(path, f"an accelerator is a shorthand string, a count or a mapping, "
                              f"{_SHORTHAND_EXAMPLE}; got {_type(value)}")  # fmt: skip
    _check_keys(value, path, _OBJECT_KEYS)
    if "model" in value and "name" in value:
        raise SpecError(f"{path}.name", "give model or name (dstack's word), not both")
    written = _text(value.get("kind"), f"{path}.kind", "e.g. 'fpga'")
    if written is not None and written.lower() not in _KINDS:
        raise SpecError(f"{path}.kind", f"kind is one of {', '.join(_KINDS)}; got {written!r}")
    vendor = _text(value.get("vendor"), f"{path}.vendor", "e.g. 'nvidia'")
    if vendor is not None:
        vendor = _ACCELERATOR_VENDORS.get(vendor.lower()) or normalise_vendor(vendor)
    _refuse_vendor(vendor, f"vendor: {value.get('vendor')}", f"{path}.vendor")
    key = "name" if "name" in value else "model"
    models = () if value.get(key) is None else _models(value[key], f"{path}.{key}")
    if any(model.lower().startswith("tpu-") for model in models):
        _refuse_vendor("google", f"{key}: {value[key]}", f"{path}.{key}")
    memory = value.get("memory")
    low, high = _count_range(value.get("count", 1), f"{path}.count")
    return AcceleratorSpec(
        vendor=vendor,
        models=models,
        memory=Range() if memory is None else parse_gpu_memory(memory, f"{path}.memory"),
        count=low,
        count_max=high,
        kind=_kind(written.lower() if written else None, vendor, kind, path),
    )


def parse_accelerator(value: object, path: str = "gpu", kind: str = "gpu") -> AcceleratorSpec:
    """One accelerator requirement: shorthand ("nvidia:H100:2"), a count, or a mapping."""
    return _accelerator(value, path, kind)


def _flow(value: object, path: str) -> object:
    """SkyPilot's inline forms written as one string ('{A100: 1, V100: 1}', '[A100:1, V100:1]',
    as a CLI flag takes them): read as YAML flow collections."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            example = "e.g. '[A100:1, V100:1]' or '{A100: 1, V100: 1}'"
            raise SpecError(path, f"{value!r} is not a YAML list or mapping; {example}") from None
    return value


def parse_gpus(value: object, path: str = "gpu") -> tuple[tuple[AcceleratorSpec, ...], bool]:
    """The `gpu` field: one requirement, or alternatives and whether they are in order of
    preference. A list is SkyPilot's ordered preference ([A100:1, V100:1]); a mapping of model
    to count is its any-of set ({A100: 1, V100: 1}, or YAML's {A100:1, V100:1}); a mapping of
    kind/vendor/model/name/memory/count is one requirement (dstack's object form)."""
    value = _flow(value, path)
    if isinstance(value, list | tuple):
        if not value:
            raise SpecError(path, "an empty list of alternatives; e.g. ['A100:1', 'V100:1']")
        found = [parse_accelerator(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return tuple(found), len(found) > 1
    if (
        isinstance(value, Mapping)
        and not any(key in _OBJECT_KEYS for key in value)
        and all(
            count is None or (isinstance(count, int | float) and not isinstance(count, bool))
            for count in value.values()
        )
    ):
        found = []
        for key, count in value.items():
            where = f"{path}.{key}"
            if not isinstance(key, str):
                raise SpecError(path, f"a model is a string like 'A100', got {_type(key)}")
            if count is None:  # YAML's {A100:1}: the key is the whole shorthand
                found.append(parse_accelerator(key, where))
                continue
            if ":" in key:
                raise SpecError(where, f"{key!r} already has a count; write {{{key}: null}} or "
                                       f"{{{key.split(':')[0]}: {count}}}")  # fmt: skip
            low, high = _count_range(count, where)
            one = parse_accelerator(key, where)
            if one.count != 1 or one.count_max is not None:
                raise SpecError(where, f"{key!r} has a count of its own; e.g. {{A100: 2}}")
            found.append(replace(one, count=low, count_max=high))
        return tuple(found), False
    return (parse_accelerator(value, path),), False


# ---- the whole spec ---------------------------------------------------------------------------

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
