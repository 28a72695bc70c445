"""What Tessera runs on an SSH host. Standard library only, Python 3.6+: uploaded once per
version beside runner.py and hwinfo.py, and started with the host's own python3.

    python3 host.py place BASE RUN_ID      start the run prepared in BASE/runs/RUN_ID (its
                                           job.json, request.json, script and files), or
                                           adopt the runner already started for it
    python3 host.py observe BASE RUN_ID... one JSON line: where each run is
    python3 host.py cancel BASE RUN_ID     SIGTERM to the run's runner (it records the end)
    python3 host.py runtimes               the container runtimes that really run here

These hosts have no scheduler: Tessera is theirs. `place` takes BASE/claims.lock, counts what
the live runs hold (a run is live while its runner holds the run's `alive` lock, which it
inherits from `place` and keeps until it exits, so a crash anywhere frees nothing twice) and
starts the run only when what it asks is free: GPUs by index (CUDA_VISIBLE_DEVICES,
ROCR_VISIBLE_DEVICES), cores and memory never oversubscribed. Otherwise it prints `wait` and
the reason, and leaves nothing held.
"""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

ADOPT_WAIT_S = 60
PROBE_TIMEOUT_S = 60
GPU_VARIABLES = {"nvidia": "CUDA_VISIBLE_DEVICES", "amd": "ROCR_VISIBLE_DEVICES"}


def _read_json(path: "str") -> "Any":
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _write_json(path: "str", data: "Any") -> "None":
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def _held(path: "str") -> "bool":
    """Whether a live runner holds the lock on `path` (a free lock means it has ended)."""
    try:
        handle = open(path)
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _memory_bytes() -> "int":
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _live_claims(base: "str") -> "list[dict[str, Any]]":
    """The claims of runs whose runner still runs; claims of ended runs are removed."""
    folder = os.path.join(base, "claims")
    live = []
    for name in sorted(os.listdir(folder)):
        claim = _read_json(os.path.join(folder, name)) if name.endswith(".json") else None
        if claim is None:
            continue
        if _held(os.path.join(base, "runs", name[: -len(".json")], "alive")):
            live.append(claim)
        else:
            os.unlink(os.path.join(folder, name))
    return live


def _allocate(request: "dict[str, Any]", live: "list[dict[str, Any]]") -> "Any":
    """The GPUs, cores and memory for the request, or the reason it does not fit now."""
    # Devices by name (an index, a MIG UUID); claims of older versions hold ints.
    taken = {str(device) for claim in live for device in claim.get("gpus", [])}
    gpus = []  # type: list[str]
    for group in request.get("gpus", []):
        eligible = [str(device) for device in group["eligible"]]
        free = [i for i in eligible if i not in taken and i not in gpus]
        if len(free) < group["count"]:
            return "waiting for a GPU: {} of the {} that fit are in use".format(
                len(group["eligible"]) - len(free), len(group["eligible"])
            )
        gpus.extend(free[: group["count"]])
    cores = float(os.cpu_count() or 1)
    cpu = float(request.get("cpu") or 0)
    used_cpu = sum(float(claim.get("cpu") or 0) for claim in live)
    if cpu and used_cpu + cpu > cores:
        return f"waiting for cores: {used_cpu:g} of {cores:g} in use"
    memory = int(request.get("memory") or 0)
    used_memory = sum(int(claim.get("memory") or 0) for claim in live)
    total = _memory_bytes()
    if memory and total and used_memory + memory > total:
        return f"waiting for memory: {used_memory} of {total} bytes in use"
    return {"gpus": gpus, "cpu": cpu, "memory": memory}


def _runner_argv(folder: "str") -> "list[str]":
    """The runner, in a transient systemd scope when the host has a user manager (so the
    run outlives the SSH session even where logind kills a session's processes)."""
    start = os.path.join(folder, "start.sh")
    argv = ["/bin/sh", start] if os.path.exists(start) else []
    argv = argv or [sys.executable, "-I", os.path.join(folder, "runner.py"), folder]
    systemd_run = shutil.which("systemd-run")
    if systemd_run and os.environ.get("XDG_RUNTIME_DIR"):
        check = subprocess.run(
            ["systemctl", "--user", "is-system-running"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if check.stdout.strip() in (b"running", b"degraded"):
            return [systemd_run, "--user", "--scope", "--quiet", "--collect", *argv]
    return argv


def _start(folder: "str", alive: "Any", lib: "str", claim: "dict[str, Any]") -> "str":
    """Hand the run its GPUs and start its runner detached, holding the `alive` lock."""
    job_path = os.path.join(folder, "job.json")
    job = _read_json(job_path)
    indices = ",".join(str(i) for i in claim["gpus"])
    request = _read_json(os.path.join(folder, "request.json")) or {}
    variable = GPU_VARIABLES.get(request.get("gpu_vendor") or "nvidia", "CUDA_VISIBLE_DEVICES")
    job["env"][variable] = indices
    _write_json(job_path, job)
    for name in ("runner.py", "hwinfo.py"):
        shutil.copyfile(os.path.join(lib, name), os.path.join(folder, name))
    with open(os.path.join(folder, "runner.log"), "wb") as log:
        process = subprocess.Popen(
            _runner_argv(folder),
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            pass_fds=(alive.fileno(),),
        )
    return str(process.pid)


def _started_pid(folder: "str", wait_s: "float") -> "str":
    deadline = time.monotonic() + wait_s
    while True:
        started = _read_json(os.path.join(folder, "started.json"))
        if started and "pid" in started:
            return str(started["pid"])
        if time.monotonic() > deadline:
            raise SystemExit(f"the runner in {folder} has not said its pid")
        time.sleep(0.05)


def place(base: "str", run_id: "str") -> "int":
    folder = os.path.join(base, "runs", run_id)
    lib = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(base, "claims"), exist_ok=True)
    with open(os.path.join(folder, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # deliveries of one run, one at a time
        pid_file = os.path.join(folder, "pid")
        if os.path.exists(pid_file):
            with open(pid_file) as handle:
                print("placed", handle.read().strip())
            return 0
        with open(os.path.join(folder, "alive"), "w") as alive:
            try:
                fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a runner is running: adopt it
                pid = _started_pid(folder, ADOPT_WAIT_S)
            else:
                started = _read_json(os.path.join(folder, "started.json"))
                if started and "pid" in started:  # a runner ran and has ended: adopt it
                    pid = str(started["pid"])
                else:
                    found = _claim_and_start(base, run_id, folder, alive, lib)
                    if found is None:
                        return 0
                    pid = found
        with open(pid_file, "w") as handle:
            handle.write(pid)
        print("placed", pid)
    return 0


def _claim_and_start(base: "str", run_id: "str", folder: "str", alive: "Any", lib: "str") -> "Any":
    """Under the host's claims lock: take what the run asks and start it, or say `wait`."""
    with open(os.path.join(base, "claims.lock"), "w") as claims_lock:
        fcntl.flock(claims_lock, fcntl.LOCK_EX)
        request = _read_json(os.path.join(folder, "request.json")) or {}
        claim = _allocate(request, _live_claims(base))
        if isinstance(claim, str):
            print("wait", claim)
            return None
        _write_json(os.path.join(base, "claims", run_id + ".json"), claim)
        return _start(folder, alive, lib, claim)


def observe(base: "str", run_ids: "list[str]") -> "int":
    seen = {}
    for run_id in run_ids:
        folder = os.path.join(base, "runs", run_id)
        started = _read_json(os.path.join(folder, "started.json")) or {}
        try:
            log_size: Any = os.stat(os.path.join(folder, "log")).st_size
        except OSError:
            log_size = None
        if os.path.exists(os.path.join(folder, "status.json")):
            state = "ended"
        elif _held(os.path.join(folder, "alive")):
            state = "running" if started else "pending"
        else:
            state = "gone"
        seen[run_id] = {"state": state, "start": started.get("start"), "log_size": log_size}
    print(json.dumps(seen))
    return 0


def cancel(base: "str", run_id: "str") -> "int":
    folder = os.path.join(base, "runs", run_id)
    started = _read_json(os.path.join(folder, "started.json")) or {}
    if started.get("pid") and _held(os.path.join(folder, "alive")):
        try:
            os.kill(int(started["pid"]), signal.SIGTERM)
        except ProcessLookupError:
            pass
    return 0


def _works(argv: "list[str]") -> "bool":
    try:
        done = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=PROBE_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _tiny_rootfs(root: "str") -> "bool":
    """/bin/true and the libraries it loads, as a root filesystem."""
    true, ldd = shutil.which("true"), shutil.which("ldd")
    if true is None or ldd is None:
        return False
    try:
        listed = subprocess.run([ldd, true], stdout=subprocess.PIPE, timeout=10).stdout.decode()
    except (OSError, subprocess.TimeoutExpired):
        return False
    paths = [true] + [w for w in listed.split() if w.startswith("/")]
    for path in paths:
        target = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(true, os.path.join(root, "true"))
    return True


def runtimes() -> "int":
    """native always; a container runtime only once a trivial container ran with it."""
    found = ["native"]
    with tempfile.TemporaryDirectory(prefix="tessera-rootfs-") as root:
        if _tiny_rootfs(root):
            if shutil.which("podman") and _works(
                ["podman", "run", "--rm", "--rootfs", root, "/true"]
            ):
                found.append("podman")
            if shutil.which("apptainer") and _works(["apptainer", "exec", root, "/true"]):
                found.append("apptainer")
            if shutil.which("docker") and _works(["docker", "info"]):
                image = "tessera-runtime-probe:true"
                tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
                imported = _works_with_stdin(["docker", "import", "-", image], tar)
                if imported and _works(["docker", "run", "--rm", image, "/true"]):
                    found.append("docker")
    print(json.dumps(found))
    return 0


def _works_with_stdin(argv: "list[str]", source: "Any") -> "bool":
    try:
        done = subprocess.run(
            argv, stdin=source.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=PROBE_TIMEOUT_S,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        source.wait()
    return done.returncode == 0


def main(argv: "list[str]") -> "int":
    if len(argv) >= 3 and argv[0] == "place":
        return place(argv[1], argv[2])
    if len(argv) >= 2 and argv[0] == "observe":
        return observe(argv[1], argv[2:])
    if len(argv) == 3 and argv[0] == "cancel":
        return cancel(argv[1], argv[2])
    if argv == ["runtimes"]:
        return runtimes()
    sys.stderr.write("usage: host.py place|observe|cancel BASE RUN_ID... | runtimes\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
