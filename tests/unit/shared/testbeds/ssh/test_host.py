"""host.py, the hosts' scheduler, run as the hosts run it: real processes in a folder here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from shared import hwinfo, runner
from shared.config import Settings
from shared.hardware import parse_spec
from shared.testbeds.base import Job
from shared.testbeds.ssh import host, parse, render

GPUS = [{"index": i, "vendor": "nvidia", "model": "NVIDIA H100 80GB HBM3",
         "memory_bytes": 85520809984} for i in (0, 1)]  # fmt: skip
INVENTORY = {"runtimes": ["native"], "ssh": {"gpus": GPUS}}


def _lib(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    lib.mkdir(exist_ok=True)
    for module in (host, runner, hwinfo):
        shutil.copy(module.__file__, lib / Path(module.__file__).name)
    return lib


def _prepare(base: Path, job: Job, settings: Settings) -> uuid.UUID:
    run_id = uuid.uuid4()
    for path, data in render.files(job, run_id, str(base), INVENTORY, settings).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    for path in render.executable_modes(job, run_id, str(base)):
        Path(path).chmod(0o755)
    for name in ("work", "tmp"):
        (base / "runs" / str(run_id) / name).mkdir(exist_ok=True)
    return run_id


def _host(lib: Path, *words: str) -> str:
    done = subprocess.run(
        [sys.executable, "-I", str(lib / "host.py"), *words],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def _job(script: bytes, gpu: str | None = "H100:1") -> Job:
    return Job(argv=[], env={"PATH": "/usr/bin:/bin"}, script=("script", script),
               hardware=parse_spec(gpu), cpu=1.0, timeout_s=60)  # fmt: skip


def _observe(lib: Path, base: Path, *runs: uuid.UUID) -> dict[uuid.UUID, parse.Seen]:
    return parse.observations(_host(lib, "observe", str(base), *map(str, runs)), runs)


def _until_ended(lib: Path, base: Path, *runs: uuid.UUID) -> None:
    deadline = time.monotonic() + 30
    while any(s.observation.state != "ended" for s in _observe(lib, base, *runs).values()):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_gpus_go_by_index_and_a_third_run_waits(tmp_path: Path, settings: Settings) -> None:
    lib, base = _lib(tmp_path), tmp_path / "base"
    job = _job(b"#!/bin/sh\necho gpu=$CUDA_VISIBLE_DEVICES\nsleep 1\n")
    runs = [_prepare(base, job, settings) for _ in range(3)]
    first, second = (parse.placed(_host(lib, "place", str(base), str(r))) for r in runs[:2])
    assert first.isdigit() and second.isdigit()
    said = _host(lib, "place", str(base), str(runs[2]))
    assert said.startswith("wait waiting for a GPU: 2 of the 2")
    assert not (base / "claims" / f"{runs[2]}.json").exists()
    _until_ended(lib, base, *runs[:2])
    outputs = sorted((base / "runs" / str(r) / "stdout").read_text() for r in runs[:2])
    assert outputs == ["gpu=0\n", "gpu=1\n"]
    # The GPUs are free again once their runners have ended: the third run starts now.
    assert parse.placed(_host(lib, "place", str(base), str(runs[2]))).isdigit()
    _until_ended(lib, base, runs[2])
    assert (base / "runs" / str(runs[2]) / "stdout").read_text().startswith("gpu=")
    assert sorted(p.name for p in (base / "claims").iterdir()) == [f"{runs[2]}.json"]


def test_a_second_placement_adopts_the_runner(tmp_path: Path, settings: Settings) -> None:
    lib, base = _lib(tmp_path), tmp_path / "base"
    run_id = _prepare(base, _job(b"#!/bin/sh\nsleep 1\n", gpu=None), settings)
    first = _host(lib, "place", str(base), str(run_id))
    again = _host(lib, "place", str(base), str(run_id))
    assert first == again and first.startswith("placed ")
    _until_ended(lib, base, run_id)
    assert len((base / "runs" / str(run_id) / "starts").read_text().splitlines()) == 1


def test_cancel_stops_the_run_and_it_records_the_end(tmp_path: Path, settings: Settings) -> None:
    lib, base = _lib(tmp_path), tmp_path / "base"
    run_id = _prepare(base, _job(b"#!/bin/sh\nsleep 60\n", gpu=None), settings)
    _host(lib, "place", str(base), str(run_id))
    deadline = time.monotonic() + 20
    while _observe(lib, base, run_id)[run_id].observation.state != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    _host(lib, "cancel", str(base), str(run_id))
    _until_ended(lib, base, run_id)
    status = json.loads((base / "runs" / str(run_id) / "status.json").read_text())
    assert status["cancelled"] is True
    gone = uuid.uuid4()
    assert _observe(lib, base, gone)[gone].observation.state == "gone"


def test_runtimes_lists_native_always(tmp_path: Path) -> None:
    found = parse.runtimes(_host(_lib(tmp_path), "runtimes"))
    assert "native" in found and set(found) <= {"native", "podman", "apptainer", "docker"}
