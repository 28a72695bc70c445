"""Numbers and sizes of the hardware spec: memory (decimal and binary units), CPU quantities,
counts, and ranges of them."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction

from shared.hardware.spec import (
    Range,
    SpecError,
)

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
