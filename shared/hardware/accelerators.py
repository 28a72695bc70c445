"""Accelerators in the hardware spec: the shorthands (`H100:8`, `A100:80GB:1..2`, `40GB+`),
the object forms of dstack and SkyPilot, and lists of alternatives."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

import yaml

from shared.hardware.sizes import _MAX_DIGITS, _NUMBER, _count, _range, _type
from shared.hardware.spec import (
    _VENDORS,
    AcceleratorSpec,
    Range,
    SpecError,
    normalise_vendor,
)

# What a vendor's accelerators are when an `accelerators` entry does not say.
_VENDOR_KIND = {"nvidia": "gpu", "amd": "gpu", "intel": "gpu", "xilinx": "fpga", "altera": "fpga"}
_KINDS = ("gpu", "fpga", "accelerator")


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
