"""The user data itself, run by the oldest Pythons a node may have (3.6, 3.8) and this one,
against S3 on loopback through presigned URLs only (moto's server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared import hwinfo, runner
from shared.s3store import S3Store
from shared.testbeds.base import Job
from shared.testbeds.ec2 import render
from tests import moto
from tests.unit.shared.test_node_pythons import _interpreter

PYTHONS = [p for p in (_interpreter("3.6"), _interpreter("3.8")) if p] + [Path(sys.executable)]


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: p.name)
def test_the_bootstrap_runs_a_job_through_presigned_urls(python: Path, tmp_path: Path) -> None:
    store = S3Store(moto.client("s3"), moto.new_bucket(), "p")
    key, testbed = uuid.uuid4(), "tb"
    files = {
        "runner.py": Path(runner.__file__).read_bytes(),
        "hwinfo.py": Path(hwinfo.__file__).read_bytes(),
    }
    script = b"echo started; echo to-stderr >&2; cat in.txt; exit 4"
    job = Job(
        argv=[],
        env={"LANG": "C.UTF-8"},
        script=("script", script),
        files=[("in.txt", b"input\n", False)],
    )
    store.put(render.bundle_key(testbed, key, "bundle.tar.gz"), render.bundle(job, files))

    def link(name: str, method: str) -> str:
        url = store.url(name, 600, method)
        assert url is not None
        return url

    made = render.manifest(testbed, key, link, parts=4, log_interval_s=0.2)
    store.put(render.bundle_key(testbed, key, "manifest.json"), json.dumps(made).encode())
    user_data = tmp_path / "user-data"
    user_data.write_text(
        render.user_data(link(render.bundle_key(testbed, key, "manifest.json"), "get"))
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "shutdown").write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/shutdown\n')
    (bin_dir / "shutdown").chmod(0o755)
    env = {"HOME": str(tmp_path / "home"), "PATH": f"{bin_dir}:{os.defpath}", "LANG": "C.UTF-8"}
    done = subprocess.run(
        [str(python), str(user_data)], env=env, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "shutdown").read_text().strip() == "-h now"
    out = store.list(f"ec2/{testbed}/{key}/")
    status = json.loads(store.get(render.result_key(testbed, key, "status.json")) or b"")
    assert status["exit_code"] == 4
    assert store.get(render.result_key(testbed, key, "stdout")) == b"started\ninput\n"
    assert store.get(render.result_key(testbed, key, "stderr")) == b"to-stderr\n"
    hw = json.loads(store.get(render.result_key(testbed, key, "hwinfo.json")) or b"")
    assert hw["cpu"]["arch"]
    parts = sorted(n for n in out if "/log/" in n)
    log = b"".join(store.get(n) or b"" for n in parts)
    assert b"started" in log and b"to-stderr" in log
