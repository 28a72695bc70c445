"""Run one job in its folder: the hardware probe first, then the command; record everything.

Standard library only, Python 3.6+: this file is copied into the run's folder and started as
`python3 runner.py RUN_DIR` on the node. RUN_DIR/job.json says what to run:
{"argv": [...], "env": {...}, "timeout": seconds, "log_cap": bytes, "script": "name"|null,
 "container": {"create": argv or [argv, ...], "probe": argv, "remove": argv, "image": ref,
               "gpus": {"from": VARIABLE, "at": N, "each": [...], "joined": [...],
                        "otherwise": [...]}} (image runs)}.
The GPUs a run was given (an index list in env[VARIABLE], set by the scheduler or the host)
go into its container's command line at position N: `each` once per device, `joined` once
with all of them ("{}" is the device), `otherwise` when none is named.
It leaves: hwinfo.json, stdout, stderr, log (both, interleaved), started.json, a line in
`starts` per runner started (more than one means the run was started twice), and at the
end status.json (written last and atomically: its presence means the run is over).
"""

import base64
import contextlib
import glob
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from typing import IO, Any

PROBE_TIMEOUT_S = 120
CONTAINER_STEP_TIMEOUT_S = 600  # making a container may pull its image
KILL_GRACE_S = 10


def _now() -> "str":
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_json(path: "str", data: "Any") -> "None":
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


class _Capped:
    """Copies a pipe into its own file and the shared log, keeping at most `cap` bytes each."""

    def __init__(
        self,
        source: "IO[bytes]",
        own: "IO[bytes]",
        log: "IO[bytes]",
        lock: "threading.Lock",
        cap: "int",
    ) -> "None":
        self.kept = 0
        self.dropped = 0
        self._source, self._own, self._log, self._lock, self._cap = source, own, log, lock, cap
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _copy(self) -> "None":
        for chunk in iter(lambda: self._source.read1(65536), b""):  # type: ignore[attr-defined]
            room = max(0, self._cap - self.kept)
            piece = chunk[:room]
            self.kept += len(piece)
            self.dropped += len(chunk) - len(piece)
            if piece:
                self._own.write(piece)
                self._own.flush()
                with self._lock:
                    self._log.write(piece)
                    self._log.flush()


def _usage(rusage: "Any") -> "dict[str, Any]":
    fields = (
        "ru_utime",
        "ru_stime",
        "ru_maxrss",
        "ru_minflt",
        "ru_majflt",
        "ru_inblock",
        "ru_oublock",
        "ru_nvcsw",
        "ru_nivcsw",
    )
    return {name: getattr(rusage, name) for name in fields}


def _signal_group(pid: "int", number: "int") -> "None":
    try:
        os.killpg(pid, number)
    except ProcessLookupError:
        pass


def _probe(run_dir: "str", argv: "list[str] | None" = None) -> "None":
    probe = os.path.join(run_dir, "hwinfo.py")
    target = os.path.join(run_dir, "hwinfo.json")
    try:
        done = subprocess.run(
            argv or [sys.executable, "-I", probe, "--run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        if done.returncode == 0:
            data = json.loads(done.stdout)
        else:
            detail = done.stderr[-2000:].decode(errors="replace")
            data = {"errors": [f"probe exited {done.returncode}: {detail}"]}
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        data = {"errors": [f"probe failed: {error}"]}
    _write_json(target, data)


DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:/._-]{0,127}$")  # an index, UUID or MIG id


def with_gpus(
    argv: "list[str]", env: "dict[str, str]", gpus: "dict[str, Any] | None"
) -> "list[str]":
    """`argv` with the container runtime's device options for the run's GPUs put in."""
    if not gpus or not argv:
        return argv
    named = (env.get(gpus.get("from") or "") or "").split(",")
    ids = [item.strip() for item in named if DEVICE_ID.match(item.strip())]
    words = []  # type: list[str]
    if ids:
        for device in ids:
            words += [word.replace("{}", device) for word in gpus.get("each") or []]
        words += [word.replace("{}", ",".join(ids)) for word in gpus.get("joined") or []]
    else:
        words = list(gpus.get("otherwise") or [])
    at = int(gpus.get("at") or 0)
    return argv[:at] + words + argv[at:]


def _container_step(argv: "list[Any]", timeout: "float") -> "str | None":
    """Run a container set-up or clean-up command (or several, in turn); its error text, or
    None when it worked."""
    if not argv:
        return None
    if isinstance(argv[0], list):
        for step in argv:
            failed = _container_step(step, timeout)
            if failed is not None:
                return failed
        return None
    try:
        done = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode != 0:
        return done.stderr[-2000:].decode(errors="replace").strip() or f"exit {done.returncode}"
    return None


def main(run_dir: "str") -> "int":
    with open(os.path.join(run_dir, "job.json")) as handle:
        job = json.load(handle)
    container = job.get("container") or {}
    try:
        return _run(run_dir, job, container)
    finally:
        _container_step(container.get("remove") or [], CONTAINER_STEP_TIMEOUT_S)


def _ended(run_dir: "str", status: "dict[str, Any]", **values: "Any") -> "int":
    """Write the run's status (last, atomically: its presence means the run is over)."""
    status.update(values)
    status.setdefault("end", _now())
    _write_json(os.path.join(run_dir, "status.json"), status)
    return 0


def _run(run_dir: "str", job: "dict[str, Any]", container: "dict[str, Any]") -> "int":
    cancelled = threading.Event()

    def on_term(_signum: "int", _frame: "Any") -> "None":
        cancelled.set()  # the wait loop stops the command

    signal.signal(signal.SIGTERM, on_term)
    with open(os.path.join(run_dir, "starts"), "a") as starts:  # one line per runner started
        starts.write(f"{os.getpid()} {_now()}\n")
    _write_json(os.path.join(run_dir, "started.json"), {"pid": os.getpid(), "start": _now()})
    # An image run: make its container first; the probe and the command run inside it.
    failed = _container_step(container.get("create") or [], CONTAINER_STEP_TIMEOUT_S)
    if failed is not None:
        reason = f"the container of image {container.get('image')} could not be made: {failed}"
        _write_json(os.path.join(run_dir, "hwinfo.json"), {"errors": [reason]})
        not_run = {"start": _now(), "exit_code": 125, "error": reason, "usage": None}
        return _ended(run_dir, not_run, timed_out=False, cancelled=cancelled.is_set(), signal=None)
    gpus = container.get("gpus")
    probe = container.get("probe")
    _probe(run_dir, with_gpus(probe, job["env"], gpus) if probe else None)
    job = dict(job, argv=with_gpus(list(job["argv"]), job["env"], gpus))
    script = job.get("script")
    script_sha256 = None
    if script:
        with open(os.path.join(run_dir, script), "rb") as source:
            script_sha256 = hashlib.sha256(source.read()).hexdigest()
    status: dict[str, Any] = {"script_sha256": script_sha256, "start": _now()}
    if cancelled.is_set():
        return _ended(run_dir, status, exit_code=None, usage=None, timed_out=False, cancelled=True)
    return _command(run_dir, job, status, cancelled)


def _command(
    run_dir: "str", job: "dict[str, Any]", status: "dict[str, Any]", cancelled: "threading.Event"
) -> "int":
    """Run the command with its output copied and capped; stop it at its timeout or when
    cancelled (SIGTERM to its process group, SIGKILL after a grace)."""
    cap = int(job.get("log_cap", 8 * 1024 * 1024))
    lock = threading.Lock()
    # Nested, not parenthesised, context managers: this file must run on Python 3.6.
    with contextlib.ExitStack() as files:
        out, err, log = (
            files.enter_context(open(os.path.join(run_dir, name), "wb"))
            for name in ("stdout", "stderr", "log")
        )
        try:
            child = subprocess.Popen(
                job["argv"],
                cwd=os.path.join(run_dir, "work"),
                env=job["env"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:
            return _ended(
                run_dir,
                status,
                exit_code=127,
                error=f"could not start: {error}",
                usage=None,
                timed_out=False,
                cancelled=cancelled.is_set(),
            )
        assert child.stdout is not None and child.stderr is not None
        copies = [
            _Capped(child.stdout, out, log, lock, cap),
            _Capped(child.stderr, err, log, lock, cap),
        ]
        wait_status, rusage, timed_out = _wait(child, float(job.get("timeout", 3600)), cancelled)
        for copy in copies:
            copy.thread.join(timeout=5)
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        status.update(exit_code=128 + number, signal=signal.Signals(number).name)
    else:
        status.update(exit_code=os.WEXITSTATUS(wait_status), signal=None)
    if status.get("exit_code") == 0 and not timed_out and not cancelled.is_set():
        status.update(_outputs(os.path.join(run_dir, "work")))
    return _ended(
        run_dir,
        status,
        usage=_usage(rusage),
        timed_out=timed_out,
        cancelled=cancelled.is_set(),
        stdout_bytes=copies[0].kept,
        stdout_dropped=copies[0].dropped,
        stderr_bytes=copies[1].kept,
        stderr_dropped=copies[1].dropped,
    )


OUTPUTS_FILE = ".tessera-outputs.json"  # shared/workflow_data.py writes it


def _outputs(work: "str") -> "dict[str, Any]":
    """The files of `work` matching the globs OUTPUTS_FILE names (a workflow task's
    outputs), base64 in status.json: {"outputs": [{"path", "data"}]}, or "outputs_error"
    when they are over its cap."""
    try:
        with open(os.path.join(work, OUTPUTS_FILE)) as handle:
            wanted = json.load(handle)
    except (OSError, ValueError):
        return {}
    cap = int(wanted.get("cap") or 0)
    found = []  # type: list[str]
    for pattern in wanted.get("globs") or []:
        for path in sorted(glob.glob(os.path.join(work, pattern), recursive=True)):
            relative = os.path.relpath(path, work)
            if os.path.isfile(path) and not relative.startswith("..") and relative not in found:
                if relative != OUTPUTS_FILE:
                    found.append(relative)
    total = sum(os.path.getsize(os.path.join(work, relative)) for relative in found)
    if cap and total > cap:
        return {"outputs": [], "outputs_error": f"outputs are {total} bytes, over {cap}"}
    items = []
    for relative in found:
        with open(os.path.join(work, relative), "rb") as source:
            data = base64.b64encode(source.read()).decode("ascii")
        items.append({"path": relative.replace(os.sep, "/"), "data": data})
    return {"outputs": items}


def _wait(
    child: "subprocess.Popen[bytes]", timeout: "float", cancelled: "threading.Event"
) -> "tuple[int, Any, bool]":
    """Reap the command: its wait status, its rusage, and whether it ran out of time."""
    deadline = time.monotonic() + timeout
    timed_out = False
    term_sent_at: float | None = None
    while True:
        pid, wait_status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        timed_out = timed_out or now > deadline
        if (timed_out or cancelled.is_set()) and term_sent_at is None:
            term_sent_at = now
            _signal_group(child.pid, signal.SIGTERM)
        if term_sent_at is not None and now - term_sent_at > KILL_GRACE_S:
            _signal_group(child.pid, signal.SIGKILL)
        time.sleep(0.05)
    child.returncode = 0  # reaped by wait4 above; keeps Popen from waiting again
    return wait_status, rusage, timed_out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
