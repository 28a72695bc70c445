"""The `local` testbed: this machine. A run is a process in its own folder under runs_dir.

The run's folder is named by the run id, which makes placement idempotent: a re-delivered
task finds the folder (and the runner's pid) and adopts it instead of starting a second one.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from shared import hwinfo, runner
from shared.config import get_settings
from shared.db.models import Testbed
from shared.testbeds import containers
from shared.testbeds.base import Collected, Discovery, Job, Observation, Tracked
from shared.testbeds.local import nodes, render, runtimes

KIND = "local"
DEFAULT_NAME = "local"
# A live log is copied whole each time it grows; the runner caps each stream anyway.
MAX_LOG_BYTES = 64 * 1024 * 1024
ADOPT_WAIT_S = 60  # a runner that holds its lock is alive; it writes its pid once started


class LocalConnector:
    """This machine as a testbed: runs are process trees started by the deployer."""

    kind: ClassVar[str] = KIND
    queues: ClassVar[bool] = False  # placing a run starts its runner

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def run_dir(self, run_id: uuid.UUID) -> Path:
        return self.runs_dir / str(run_id)

    def refresh(self, testbed: Testbed, probed: Mapping[str, dict[str, Any]]) -> Discovery:
        """Probe this machine: the testbed's one node."""
        return Discovery((nodes.node_report(hwinfo.collect(), runtimes.probe(), testbed.name),))

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        """Start the run (or adopt the one already started); returns the runner's pid.

        The runner inherits an exclusive lock on `alive` and holds it until it exits, so a
        placement that died anywhere after the fork leaves a lock no one can take: the next
        delivery adopts that runner instead of starting a second one.
        """
        folder = self.run_dir(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # deliveries of one run, one at a time
            pid_file = folder / "pid"
            if pid_file.exists():
                return pid_file.read_text().strip()
            with open(folder / "alive", "w") as alive:
                try:
                    fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a runner is running: adopt it
                    return self._record(pid_file, _started_pid(folder, ADOPT_WAIT_S))
                started = _read_json(folder / "started.json")
                if started and "pid" in started:  # a runner ran and has ended: adopt its end
                    return self._record(pid_file, str(started["pid"]))
                self._prepare(folder, job, inventory or {})
                with open(folder / "runner.log", "wb") as runner_log:
                    process = subprocess.Popen(
                        [sys.executable, "-I", str(folder / "runner.py"), str(folder)],
                        cwd=folder,
                        stdin=subprocess.DEVNULL,
                        stdout=runner_log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        close_fds=True,
                        pass_fds=(alive.fileno(),),
                    )
            # Reap it when it ends so it never lingers as a zombie of this worker.
            threading.Thread(target=process.wait, daemon=True).start()
            return self._record(pid_file, str(process.pid))

    @staticmethod
    def _record(pid_file: Path, pid: str | None) -> str:
        if pid is None:
            raise RuntimeError(f"the runner in {pid_file.parent} has not said its pid")
        pid_file.write_text(pid)
        return pid

    def _prepare(self, folder: Path, job: Job, inventory: Mapping[str, Any]) -> None:
        """The run's folder: its files, its script, the runner and the probe, job.json."""
        work = folder / "work"
        work.mkdir(exist_ok=True)
        (folder / "tmp").mkdir(exist_ok=True)
        for relative, content, executable in job.files:
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(0o755 if executable else 0o644)
        if job.script is not None:
            name, content = job.script
            (folder / name).write_bytes(content)
            (folder / name).chmod(0o755)
        shutil.copyfile(runner.__file__, folder / "runner.py")
        shutil.copyfile(hwinfo.__file__, folder / "hwinfo.py")
        if job.image is None:
            spec = render.host_job(folder, job)
        else:
            # The image's user (uid 10001 in Tessera's images, any in others) writes here.
            for name in ("work", "tmp"):
                (folder / name).chmod(0o777)
            runtime = "podman" if "podman" in runtimes.probe() else "buildah"
            host_path = os.environ.get("PATH", render.IMAGE_PATH)
            vendor = containers.gpu_vendor(job.hardware, containers.node_vendors(inventory))
            spec = render.image_job(folder, job, runtime, host_path, get_settings(), vendor)
        (folder / "job.json").write_text(json.dumps(spec))

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> dict[uuid.UUID, Observation]:
        return {run.run_id: self._observe(run) for run in runs}

    def _observe(self, run: Tracked) -> Observation:
        folder = self.run_dir(run.run_id)
        started = _read_json(folder / "started.json")
        started_at = started.get("start") if started else None
        if (folder / "status.json").exists():
            return Observation("ended", started_at)
        if run.backend_ref and _alive(int(run.backend_ref), folder):
            return Observation("running" if started_at else "pending", started_at)
        return Observation("gone", started_at)

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        path = self.run_dir(run.run_id) / "log"
        try:
            if path.stat().st_size == known_size:
                return None
        except FileNotFoundError:
            return None
        return _read_bytes(path, 2 * MAX_LOG_BYTES)

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        """Ask the runner to stop its command (it records the end); no-op if it is gone."""
        if run.backend_ref and _alive(int(run.backend_ref), self.run_dir(run.run_id)):
            os.kill(int(run.backend_ref), signal.SIGTERM)

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        folder = self.run_dir(run.run_id)
        return Collected(
            status=_read_json(folder / "status.json") or {},
            hwinfo=_read_json(folder / "hwinfo.json") or {},
            stdout=_read_bytes(folder / "stdout", cap),
            stderr=_read_bytes(folder / "stderr", cap),
            log=_read_bytes(folder / "log", 2 * cap) if (folder / "log").exists() else None,
        )


def _started_pid(folder: Path, wait_s: float) -> str | None:
    """The pid a running runner records first thing (it may still be starting)."""
    deadline = time.monotonic() + wait_s
    while True:
        started = _read_json(folder / "started.json")
        if started and "pid" in started:
            return str(started["pid"])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_bytes(path: Path, cap: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(cap)
    except OSError:
        return b""


def _alive(pid: int, folder: Path) -> bool:
    """The runner still runs: the pid exists, is no zombie, and is ours (not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and str(folder).encode() in cmdline
