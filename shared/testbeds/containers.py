"""How each container runtime is handed the GPUs a run was given, for every testbed that runs
images with it (local, SSH hosts, SLURM).

The devices are only known where the run starts: the scheduler (SLURM's allocation) or the
host (`host.py`'s claim) names them in CUDA_VISIBLE_DEVICES or ROCR_VISIBLE_DEVICES. So a
plan here is data the runner applies (`runner.with_gpus`): which variable names them, where
in the runtime's command line their options go, and the options, per device or once for all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.hardware import HardwareSpec

GPU_VARIABLE = {"nvidia": "CUDA_VISIBLE_DEVICES", "amd": "ROCR_VISIBLE_DEVICES"}
AMD_DEVICES = ["--device", "/dev/kfd", "--device", "/dev/dri"]


def gpu_plan(runtime: str, vendor: str | None, at: int) -> dict[str, Any] | None:
    """The runner's `gpus` entry for a run asking `vendor`'s GPUs in `runtime`, its options
    inserted at position `at` of the runtime's command; None when the runtime needs none
    (apptainer: a flag, `gpu_flags`) or the run asks no GPU."""
    if vendor is None:
        return None
    variable = GPU_VARIABLE.get(vendor, "CUDA_VISIBLE_DEVICES")
    if runtime in ("podman", "buildah"):
        if vendor == "amd":  # the ROCm devices, and which of them: the host's numbering holds
            return {"from": variable, "at": at, "joined": [*AMD_DEVICES, "--env",
                    "ROCR_VISIBLE_DEVICES={}"], "otherwise": AMD_DEVICES}  # fmt: skip
        # CDI (nvidia-ctk cdi generate): only the given GPUs exist in the container.
        return {"from": variable, "at": at, "each": ["--device", "nvidia.com/gpu={}"],
                "otherwise": ["--device", "nvidia.com/gpu=all"]}  # fmt: skip
    if runtime == "enroot" and vendor == "nvidia":  # enroot's nvidia hook reads it
        return {"from": variable, "at": at, "joined": ["--env", "NVIDIA_VISIBLE_DEVICES={}"],
                "otherwise": ["--env", "NVIDIA_VISIBLE_DEVICES=all"]}  # fmt: skip
    return None


def gpu_flags(runtime: str, vendor: str | None) -> list[str]:
    """Options that give a runtime the GPUs its environment names (apptainer reads
    CUDA_VISIBLE_DEVICES from the run's environment, which it passes in)."""
    if runtime == "apptainer":
        return {"nvidia": ["--nv"], "amd": ["--rocm"]}.get(vendor or "", [])
    return []


def gpu_vendor(spec: HardwareSpec, node_vendors: Sequence[str] = ()) -> str | None:
    """Whose GPUs the run asks: the vendor it names, else the node's GPUs' (the node that
    fits them), else nvidia; None when it asks no GPU."""
    gpus = [a for a in spec.accelerators if a.kind == "gpu"]
    if not gpus:
        return None
    named = next((a.vendor for a in gpus if a.vendor), None)
    return named or next((v.lower() for v in node_vendors if v), None) or "nvidia"


def node_vendors(inventory: Mapping[str, Any]) -> list[str]:
    """The vendors of a node's GPUs, from its stored inventory."""
    return [
        str(a.get("vendor") or "")
        for a in inventory.get("accelerators") or ()
        if a.get("kind", "gpu") == "gpu"
    ]
