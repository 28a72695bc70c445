"""The code that runs on nodes (the probe, the runner, the pod's entry script) runs on every
Python from 3.6 on, standard library only: clusters keep RHEL 8 and Ubuntu 20.04 for years.

Each interpreter that pyenv keeps under ~/.pyenv/versions (3.6 to 3.13 on Tessera's machines)
runs the real files; 3.6 and 3.8 must be there (the test fails without them), the others are
tested where they are installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PYENV = Path.home() / ".pyenv" / "versions"
VERSIONS = ("3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
NODE_FILES = (
    ROOT / "shared" / "hwinfo.py",
    ROOT / "shared" / "runner.py",
    ROOT / "shared" / "testbeds" / "kubernetes" / "entry.py",
    ROOT / "shared" / "testbeds" / "ssh" / "host.py",
    ROOT / "shared" / "testbeds" / "ec2" / "bootstrap.py",
)


def _interpreter(version: str) -> Path | None:
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}")) if PYENV.is_dir() else []
    return found[-1] if found else None


# The oldest Pythons the clusters keep (RHEL 8's platform-python, Ubuntu 20.04's) must be
# here; the others are tested where pyenv has them.
REQUIRED = ("3.6", "3.8")
INSTALLED = [v for v in VERSIONS if v in REQUIRED or _interpreter(v) is not None]


@pytest.fixture(params=INSTALLED)
def python(request: pytest.FixtureRequest) -> Path:
    found = _interpreter(request.param)
    assert found is not None, f"python {request.param} is missing: pyenv install {request.param}"
    return found


def test_the_oldest_pythons_are_there_to_test_with() -> None:
    missing = [v for v in REQUIRED if _interpreter(v) is None]
    assert not missing, f"pyenv must keep Python {', '.join(missing)} under {PYENV}"


def test_the_node_files_compile(python: Path) -> None:
    for path in NODE_FILES:
        check = "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')"
        done = subprocess.run(
            [str(python), "-c", check, str(path)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{path.name} on {python.name}: {done.stderr}"


def test_the_probe_runs(python: Path) -> None:
    done = subprocess.run(
        [str(python), "-I", str(ROOT / "shared" / "hwinfo.py")],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads(done.stdout)
    assert data["cpu"]["arch"] and data["memory"]["total_bytes"] > 0
    assert data["python"]["version"].startswith(python.name.removeprefix("python"))


def test_the_runner_runs_a_job(python: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    (folder / "work").mkdir(parents=True)
    for name in ("runner.py", "hwinfo.py"):
        shutil.copy(ROOT / "shared" / name, folder / name)
    (folder / "script").write_text("#!/bin/sh\necho out; echo err >&2; exit 3\n")
    (folder / "script").chmod(0o755)
    job = {
        "argv": [str(folder / "script")],
        "env": {"PATH": "/usr/bin:/bin"},
        "timeout": 60,
        "log_cap": 1024,
        "script": "script",
    }
    (folder / "job.json").write_text(json.dumps(job))
    done = subprocess.run(
        [str(python), "-I", str(folder / "runner.py"), str(folder)],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    status = json.loads((folder / "status.json").read_text())
    assert status["exit_code"] == 3 and status["script_sha256"] and status["end"].endswith("Z")
    assert (folder / "stdout").read_bytes() == b"out\n" and (
        folder / "stderr"
    ).read_bytes() == b"err\n"
    assert json.loads((folder / "hwinfo.json").read_text())["cpu"]["arch"]


def test_the_pod_entry_prepares_and_builds_a_venv(python: Path, tmp_path: Path) -> None:
    """kube_entry.py's init container step (probe, run folder, tessera-exec copied) and its
    venv step (a host image's python3 builds the venv, then becomes the command)."""
    files = tmp_path / "files"  # the ConfigMap's volume
    files.mkdir()
    shutil.copy(ROOT / "shared" / "hwinfo.py", files / "hwinfo.py")
    shutil.copy(ROOT / "shared" / "testbeds" / "kubernetes" / "entry.py", files / "kube_entry.py")
    (files / "script").write_text("#!/bin/sh\ncat in.txt\n")
    (files / "f0").write_text("42\n")
    (files / "requirements.txt").write_text("# nothing to install\n")
    job = {"script": "script", "files": [["f0", "in.txt", False]], "requirements": None}
    (files / "job.json").write_text(json.dumps(job))
    run, message = tmp_path / "run", tmp_path / "termination-log"
    helper = tmp_path / "image-bin"  # Tessera's image: tessera-exec on its PATH
    helper.mkdir()
    (helper / "tessera-exec").write_bytes(b"#!/bin/sh\n")
    (helper / "tessera-exec").chmod(0o755)
    entry = [str(python), "-I", str(files / "kube_entry.py")]
    env = {"PATH": f"{helper}:/usr/bin:/bin"}
    prepared = subprocess.run(
        [*entry, "prepare", str(files / "job.json"), str(run), str(message)],
        capture_output=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr.decode()
    assert json.loads(prepared.stdout)["cpu"]["arch"]
    assert json.loads((run / "hwinfo.json").read_text())["cpu"]["arch"]
    assert (run / "work" / "in.txt").read_text() == "42\n" and (run / "tmp").is_dir()
    assert (run / "script").stat().st_mode & 0o111
    assert (run / ".tessera" / "tessera-exec").stat().st_mode & 0o111
    missing = subprocess.run(
        [*entry, "prepare", str(files / "job.json"), str(tmp_path / "other"), str(message)],
        capture_output=True, timeout=120, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert missing.returncode == 1
    assert "tessera-exec is not on this image's PATH" in message.read_text()
    venv = tmp_path / "venv"
    ran = subprocess.run(
        [*entry, "venv", str(files / "requirements.txt"), str(venv), "--", "sh", "-c",
         'echo "$VIRTUAL_ENV"; command -v python'],
        capture_output=True, timeout=300, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr.decode()
    assert ran.stdout.decode().split() == [str(venv), str(venv / "bin" / "python")]
