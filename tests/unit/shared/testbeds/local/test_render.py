"""Image runs on the local testbed: the runtime probe and the runner's container commands."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest

from shared import hardware, placement
from shared.config import Settings
from shared.testbeds.base import Job
from shared.testbeds.local import render, runtimes
from shared.testbeds.local.connector import LocalConnector

IMAGE = "127.0.0.1:5000/tessera/env:" + "e" * 64
SETTINGS = Settings(registry="127.0.0.1:5000", buildah_storage_driver="vfs",
                    buildah_isolation="chroot")  # fmt: skip


def test_container_plan_for_buildah(tmp_path: Path) -> None:
    folder = tmp_path / "run-1"
    plan = render.container_plan(folder, IMAGE, {"A": "x y$z", "B": "1\n2"}, "buildah", SETTINGS)
    name = "tessera-run-run-1"
    assert plan["create"] == [
        "buildah", "--storage-driver", "vfs", "from", "--quiet", "--pull=false",
        "--tls-verify=false", "--name", name, IMAGE,
    ]  # fmt: skip
    assert plan["exec"] == [
        "buildah", "--storage-driver", "vfs", "run", "--isolation", "chroot",
        "--volume", f"{folder}:/tessera/run", "--workingdir", "/tessera/run/work",
        "--env", "A=x y$z", "--env", "B=1\n2", name, "--",
    ]  # fmt: skip
    assert plan["remove"] == ["buildah", "--storage-driver", "vfs", "rm", name]


def test_container_plan_for_podman(tmp_path: Path) -> None:
    plan = render.container_plan(tmp_path, IMAGE, {"A": "1"}, "podman", SETTINGS)
    assert plan["create"] == [] and plan["remove"] == []
    assert plan["exec"][:3] == ["podman", "run", "--rm"] and plan["exec"][-1] == IMAGE


def test_image_job_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = LocalConnector(tmp_path)
    monkeypatch.setattr(runtimes, "probe", lambda: ["native", "buildah"])
    folder = tmp_path / "r"
    folder.mkdir()
    job = Job(argv=[], env={"PATH": "/host/bin", "A": "1"}, script=("script", b"echo hi\n"),
              image=IMAGE)  # fmt: skip
    connector._prepare(folder, job, {})
    spec = json.loads((folder / "job.json").read_text())
    assert spec["argv"][-2:] == ["/bin/sh", "/tessera/run/script"]
    assert "PATH=/host/bin" not in spec["argv"]  # the image's PATH applies inside
    assert "TESSERA_HWINFO=/tessera/run/hwinfo.json" in spec["argv"]
    assert spec["container"]["probe"][-4:] == ["python3", "-I", "/tessera/run/hwinfo.py", "--run"]
    assert (folder / "work").stat().st_mode & 0o777 == 0o777


def test_feasible_needs_a_container_runtime_for_images() -> None:
    node = hardware.NodeInfo("n", "t", "x86_64", None, None, frozenset(), 2, 2**30, ())
    native = placement.Candidate(uuid.uuid4(), "t", "local", node, frozenset({"native"}))
    found = placement.feasible(hardware.HardwareSpec(), [native], testbed=None,
                               image=IMAGE, spec_field="run.requests.hardware")  # fmt: skip
    assert isinstance(found, placement.Unmet) and found.field == "base"
    assert "container runtime" in found.reason
    buildah = placement.Candidate(uuid.uuid4(), "t", "local", node, frozenset({"buildah"}))
    both = placement.feasible(hardware.HardwareSpec(), [native, buildah], testbed=None,
                              image=IMAGE, spec_field="run.requests.hardware")  # fmt: skip
    assert both == [buildah]


@pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah is not installed")
def test_probe_runtimes_runs_a_real_container() -> None:
    runtimes.probe.cache_clear()
    started = time.monotonic()
    found = runtimes.probe()
    assert found[0] == "native" and "buildah" in found, found
    assert time.monotonic() - started < 30


def test_runner_reports_a_container_that_cannot_be_made(tmp_path: Path) -> None:
    from shared import runner

    (tmp_path / "work").mkdir()
    job = {
        "argv": ["true"], "env": {}, "script": None,
        "container": {"create": ["sh", "-c", "echo no such image >&2; exit 125"],
                      "remove": ["true"], "image": IMAGE},
    }  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert runner.main(str(tmp_path)) == 0
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["exit_code"] == 125 and "no such image" in status["error"]
    assert IMAGE in json.loads((tmp_path / "hwinfo.json").read_text())["errors"][0]
