"""The hardware spec: what a run asks of a node, the one parser for it, and the match against nodes.

`spec` holds the model and its canonical form, `parse` the parser (with `sizes` and
`accelerators`), `matching` the match of a spec against nodes, `node` the node a hardware
probe describes and `models` known models' memory. Import the names from here.
"""

from shared.hardware.accelerators import parse_accelerator
from shared.hardware.matching import first_unmet, fits, match, model_matches
from shared.hardware.models import known_memory
from shared.hardware.node import node_from_hwinfo
from shared.hardware.parse import parse_spec
from shared.hardware.sizes import parse_cpu_quantity, parse_memory, parse_memory_range
from shared.hardware.spec import (
    AcceleratorSpec,
    CpuSpec,
    HardwareSpec,
    NodeAccelerator,
    NodeInfo,
    Range,
    SpecError,
    format_bytes,
    normalise_arch,
    normalise_vendor,
    to_dict,
    with_requests,
)

__all__ = [
    "AcceleratorSpec",
    "CpuSpec",
    "HardwareSpec",
    "NodeAccelerator",
    "NodeInfo",
    "Range",
    "SpecError",
    "first_unmet",
    "fits",
    "format_bytes",
    "known_memory",
    "match",
    "model_matches",
    "node_from_hwinfo",
    "normalise_arch",
    "normalise_vendor",
    "parse_accelerator",
    "parse_cpu_quantity",
    "parse_memory",
    "parse_memory_range",
    "parse_spec",
    "to_dict",
    "with_requests",
]
