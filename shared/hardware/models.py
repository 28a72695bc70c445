"""Known accelerator models' memory: what a node's scheduler names a device, its memory.

For testbeds whose scheduler names a GPU model but not its memory (SLURM's gres types), when
the node's probe could not see the device. Sizes are the nominal ones in GB (10^9 bytes), as
people write them in a spec (`nvidia:40GB..`); the driver reports a little more (81559 MiB for
an H100 80GB), so a request for "80GB.." fits both the table and the probe.
"""

from __future__ import annotations

import re

from shared.hardware.matching import model_matches

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
