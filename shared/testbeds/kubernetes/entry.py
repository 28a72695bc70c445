"""What a Kubernetes run's pod runs: the probe (init container) and the command (main).

Standard library only, Python 3.6+: the file travels in the run's ConfigMap (as kube_entry.py)
next to hwinfo.py and is started by the image's `python3`.

    python3 kube_entry.py probe OUT
        hwinfo as one JSON line on stdout (read back through pods/log?container=hwinfo)
        and in OUT (the shared emptyDir, for the command's TESSERA_HWINFO).
    python3 kube_entry.py run JOB TERMINATION
        JOB (job.json) says what to run: {"argv", "timeout", "script", "files", "workdir",
        "requirements"}. The run's files are copied from the ConfigMap into the writable
        working folder, the command runs in its own session with stdout and stderr passed
        through (the container's log), the timeout is enforced (SIGTERM to the group, SIGKILL
        after a grace), and a status document (exit code, signal, times, rusage, the tail of
        stderr) goes to TERMINATION, the container's termination message (4096 bytes at most).
        The container exits with the command's exit code.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

KILL_GRACE_S = 10
TERMINATION_MAX = 4096
STDERR_TAIL = 3000


def _now() -> "str":
    now = datetime.now(timezone.utc)  # noqa: UP017 (runs on the image's Python, maybe 3.8)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def probe(out: "str") -> "int":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        import importlib

        # the probe shipped beside this file
        data: dict[str, Any] = importlib.import_module("hwinfo").collect()
    except Exception as error:  # the run goes on without hardware info
        data = {"errors": [f"probe failed: {error}"]}
    text = json.dumps(data, sort_keys=True)
    try:
        with open(out, "w") as handle:
            handle.write(text)
    except OSError as error:
        sys.stderr.write(f"cannot write {out}: {error}\n")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0


def _terminate(path: "str", status: "dict[str, Any]", tail: "bytes") -> "None":
    """The status, with as much of stderr's tail as fits the termination message."""
    keep = tail[-STDERR_TAIL:]
    while True:
        status["stderr_tail"] = keep.decode("utf-8", "replace")
        text = json.dumps(status, sort_keys=True)
        if len(text.encode()) <= TERMINATION_MAX or not keep:
            break
        keep = keep[len(keep) // 4 + 1 :]
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as error:
        sys.stderr.write(f"cannot write the termination message {path}: {error}\n")


def _relay(source: "Any", target: "Any", tail: "bytearray", counter: "list[int]") -> "None":
    for chunk in iter(lambda: source.read1(65536), b""):
        target.write(chunk)
        target.flush()
        counter[0] += len(chunk)
        tail.extend(chunk)
        if len(tail) > 2 * STDERR_TAIL:
            del tail[: len(tail) - STDERR_TAIL]


def _prepare(job: "dict[str, Any]", files_dir: "str") -> "str":
    workdir = str(job["workdir"])
    os.makedirs(workdir, exist_ok=True)
    os.makedirs(os.path.join(os.path.dirname(workdir), "tmp"), exist_ok=True)
    for key, relative, executable in job.get("files", []):
        target = os.path.join(workdir, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(files_dir, key), target)
        os.chmod(target, 0o755 if executable else 0o644)
    return workdir


def _venv(job: "dict[str, Any]", files_dir: "str", env: "dict[str, str]") -> "str | None":
    """A venv with the run's requirements (`base: host` runs on a host image); an error."""
    if not job.get("requirements"):
        return None
    venv = os.path.join(os.path.dirname(job["workdir"]), "venv")
    for argv in (
        [sys.executable, "-m", "venv", venv],
        [os.path.join(venv, "bin", "pip"), "install", "-q", "-r",
         os.path.join(files_dir, job["requirements"])],
    ):  # fmt: skip
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if done.returncode != 0:
            return "venv build failed: " + done.stderr[-1500:].decode("utf-8", "replace")
    env["VIRTUAL_ENV"] = venv
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", os.defpath)
    return None


def _script(
    job: "dict[str, Any]", files_dir: "str", workdir: "str", status: "dict[str, Any]"
) -> "list[str]":
    """The command: the script copied out of the ConfigMap (executable), or the argv."""
    if not job.get("script"):
        return list(job["argv"])
    with open(os.path.join(files_dir, job["script"]), "rb") as source:
        content = source.read()
    path = os.path.join(os.path.dirname(workdir), job["script"])
    with open(path, "wb") as target:
        target.write(content)
    os.chmod(path, 0o755)
    status["script_sha256"] = hashlib.sha256(content).hexdigest()
    return [path] if content.startswith(b"#!") else ["/bin/sh", path]


def _wait(child: "Any", timeout: "float", cancelled: "threading.Event") -> "tuple[int, Any, bool]":
    """Reap the command (SIGTERM to its group at the timeout or when cancelled, SIGKILL after
    a grace): its wait status, rusage, and whether it ran out of time. The runner has the
    same loop: each file travels to nodes alone."""
    deadline = time.monotonic() + timeout
    timed_out = False
    term_at = None
    while True:
        pid, wait_status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        timed_out = timed_out or now > deadline
        if (timed_out or cancelled.is_set()) and term_at is None:
            term_at = now
            _signal(child.pid, signal.SIGTERM)
        if term_at is not None and now - term_at > KILL_GRACE_S:
            _signal(child.pid, signal.SIGKILL)
        time.sleep(0.05)
    child.returncode = 0  # reaped by wait4
    return wait_status, rusage, timed_out


def run(job_path: "str", termination: "str") -> "int":
    with open(job_path) as handle:
        job = json.load(handle)
    files_dir = os.path.dirname(os.path.abspath(job_path))
    status: dict[str, Any] = {"start": _now(), "script_sha256": None}
    cancelled = threading.Event()
    signal.signal(signal.SIGTERM, lambda _n, _f: cancelled.set())
    workdir = _prepare(job, files_dir)
    env = dict(os.environ)
    env.setdefault("HOME", workdir)
    env["TMPDIR"] = os.path.join(os.path.dirname(workdir), "tmp")
    argv = _script(job, files_dir, workdir, status)
    failed = _venv(job, files_dir, env)
    if failed is not None:
        status.update(end=_now(), exit_code=97, error=failed, timed_out=False, signal=None)
        _terminate(termination, status, b"")
        return 97
    try:
        child = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        status.update(end=_now(), exit_code=127, error=f"could not start: {error}")
        status.update(timed_out=False, signal=None, cancelled=cancelled.is_set())
        _terminate(termination, status, b"")
        return 127
    tail = bytearray()
    counter = [0]
    copier = threading.Thread(
        target=_relay, args=(child.stderr, sys.stderr.buffer, tail, counter), daemon=True
    )
    copier.start()
    wait_status, rusage, timed_out = _wait(child, float(job.get("timeout", 3600)), cancelled)
    copier.join(timeout=5)
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        code = 128 + number
        status.update(exit_code=code, signal=signal.Signals(number).name)
    else:
        code = os.WEXITSTATUS(wait_status)
        status.update(exit_code=code, signal=None)
    status.update(
        end=_now(),
        timed_out=timed_out,
        cancelled=cancelled.is_set(),
        stderr_bytes=counter[0],
        usage={
            "ru_utime": rusage.ru_utime,
            "ru_stime": rusage.ru_stime,
            "ru_maxrss": rusage.ru_maxrss,
        },
    )
    _terminate(termination, status, bytes(tail))
    return code


def _signal(pid: "int", number: "int") -> "None":
    try:
        os.killpg(pid, number)
    except ProcessLookupError:
        pass


def main(argv: "list[str]") -> "int":
    if len(argv) == 2 and argv[0] == "probe":
        return probe(argv[1])
    if len(argv) == 3 and argv[0] == "run":
        return run(argv[1], argv[2])
    sys.stderr.write("usage: kube_entry.py probe OUT | run JOB TERMINATION\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
