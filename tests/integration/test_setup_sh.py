"""services/builder/setup.sh's python step, run for real on this machine (as it runs inside
an image being built): a venv, the package manager from PyPI, then the Pipfile.lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.builder.recipe import SETUP
from shared.python_env import parse_pipfile, pipfile_hash

PIPFILE = """[[source]]
name = "pypi"
url = "https://pypi.org/simple"
verify_ssl = true

[packages]
six = "==1.16.0"
"""
SIX_HASHES = [
    "sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926",
    "sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254",
]


def _tools(root: Path, lock_hash: str) -> Path:
    tools = root / "tools"
    (tools / "pipenv").mkdir(parents=True)
    (tools / "requirements.txt").write_text("micropipenv[toml]\n")
    (tools / "package-manager").write_text("micropipenv")
    (tools / "pipenv" / "Pipfile").write_text(PIPFILE)
    lock = {
        "_meta": {
            "hash": {"sha256": lock_hash},
            "sources": parse_pipfile(PIPFILE)["source"],
            "requires": {},
        },
        "default": {"six": {"hashes": SIX_HASHES, "index": "pypi", "version": "==1.16.0"}},
        "develop": {},
    }
    (tools / "pipenv" / "Pipfile.lock").write_text(json.dumps(lock))
    return tools


def _setup(tools: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TESSERA_TOOLS": str(tools)}
    return subprocess.run(
        ["/bin/sh", str(SETUP), "python"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_micropipenv_installs_the_lock_into_the_venv(tmp_path: Path) -> None:
    tools = _tools(tmp_path, pipfile_hash(parse_pipfile(PIPFILE)))
    done = _setup(tools)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installing Pipfile.lock with micropipenv" in done.stdout
    venv_python = tools / "venv" / "bin" / "python"
    version = subprocess.run(
        [str(venv_python), "-c", "import six; print(six.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert version.stdout.strip() == "1.16.0"


@pytest.mark.parametrize("lock_hash", ["0" * 64])
def test_a_stale_lock_stops_the_build(tmp_path: Path, lock_hash: str) -> None:
    done = _setup(_tools(tmp_path, lock_hash))
    assert done.returncode != 0
    assert "does not correspond" in done.stdout + done.stderr  # micropipenv's --deploy check
