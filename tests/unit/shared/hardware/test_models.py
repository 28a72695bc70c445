"""Known models' memory (shared/hardware/models.py): the size a name states, else the table's."""

from __future__ import annotations

import pytest

from shared import hardware

GB = 1000**3


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("H100", 80),
        ("h100", 80),  # a SLURM gres type
        ("h100_nvl", 94),  # more specific entries first
        ("NVIDIA H100 80GB HBM3", 80),
        ("GH100 [H100 SXM5 80GB]", 80),  # the PCI scan's name, when no nvidia-smi answered
        ("A100-SXM4-80GB", 80),
        ("a100_80g", 80),
        ("a100-40gb", 40),
        ("nvidia_a100_3g.40gb", 40),  # a MIG profile: its memory, not its slices
        ("L40S", 48),
        ("L4", 24),
        ("NVIDIA GeForce RTX 4090", 24),
        ("MI300X", 192),
    ],
)
def test_known_sizes(name: str, size: int) -> None:
    assert hardware.known_memory(name) == size * GB


@pytest.mark.parametrize("name", ["A100", "V100", "GH200", "gpu", "tesla", "v1.5g"])
def test_models_of_several_sizes_or_none_known_say_nothing(name: str) -> None:
    assert hardware.known_memory(name) is None


def test_the_table_fits_what_people_ask_and_what_the_driver_reports() -> None:
    """Nominal sizes in GB: an "80GB.." request fits the table's H100 and nvidia-smi's alike
    (81559 MiB), so a node's answer does not depend on which one it came from."""
    asked = hardware.parse_accelerator("nvidia:80GB..:1").memory
    assert asked.contains(hardware.known_memory("H100"))
    assert asked.contains(81559 * 2**20)
