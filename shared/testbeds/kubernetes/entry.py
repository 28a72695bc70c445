"""What a Kubernetes run's pod runs in Python: the init container's probe and preparation, and
the venv of `base: host` runs with Python requirements.

Standard library only, Python 3.6+: the file travels in the run's ConfigMap (as kube_entry.py)
next to hwinfo.py and job.json.

    python3 kube_entry.py prepare JOB RUN MESSAGE   (init container `hwinfo`, Tessera's image)
        The probe: hwinfo as one JSON line on stdout (read back through
        pods/log?container=hwinfo) and in RUN/hwinfo.json (RUN is the shared emptyDir, for
        the command's TESSERA_HWINFO). Then the run's folder: JOB's files copied from the
        ConfigMap (JOB's folder) into RUN/work, the script as RUN/script (executable),
        RUN/tmp, and tessera-exec (the static helper found on this image's PATH) as
        RUN/.tessera/tessera-exec, where the main container starts it. A failure is written to
        MESSAGE (the container's termination message) and the container exits 1: the run does
        not start.
    python3 kube_entry.py probe OUT
        The probe alone.
    python3 kube_entry.py venv REQUIREMENTS VENV -- ARGV...   (main container, a host image)
        A venv with the run's requirements, then ARGV exec'd with it first on PATH; exit 97
        and "venv build failed: ..." on stderr when it cannot be built.

The main container itself runs no Python: tessera-exec (tessera_exec.c) runs the command.
"""

import json
import os
import shutil
import subprocess
import sys
from typing import Any

EXEC_NAME = "tessera-exec"


def probe(out: "str") -> "int":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        import importlib

        # the probe shipped beside this file
        data: dict[str, Any] = importlib.import_module("hwinfo").collect(runtimes=False)
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


def _prepare(job: "dict[str, Any]", files_dir: "str", run: "str") -> "None":
    workdir = os.path.join(run, "work")
    os.makedirs(workdir, exist_ok=True)
    os.makedirs(os.path.join(run, "tmp"), exist_ok=True)
    for key, relative, executable in job.get("files", []):
        target = os.path.join(workdir, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(files_dir, key), target)
        os.chmod(target, 0o755 if executable else 0o644)
    if job.get("script"):
        with open(os.path.join(files_dir, job["script"]), "rb") as source:
            content = source.read()
        script = os.path.join(run, "script")
        with open(script, "wb") as handle:
            handle.write(content)
        os.chmod(script, 0o755)
    found = shutil.which(EXEC_NAME)
    if found is None:
        raise RuntimeError(
            f"{EXEC_NAME} is not on this image's PATH: the testbed's tessera_image must be "
            "Tessera's image (deploy/docker/Dockerfile)"
        )
    destination = os.path.join(run, ".tessera", EXEC_NAME)
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copyfile(found, destination)
    os.chmod(destination, 0o755)


def prepare(job_path: "str", run: "str", message: "str") -> "int":
    with open(job_path) as handle:
        job = json.load(handle)
    try:
        os.makedirs(run, exist_ok=True)  # the emptyDir: there already in a pod
    except OSError:
        pass
    probe(os.path.join(run, "hwinfo.json"))
    try:
        _prepare(job, os.path.dirname(os.path.abspath(job_path)), run)
    except (OSError, RuntimeError, KeyError) as error:
        text = f"prepare failed: {error}"
        sys.stderr.write(text + "\n")
        try:
            with open(message, "w") as handle:
                handle.write(text[:4000])
        except OSError:
            pass
        return 1
    return 0


def venv(requirements: "str", folder: "str", argv: "list[str]") -> "int":
    """Build the venv, then become the command (exec: its pid, signals and exit code)."""
    for command in (
        [sys.executable, "-m", "venv", folder],
        [os.path.join(folder, "bin", "pip"), "install", "-q", "-r", requirements],
    ):
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if done.returncode != 0:
            tail = done.stderr[-1500:].decode("utf-8", "replace")
            sys.stderr.write(f"venv build failed: {tail}\n")
            return 97
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = folder
    env["PATH"] = os.path.join(folder, "bin") + os.pathsep + env.get("PATH", os.defpath)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as error:
        sys.stderr.write(f"could not start {argv[0]}: {error}\n")
        return 127
    return 0  # not reached


def main(argv: "list[str]") -> "int":
    if len(argv) == 2 and argv[0] == "probe":
        return probe(argv[1])
    if len(argv) == 4 and argv[0] == "prepare":
        return prepare(argv[1], argv[2], argv[3])
    if len(argv) >= 5 and argv[0] == "venv" and argv[3] == "--":
        return venv(argv[1], argv[2], argv[4:])
    sys.stderr.write(
        "usage: kube_entry.py prepare JOB RUN MESSAGE | probe OUT | venv REQS VENV -- ARGV...\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
