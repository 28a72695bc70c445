#!/usr/bin/env python3
"""The user data of a Tessera EC2 instance (standard library only, Python 3.6+).

It fetches the run's manifest by its presigned URL (MANIFEST below, filled in at launch),
then the bundle the manifest names (job.json, the script and files, runner.py, hwinfo.py),
runs the runner (probe, then the command), streams the log to S3 in parts while it runs,
uploads hwinfo.json, stdout, stderr and last status.json (its presence means the run is
over), and shuts the instance down (its shutdown behaviour is terminate). Every upload goes
to a presigned PUT URL: the instance holds no AWS credentials of Tessera's.
"""

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from typing import Dict, List, Optional

MANIFEST = "@MANIFEST@"
PLACEHOLDER = "/@TESSERA_RUN_DIR@"
TIMEOUT_S = 60


def _get(url: "str") -> "bytes":
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        data = response.read()  # type: bytes
    return data


def _put(url: "str", data: "bytes", tries: "int" = 5) -> "bool":
    for attempt in range(tries):
        try:
            request = urllib.request.Request(url, data=data, method="PUT")
            # urllib's default (a form) would be parsed as one by some S3 servers
            request.add_header("Content-Type", "application/octet-stream")
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read()
            return True
        except Exception as error:  # a flaky network: try again, then give up on this part
            sys.stderr.write("upload failed (%s), try %d\n" % (error, attempt + 1))
            time.sleep(min(2**attempt, 10))
    return False


def _read(path: "str", start: "int" = 0, end: "Optional[int]" = None) -> "bytes":
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            return handle.read() if end is None else handle.read(end - start)
    except OSError:
        return b""


def _extract(data: "bytes", folder: "str") -> "None":
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as bundle:
        for member in bundle.getmembers():
            name = member.name
            if (
                name.startswith("/")
                or ".." in name.split("/")
                or not (member.isfile() or member.isdir())
            ):
                raise ValueError("unsafe bundle member %r" % name)
        bundle.extractall(folder)


class LogShipper:
    """Sends what the log grew by as the next part; the last part slot takes the rest."""

    def __init__(self, path: "str", urls: "List[str]") -> "None":
        self.path, self.urls = path, urls
        self.sent, self.part, self.part_start = 0, 0, 0

    def ship(self) -> "None":
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return
        if size <= self.sent or not self.urls:
            return
        last = self.part >= len(self.urls) - 1
        start = self.part_start if last else self.sent
        if _put(self.urls[min(self.part, len(self.urls) - 1)], _read(self.path, start, size)):
            if last:
                self.part_start = start
            else:
                self.part += 1
                self.part_start = size
            self.sent = size


def _venv(folder: "str", env: "Dict[str, str]") -> "int":
    """The run's Python packages, when the bundle lists any, in a venv of its own."""
    requirements = os.path.join(folder, "requirements.txt")
    if not os.path.exists(requirements):
        return 0
    venv = os.path.join(folder, "venv")
    with open(os.path.join(folder, "log"), "ab") as log:
        code = subprocess.call([sys.executable, "-m", "venv", venv], stdout=log, stderr=log)
        if code == 0:
            pip = os.path.join(venv, "bin", "pip")
            code = subprocess.call(
                [pip, "install", "-q", "-r", requirements], stdout=log, stderr=log, env=env
            )
    return code


def main() -> "int":
    home = os.environ.get("HOME") or "/root"
    folder = os.path.join(home, "tessera-run")
    os.makedirs(os.path.join(folder, "work"), exist_ok=True)
    os.makedirs(os.path.join(folder, "tmp"), exist_ok=True)
    manifest = json.loads(_get(MANIFEST).decode())
    puts = manifest["put"]
    _extract(_get(manifest["bundle"]), folder)
    job_path = os.path.join(folder, "job.json")
    with open(job_path) as handle:
        text = handle.read().replace(PLACEHOLDER, folder)
    with open(job_path, "w") as handle:
        handle.write(text)
    env = dict(os.environ)
    shipper = LogShipper(os.path.join(folder, "log"), puts.get("log") or [])
    if _venv(folder, env) != 0:
        status = {
            "exit_code": 97,
            "error": "venv build failed",
            "timed_out": False,
            "cancelled": False,
            "signal": None,
        }
        with open(os.path.join(folder, "status.json"), "w") as handle:
            json.dump(status, handle)
    else:
        runner = subprocess.Popen(
            [sys.executable, "-I", os.path.join(folder, "runner.py"), folder],
            stdin=subprocess.DEVNULL,
        )
        interval = float(manifest.get("log_interval_s") or 5)
        hwinfo_sent = False
        while runner.poll() is None:
            time.sleep(min(interval, 1.0))
            if not hwinfo_sent and os.path.exists(os.path.join(folder, "hwinfo.json")):
                time.sleep(0.2)  # written atomically by the runner; let it land
                hwinfo_sent = _put(puts["hwinfo.json"], _read(os.path.join(folder, "hwinfo.json")))
            shipper.ship()
    shipper.ship()
    for name in ("hwinfo.json", "stdout", "stderr"):
        _put(puts[name], _read(os.path.join(folder, name)))
    ended = (
        _read(os.path.join(folder, "status.json"))
        or json.dumps(
            {"exit_code": None, "error": "the runner ended without recording an end"}
        ).encode()
    )
    _put(puts["status.json"], ended)
    if manifest.get("shutdown", True):
        subprocess.call(["shutdown", "-h", "now"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
