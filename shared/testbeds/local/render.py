"""Pure: what the runner of a local run is told to do (job.json), on the host or in an image."""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import Any

from shared.config import Settings
from shared.testbeds import containers
from shared.testbeds.base import Job
from shared.testbeds.local.runtimes import buildah

IN_CONTAINER = "/tessera/run"  # where a run's folder is mounted inside its container
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def container_plan(
    folder: PurePath,
    image: str,
    env: dict[str, str],
    runtime: str,
    settings: Settings,
    gpu_vendor: str | None = None,
) -> dict[str, Any]:
    """The runner's commands for a run inside `image`: create, the prefix that runs a
    command in it (probe and script alike), remove, and how the GPUs the run was given go
    into that prefix (`containers.gpu_plan`). Values travel as argv, never a shell."""
    tls = f"--tls-verify={'false' if settings.registry_plain_http else 'true'}"
    mount = ["--volume", f"{folder}:{IN_CONTAINER}"]
    variables = [word for name, value in env.items() for word in ("--env", f"{name}={value}")]
    if runtime == "podman":
        # One container per command; --rm removes each.
        prefix = ["podman", "run", "--rm", tls, *mount, "--workdir", f"{IN_CONTAINER}/work"]
        return {
            "create": [],
            "exec": [*prefix, *variables, image],
            "remove": [],
            "gpus": containers.gpu_plan(runtime, gpu_vendor, 3),
        }
    name = f"tessera-run-{folder.name}"
    tool = buildah(settings)
    run = [*tool, "run", "--isolation", settings.buildah_isolation, *mount]
    return {
        "create": [*tool, "from", "--quiet", "--pull=false", tls, "--name", name, image],
        "exec": [*run, "--workingdir", f"{IN_CONTAINER}/work", *variables, name, "--"],
        "remove": [*tool, "rm", name],
        "gpus": containers.gpu_plan(runtime, gpu_vendor, len(tool) + 1),
    }


def _script_argv(script: tuple[str, bytes] | None, where: str) -> list[str] | None:
    """Like a shell: a script without a #! line is read by /bin/sh."""
    if script is None:
        return None
    name, content = script
    return [f"{where}/{name}"] if content.startswith(b"#!") else ["/bin/sh", f"{where}/{name}"]


def host_job(folder: PurePath, job: Job) -> dict[str, Any]:
    """job.json of a run on this machine's own OS (in a venv when the build made one)."""
    env = dict(job.env)
    if job.venv:
        env["VIRTUAL_ENV"] = job.venv
        env["PATH"] = f"{job.venv}/bin:{env.get('PATH', os.defpath)}"
    env.setdefault("TMPDIR", str(folder / "tmp"))
    env.setdefault("HOME", str(folder / "work"))
    env["TESSERA_HWINFO"] = str(folder / "hwinfo.json")
    return {
        "argv": _script_argv(job.script, str(folder)) or list(job.argv),
        "env": env,
        "timeout": job.timeout_s,
        "log_cap": job.log_cap,
        "script": job.script[0] if job.script is not None else None,
    }


def image_job(
    folder: PurePath,
    job: Job,
    runtime: str,
    host_path: str,
    settings: Settings,
    gpu_vendor: str | None = None,
) -> dict[str, Any]:
    """job.json of a run inside `job.image`: the probe and the command run in the image, the
    run's folder mounted in it, with the GPUs the run is given (of `gpu_vendor`)."""
    assert job.image is not None
    env = {key: value for key, value in job.env.items() if key != "PATH"}
    env.setdefault("TMPDIR", f"{IN_CONTAINER}/tmp")
    env.setdefault("HOME", f"{IN_CONTAINER}/work")
    env["TESSERA_HWINFO"] = f"{IN_CONTAINER}/hwinfo.json"
    argv = _script_argv(job.script, IN_CONTAINER) or list(job.argv)
    plan = container_plan(folder, job.image, env, runtime, settings, gpu_vendor)
    return {
        "argv": [*plan["exec"], *argv],
        "env": {"PATH": host_path, "LANG": "C.UTF-8"},
        "timeout": job.timeout_s,
        "log_cap": job.log_cap,
        "script": job.script[0] if job.script is not None else None,
        "container": {
            "runtime": runtime,
            "image": job.image,
            "create": plan["create"],
            "remove": plan["remove"],
            "probe": [*plan["exec"], "python3", "-I", f"{IN_CONTAINER}/hwinfo.py", "--run"],
            "gpus": plan["gpus"],
        },
    }
