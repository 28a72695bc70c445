"""The local testbed places real processes: the runner, the probe, the command."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from shared.db.models import Testbed
from shared.testbeds.base import Job, Tracked
from shared.testbeds.local.connector import LocalConnector

ENV = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
TESTBED = Testbed(name="local", kind="local")


def _start(connector: LocalConnector, job: Job) -> Tracked:
    run_id = uuid.uuid4()
    return Tracked(run_id, connector.place(TESTBED, "node", run_id, job), "node")


def _wait_end(connector: LocalConnector, run: Tracked, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while connector.observe(TESTBED, [run])[run.run_id].state != "ended":
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.05)


def test_script_run_records_everything(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    script = b"#!/bin/sh\ncat data/in.txt\necho oops >&2\nexit 4\n"
    job = Job(argv=[], env=ENV, files=[("data/in.txt", b"hi\n", False)], script=("script", script))
    run = _start(connector, job)
    assert connector.place(TESTBED, "node", run.run_id, job) == run.backend_ref, (
        "placing again adopts the same run"
    )
    _wait_end(connector, run)
    got = connector.collect(TESTBED, run, cap=1024)
    assert got.stdout == b"hi\n" and got.stderr == b"oops\n"
    assert got.status["exit_code"] == 4
    assert got.status["usage"]["ru_maxrss"] > 0
    assert len(got.status["script_sha256"]) == 64
    assert got.hwinfo["cpu"]["threads"] >= 1
    assert got.log in (b"hi\noops\n", b"oops\nhi\n")


def test_live_log_only_when_it_grew(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    run = _start(connector, Job(argv=["echo", "hello"], env=ENV))
    _wait_end(connector, run)
    assert connector.live_log(TESTBED, run, None) == b"hello\n"
    assert connector.live_log(TESTBED, run, 6) is None


def test_venv_comes_first_on_path(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    run = _start(
        connector, Job(argv=["sh", "-c", 'echo "$VIRTUAL_ENV|$PATH"'], env=ENV, venv=str(venv))
    )
    _wait_end(connector, run)
    out = connector.collect(TESTBED, run, cap=10_000).stdout.decode()
    assert out.startswith(f"{venv}|{venv}/bin:")


def test_script_without_shebang_runs_under_sh(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    run = _start(connector, Job(argv=[], env=ENV, script=("script", b"echo $((40+2))\n")))
    _wait_end(connector, run)
    assert connector.collect(TESTBED, run, cap=100).stdout == b"42\n"


def test_output_is_capped(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    run = _start(
        connector, Job(argv=["python3", "-c", "print('x' * 100000)"], env=ENV, log_cap=1000)
    )
    _wait_end(connector, run)
    got = connector.collect(TESTBED, run, cap=10_000)
    assert len(got.stdout) == 1000
    assert got.status["stdout_dropped"] == 100001 - 1000


def _running(argv: list[str]) -> bool:
    wanted = "\0".join(argv).encode() + b"\0"
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes() == wanted:
                return True
        except OSError:
            continue
    return False


def test_timeout_and_cancel(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    slow = _start(connector, Job(argv=["sleep", "30"], env=ENV, timeout_s=0.5))
    _wait_end(connector, slow)
    assert connector.collect(TESTBED, slow, cap=10).status["timed_out"] is True

    seconds = f"30.{uuid.uuid4().int % 10**6}"  # names this test's command among processes
    cancelled = _start(connector, Job(argv=["sleep", seconds], env=ENV))
    deadline = time.monotonic() + 30
    while not _running(["sleep", seconds]):  # past the probe, into the command
        assert time.monotonic() < deadline
        time.sleep(0.05)
    connector.cancel(TESTBED, cancelled)
    _wait_end(connector, cancelled)
    status = connector.collect(TESTBED, cancelled, cap=10).status
    assert status["cancelled"] is True and status["signal"] == "SIGTERM"


def test_missing_command_is_recorded_not_raised(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    run = _start(connector, Job(argv=["/no/such/program"], env=ENV))
    _wait_end(connector, run)
    status = connector.collect(TESTBED, run, cap=10).status
    assert status["exit_code"] == 127 and "could not start" in status["error"]


def test_a_vanished_runner_is_gone(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    run_id = uuid.uuid4()
    (tmp_path / str(run_id)).mkdir()
    (tmp_path / str(run_id) / "started.json").write_text(json.dumps({"start": "x"}))
    for ref in ("999999", str(os.getpid())):  # no such process; a process that is not ours
        seen = connector.observe(TESTBED, [Tracked(run_id, ref, "node")])
        assert seen[run_id].state == "gone"


def test_a_placement_that_died_before_recording_its_runner_adopts_it(tmp_path: Path) -> None:
    """Killed between starting the runner and writing its pid: the next delivery adopts
    the runner that holds the lock (still running, then ended), never starting another."""
    connector = LocalConnector(tmp_path)
    job = Job(argv=["sleep", "1"], env=ENV)
    run = _start(connector, job)
    folder = tmp_path / str(run.run_id)
    (folder / "pid").unlink()
    assert connector.place(TESTBED, "node", run.run_id, job) == run.backend_ref
    _wait_end(connector, run)
    (folder / "pid").unlink()
    assert connector.place(TESTBED, "node", run.run_id, job) == run.backend_ref
    assert len((folder / "starts").read_text().splitlines()) == 1


def test_a_placement_that_died_before_forking_starts_the_runner(tmp_path: Path) -> None:
    """Killed after preparing the folder but before the fork: no runner holds the lock and
    none has started, so the next delivery starts one."""
    connector = LocalConnector(tmp_path)
    run_id = uuid.uuid4()
    folder = tmp_path / str(run_id)
    folder.mkdir()
    (folder / "alive").touch()
    (folder / "runner.log").touch()
    ref = connector.place(TESTBED, "node", run_id, Job(argv=["true"], env=ENV))
    run = Tracked(run_id, ref, "node")
    _wait_end(connector, run)
    assert connector.collect(TESTBED, run, cap=10).status["exit_code"] == 0
    assert len((folder / "starts").read_text().splitlines()) == 1
