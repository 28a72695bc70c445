"""A workflow task's outputs from a pod: the render gives tessera-exec the globs, the real
tessera-exec (built from tessera_exec.c) sends the files after the streams, and they are
read back as the runner would have put them in status.json."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate

from shared.testbeds.kubernetes import outputs
from shared.testbeds.kubernetes import parse as kp
from shared.testbeds.kubernetes import render as kj
from tests.kubeapi.server import build_exec
from tests.unit.shared.testbeds.kubernetes.test_render import CONFIG, GPU_NODE, RUN, TESTBED, _job

WANTED = json.dumps({"globs": ["part-*.json", "sub/*"], "cap": 1000}).encode()


def _exec(folder: Path, script: str, *flags: str) -> bytes:
    binary = os.path.join(build_exec(), "tessera-exec")
    done = subprocess.run(
        [binary, "-m", str(folder / "message"), *flags, "--", "sh", "-c", script],
        cwd=folder, capture_output=True, check=False, timeout=30,
    )  # fmt: skip
    return done.stdout


def test_the_outputs_globs_reach_tessera_exec_and_the_job_still_validates() -> None:
    job = _job(files=[(outputs.OUTPUTS_FILE, WANTED, False), ("in/a", b"x", False)])
    manifest, configmap = kj.render(job, RUN, TESTBED, GPU_NODE, CONFIG)
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)
    owner = {"metadata": {"name": "x", "uid": str(uuid.uuid4())}}
    kubernetes_validate.validate(
        kj.owned_by(configmap, owner), kubernetes_validate.latest_version(), strict=True
    )
    pod: dict[str, Any] = manifest["spec"]["template"]
    [main] = pod["spec"]["containers"]
    assert main["command"][-7:] == ["-c", "1000", "-o", "part-*.json", "-o", "sub/*", "--"]
    assert outputs.asked(pod)
    plain, _ = kj.render(_job(), RUN, TESTBED, GPU_NODE, CONFIG)
    assert "-o" not in plain["spec"]["template"]["spec"]["containers"][0]["command"]
    assert not outputs.asked(plain["spec"]["template"])


def test_tessera_exec_sends_the_matching_files_after_the_streams(tmp_path: Path) -> None:
    script = (
        "echo out; echo err >&2; mkdir sub; printf '{\"v\": 1}' > part-1.json; "
        ": > part-2.json; printf 'a b' > 'sub/x y'; echo no > other.txt; touch .part-3.json"
    )
    log = _exec(tmp_path, script, "-c", "1000", "-o", "part-*.json", "-o", "sub/*", "-o", "*")
    stdout, stderr, _ = kp.demux(log)
    assert (stdout, stderr) == (b"out\n", b"err\n")  # the records are not the streams'
    found = outputs.collect(log, True, 0)
    assert [item["path"] for item in found["outputs"]] == [
        "part-1.json",
        "part-2.json",
        "sub/x y",
        "other.txt",
    ]  # fmt: skip: each once, in glob order; `*` skips dot files (.part-3.json)
    data = {item["path"]: base64.b64decode(item["data"]) for item in found["outputs"]}
    assert data["part-1.json"] == b'{"v": 1}' and data["part-2.json"] == b""
    assert data["sub/x y"] == b"a b" and "outputs_error" not in found


def test_over_the_cap_cut_failed_or_not_asked(tmp_path: Path) -> None:
    big = _exec(tmp_path, "head -c 2000 /dev/zero > part-1.json", "-c", "1000", "-o", "part-*")
    over = outputs.collect(big, True, 0)
    assert over == {"outputs": [], "outputs_error": "outputs are 2000 bytes, over 1000"}
    small = _exec(tmp_path, "echo 1 > part-1.json", "-c", "1000", "-o", "part-*")
    cut = outputs.collect(small[: small.index(b"\nF ")], True, 0)
    assert cut["outputs"] == [] and "cut from the pod's log" in cut["outputs_error"]
    assert "cut" in outputs.collect(b"# tessera-exec 1\no x\n", True, 0)["outputs_error"]
    assert b"O " not in _exec(tmp_path, "exit 3", "-c", "1000", "-o", "part-*")
    assert outputs.collect(small, True, 3) == {} and outputs.collect(small, False, 0) == {}
