"""Known accelerator models' memory, and a card's nominal memory size.

A GPU's memory is asked for by its nominal size, the one its vendor sells it by ("80GB"): the
driver reports something else (an H100 80GB reports 81559 MiB, 85.5 GB; a T4 16GB 15360 MiB,
15 GiB), so a device is matched by `nominal_memory`: the size its name states, else the table
below, else the standard size nearest to what the driver reports (in GiB). The table also
serves testbeds whose scheduler names a GPU model but not its memory (SLURM's gres types).
"""

from __future__ import annotations

import math
import re

from shared.hardware.spec import NodeAccelerator, model_matches

GB = 1000**3

# Most specific first: the first model whose tokens are all in the name gives the memory.
# A model sold with several sizes (A100 40/80GB, V100 16/32GB, A800, GH200, MI250X as one
# or two devices) has no entry: its name must say the size ("A100-SXM4-80GB", "a100_80g").
KNOWN_MEMORY_GB: tuple[tuple[str, int], ...] = (
    ("H100 NVL", 94),
    ("H100", 80),
    ("H800", 80),
    ("H200", 141),
    ("L40S", 48),
    ("L40", 48),
    ("L4", 24),
    ("A10G", 24),
    ("A40", 48),
    ("A30", 24),
    ("A10", 24),
    ("T4", 16),
    ("V100S", 32),
    ("P40", 24),
    ("RTX 6000 Ada", 48),
    ("RTX A6000", 48),
    ("RTX 4090", 24),
    ("RTX 3090", 24),
    ("MI300X", 192),
    ("MI300A", 128),
    ("MI210", 64),
    ("MI100", 32),
)

# "80GB", "80GiB" as a word of the name ("A100-SXM4-80GB", MIG's "3g.40gb"); else "80G"
# ("a100_80g"), but not MIG's slice count ("1g." of "1g.10gb").
_SIZES_IN_NAME = (
    re.compile(r"(?:^|[^A-Z0-9])(?<![0-9]\.)([0-9]{1,3}) ?GI?B(?:[^A-Z0-9]|$)"),
    re.compile(r"(?:^|[^A-Z0-9.])([0-9]{1,3}) ?G(?:[^A-Z0-9.]|$)"),
)


def known_memory(name: str) -> int | None:
    """The memory in bytes of a device so named: the size its name states, else the table's;
    None for a model the table does not know or that comes in several sizes."""
    upper = name.upper()
    for pattern in _SIZES_IN_NAME:
        stated = pattern.search(upper)
        if stated is not None:
            return int(stated.group(1)) * GB
    for model, size in KNOWN_MEMORY_GB:
        if model_matches(model, name):
            return size * GB
    return None


# The sizes cards are sold with, in GB: a reported size is read as the nearest of these.
STANDARD_SIZES_GB = (
    1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 64, 80, 94, 96, 128, 141, 144,
    180, 192, 256, 288,
)  # fmt: skip
GiB = 1024**3


def nominal_memory(device: NodeAccelerator) -> int | None:
    """A device's memory as its vendor states it, in units of 10^9 bytes ("80GB" is 80 * 10^9):
    the size its name or the table gives, else the standard size nearest to the reported one
    read in GiB (81559 MiB: 79.6 GiB, so 80GB; 15360 MiB: 15 GiB, so 16GB); None if unknown."""
    named = known_memory(device.model)
    if named is not None:
        return named
    if device.memory_bytes is None:
        return None
    gib = device.memory_bytes / GiB
    if gib < 0.75:
        return device.memory_bytes
    nearest = min(STANDARD_SIZES_GB, key=lambda size: abs(math.log(size / gib)))
    return nearest * GB
