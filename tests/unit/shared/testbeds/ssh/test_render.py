"""A run's folder on an SSH host, and the commands that drive it (shared/testbeds/ssh/render.py)."""

from __future__ import annotations

import json
import shlex
import uuid

import pytest

from shared.config import Settings
from shared.hardware import parse_spec
from shared.testbeds.base import Job, RenderError
from shared.testbeds.ssh import render

GPUS = [
    {"index": 0, "vendor": "nvidia", "model": "NVIDIA A100-SXM4-40GB", "memory_bytes": 40 * 2**30},
    {"index": 1, "vendor": "nvidia", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 80 * 2**30},
    {"index": 2, "vendor": "nvidia", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 80 * 2**30},
]
INVENTORY = {"runtimes": ["native"], "ssh": {"gpus": GPUS}}
RUN = uuid.UUID(int=7)


def _job(**changes: object) -> Job:
    values: dict[str, object] = {"argv": ["true"], "env": {"A": "1"}}
    return Job(**(values | changes))  # type: ignore[arg-type]


def test_only_the_devices_that_fit_are_eligible(settings: Settings) -> None:
    job = _job(hardware=parse_spec("nvidia:A100:80GB..:2"), cpu=2.0, memory=2**30)
    made = render.files(job, RUN, "/h/.tessera/n1", INVENTORY, settings)
    request = json.loads(made[f"/h/.tessera/n1/runs/{RUN}/request.json"])
    assert request == {"gpus": [{"count": 2, "eligible": ["1", "2"]}], "gpu_vendor": "nvidia",
                       "cpu": 2.0, "memory": 2**30}  # fmt: skip
    with pytest.raises(RenderError, match="2 GPUs that fit, the run asks 3"):
        render.files(_job(hardware=parse_spec("nvidia:A100:80GB..:3")), RUN, "/b", INVENTORY,
                     settings)  # fmt: skip


def test_a_venv_is_built_on_the_host_before_the_runner(settings: Settings) -> None:
    job = _job(python_requirements=("numpy==2.1.0",), script=("script", b"echo hi"))
    made = render.files(job, RUN, "/b", INVENTORY, settings)
    folder = f"/b/runs/{RUN}"
    spec = json.loads(made[f"{folder}/job.json"])
    assert spec["argv"] == ["/bin/sh", f"{folder}/script"]
    assert spec["env"]["VIRTUAL_ENV"].startswith("/b/venvs/")
    assert spec["env"]["PATH"].startswith(spec["env"]["VIRTUAL_ENV"] + "/bin:")
    assert made[f"{folder}/requirements.txt"] == b"numpy==2.1.0\n"
    start = made[f"{folder}/start.sh"].decode()
    assert "flock 9" in start and start.rstrip().endswith(f"runner.py {folder}")


def test_images_need_podman_on_the_host(settings: Settings) -> None:
    with pytest.raises(RenderError, match="needs podman"):
        render.files(_job(image="registry.example/x:1"), RUN, "/b", INVENTORY, settings)
    podman = {**INVENTORY, "runtimes": ["native", "podman"]}
    made = render.files(_job(image="registry.example/x:1"), RUN, "/b", podman, settings)
    assert json.loads(made[f"/b/runs/{RUN}/job.json"])["container"]["runtime"] == "podman"


def test_commands_quote_every_word() -> None:
    command = render.place_command("/l i b", "/b a$e", RUN, ["/b a$e/x y"])
    words = shlex.split(command.replace(" && ", " ; "))
    assert "/b a$e/x y" in words and "/l i b/host.py" in words and str(RUN) in words
