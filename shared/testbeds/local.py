"""The `local` testbed: this machine. A run is a process in its own folder under runs_dir.

The run's folder is named by the run id, which makes placement idempotent: a re-delivered
task finds the folder (and the runner's pid) and adopts it instead of starting a second one.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import hardware, hwinfo, inventory, runner
from shared.config import Settings, get_settings
from shared.db.models import Node, Testbed, utcnow
from shared.testbeds.base import Collected, Job, Observation, Tracked

KIND = "local"
DEFAULT_NAME = "local"
# A live log is copied whole each time it grows; the runner caps each stream anyway.
MAX_LOG_BYTES = 64 * 1024 * 1024


IN_CONTAINER = "/tessera/run"  # where a run's folder is mounted inside its container
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROBE_TIMEOUT_S = 60
ADOPT_WAIT_S = 60  # a runner that holds its lock is alive; it writes its pid once started


def _tiny_rootfs(root: Path) -> bool:
    """/bin/true and the libraries it loads, laid out as a root filesystem."""
    true = shutil.which("true")
    if true is None or shutil.which("ldd") is None:
        return False
    try:
        listed = subprocess.run(
            ["ldd", true], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    for path in [true, *re.findall(r"(/\S+)", listed)]:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(true, root / "true")
    return True


def _works(argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _buildah_runs(rootfs: Path, buildah: list[str], isolation: str) -> bool:
    """buildah can start a container here: from scratch, the tiny rootfs, run /true."""
    try:
        made = subprocess.run(
            [*buildah, "from", "scratch"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    name = made.stdout.strip()
    if made.returncode != 0 or not name:
        return False
    try:
        return _works([*buildah, "copy", name, f"{rootfs}/", "/"]) and _works(
            [*buildah, "run", "--isolation", isolation, name, "--", "/true"]
        )
    finally:
        _works([*buildah, "rm", name])


@functools.cache
def probe_runtimes() -> list[str]:
    """Runtimes this machine offers: native, and a container runtime only if it really runs
    a container here (podman is installed in many places where `podman run` fails)."""
    settings = get_settings()
    found = ["native"]
    with tempfile.TemporaryDirectory(prefix="tessera-rootfs-") as folder:
        rootfs = Path(folder)
        if not _tiny_rootfs(rootfs):
            return found
        if shutil.which("buildah") and _buildah_runs(
            rootfs, _buildah(settings), settings.buildah_isolation
        ):
            found.append("buildah")
        if shutil.which("podman") and _works(
            ["podman", "run", "--rm", "--rootfs", folder, "/true"]
        ):
            found.append("podman")
    return found


def _buildah(settings: Settings) -> list[str]:
    return ["buildah", "--storage-driver", settings.buildah_storage_driver]


def container_plan(
    folder: Path, image: str, env: dict[str, str], runtime: str, settings: Settings
) -> dict[str, list[str]]:
    """The runner's commands for a run inside `image`: create, the prefix that runs a
    command in it (probe and script alike), remove. Values travel as argv, never a shell."""
    tls = f"--tls-verify={'false' if settings.registry_plain_http else 'true'}"
    mount = ["--volume", f"{folder}:{IN_CONTAINER}"]
    variables = [word for name, value in env.items() for word in ("--env", f"{name}={value}")]
    if runtime == "podman":
        # One container per command; --rm removes each.
        prefix = ["podman", "run", "--rm", tls, *mount, "--workdir", f"{IN_CONTAINER}/work"]
        return {"create": [], "exec": [*prefix, *variables, image], "remove": []}
    name = f"tessera-run-{folder.name}"
    buildah = _buildah(settings)
    run = [*buildah, "run", "--isolation", settings.buildah_isolation, *mount]
    return {
        "create": [*buildah, "from", "--quiet", "--pull=false", tls, "--name", name, image],
        "exec": [*run, "--workingdir", f"{IN_CONTAINER}/work", *variables, name, "--"],
        "remove": [*buildah, "rm", name],
    }


def register(session: Session, name: str = DEFAULT_NAME) -> Testbed:
    """Make sure the local testbed exists and its one node holds this machine's probe."""
    testbed = session.execute(select(Testbed).where(Testbed.name == name)).scalar_one_or_none()
    if testbed is None:
        testbed = Testbed(id=uuid.uuid4(), name=name, kind=KIND, config={}, state="online")
        session.add(testbed)
        session.flush()
    refresh(session, testbed)
    return testbed


def refresh(session: Session, testbed: Testbed) -> None:
    """Probe this machine and store it as the testbed's node."""
    data = hwinfo.collect()
    node_name = data.get("hostname") or socket.gethostname()
    info = hardware.node_from_hwinfo(data, name=node_name, testbed=testbed.name)
    node = session.execute(
        select(Node).where(Node.testbed_id == testbed.id, Node.name == node_name)
    ).scalar_one_or_none()
    if node is None:
        node = Node(id=uuid.uuid4(), testbed_id=testbed.id, name=node_name)
        session.add(node)
    node.state, node.state_reason = "online", None
    node.arch, node.cpu_vendor, node.cpu_model = info.arch, info.cpu_vendor, info.cpu_model
    node.cores, node.memory_bytes = info.cores, info.memory_bytes
    node.inventory = inventory.node_to_json(info, probe_runtimes())
    node.hwinfo = data
    node.updated_at = utcnow()
    testbed.state, testbed.state_reason, testbed.refreshed_at = "online", None, utcnow()


class LocalConnector:
    """This machine as a testbed: runs are process trees started by the deployer."""

    kind: ClassVar[str] = KIND

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def run_dir(self, run_id: uuid.UUID) -> Path:
        return self.runs_dir / str(run_id)

    def refresh(self, session: Session, testbed: Testbed) -> None:
        refresh(session, testbed)

    def place(self, testbed: Testbed, node: str, run_id: uuid.UUID, job: Job) -> str:
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
                self._prepare(folder, job)
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

    def _prepare(self, folder: Path, job: Job) -> None:
        work = folder / "work"
        work.mkdir(exist_ok=True)
        (folder / "tmp").mkdir(exist_ok=True)
        for relative, content, executable in job.files:
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(0o755 if executable else 0o644)
        if job.image is not None:
            self._prepare_image(folder, job)
            return
        argv = list(job.argv)
        env = dict(job.env)
        if job.venv:
            env["VIRTUAL_ENV"] = job.venv
            env["PATH"] = f"{job.venv}/bin:{env.get('PATH', os.defpath)}"
        script_name = None
        if job.script is not None:
            script_name, content = job.script
            path = folder / script_name
            path.write_bytes(content)
            path.chmod(0o755)
            # Like a shell: a script without a #! line is read by /bin/sh.
            argv = [str(path)] if content.startswith(b"#!") else ["/bin/sh", str(path)]
        shutil.copyfile(runner.__file__, folder / "runner.py")
        shutil.copyfile(hwinfo.__file__, folder / "hwinfo.py")
        env.setdefault("TMPDIR", str(folder / "tmp"))
        env.setdefault("HOME", str(work))
        env["TESSERA_HWINFO"] = str(folder / "hwinfo.json")
        spec = {
            "argv": argv,
            "env": env,
            "timeout": job.timeout_s,
            "log_cap": job.log_cap,
            "script": script_name,
        }
        (folder / "job.json").write_text(json.dumps(spec))

    def _prepare_image(self, folder: Path, job: Job) -> None:
        """The probe and the command run inside the image, the run folder mounted in it."""
        assert job.image is not None
        runtimes = probe_runtimes()
        runtime = "podman" if "podman" in runtimes else "buildah"
        # The image's user (uid 10001 in Tessera's images, any in others) writes here.
        for name in ("work", "tmp"):
            (folder / name).chmod(0o777)
        env = {key: value for key, value in job.env.items() if key != "PATH"}
        env.setdefault("TMPDIR", f"{IN_CONTAINER}/tmp")
        env.setdefault("HOME", f"{IN_CONTAINER}/work")
        env["TESSERA_HWINFO"] = f"{IN_CONTAINER}/hwinfo.json"
        argv = list(job.argv)
        script_name = None
        if job.script is not None:
            script_name, content = job.script
            path = folder / script_name
            path.write_bytes(content)
            path.chmod(0o755)
            inside = f"{IN_CONTAINER}/{script_name}"
            argv = [inside] if content.startswith(b"#!") else ["/bin/sh", inside]
        shutil.copyfile(runner.__file__, folder / "runner.py")
        shutil.copyfile(hwinfo.__file__, folder / "hwinfo.py")
        plan = container_plan(folder, job.image, env, runtime, get_settings())
        spec = {
            "argv": [*plan["exec"], *argv],
            "env": {"PATH": os.environ.get("PATH", IMAGE_PATH), "LANG": "C.UTF-8"},
            "timeout": job.timeout_s,
            "log_cap": job.log_cap,
            "script": script_name,
            "container": {
                "runtime": runtime,
                "image": job.image,
                "create": plan["create"],
                "remove": plan["remove"],
                "probe": [*plan["exec"], "python3", "-I", f"{IN_CONTAINER}/hwinfo.py"],
            },
        }
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
