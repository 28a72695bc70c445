"""Pure: how a SLURM job runs a run's command in an image, with the GPUs SLURM gave the job."""

from __future__ import annotations

import uuid
from typing import Any

from shared.testbeds import containers


def registry_ref(image: str) -> str:
    """An image reference as enroot and pyxis spell it: `registry#repository:tag`."""
    head, slash, rest = image.partition("/")
    if slash and ("." in head or ":" in head or head == "localhost"):
        return f"{head}#{rest}"
    return image


def command(
    runtime: str,
    image: str,
    folder: str,
    argv: list[str],
    vendor: str | None,
    run_id: uuid.UUID,
) -> tuple[list[str], dict[str, Any]]:
    """The command that runs `argv` in `image` with `runtime` inside the job, the run's folder
    mounted at its own path, and the runner's `container` steps (what to make first and
    remove after, how the job's GPUs go in): the GPUs SLURM gave the job, never others."""
    mount = f"{folder}:{folder}"
    if runtime == "pyxis":  # srun in the job's allocation: pyxis hands its GPUs to enroot
        return [
            "srun", "--ntasks=1", f"--container-image={registry_ref(image)}",
            f"--container-mounts={mount}", f"--container-workdir={folder}/work", *argv,
        ], {"image": image}  # fmt: skip
    if runtime == "apptainer":  # --nv/--rocm; CUDA_VISIBLE_DEVICES passes in with the env
        flags = containers.gpu_flags(runtime, vendor)
        command = ["apptainer", "exec", *flags, "--bind", folder, f"docker://{image}", *argv]
        return command, {"image": image}
    if runtime == "enroot":  # import, create, start, remove: `start` takes a container name
        name, squash = f"tessera-{run_id}", f"{folder}/image.sqsh"
        return ["enroot", "start", "--rw", "--mount", mount, name, *argv], {
            "image": image,
            "create": [
                ["enroot", "import", "--output", squash, f"docker://{registry_ref(image)}"],
                ["enroot", "create", "--force", "--name", name, squash],
            ],
            "remove": ["enroot", "remove", "--force", name],
            "gpus": containers.gpu_plan(runtime, vendor, 2),
        }
    command = ["podman", "run", "--rm", "-v", mount, image, *argv]
    return command, {"image": image, "gpus": containers.gpu_plan("podman", vendor, 3)}
