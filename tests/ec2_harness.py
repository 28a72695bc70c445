"""Test support for the ec2 testbed: moto boots no instance, so this harness plays the
machines. It watches moto for instances Tessera launched (by its tag) and runs each one's
user data, the bootstrap itself, as a real process in a folder of its own (its own HOME, a
`shutdown` on PATH that records the call); when the process ends the instance is terminated,
as `InstanceInitiatedShutdownBehavior=terminate` would. `interrupt` plays a spot interruption:
the process is killed and the instance terminated mid-run.

`Ec2Proxy` sits between Tessera and moto's EC2 API: it can refuse spot requests the way EC2
does (InsufficientInstanceCapacity), and call a hook right after a RunInstances went through,
before Tessera hears the answer (to kill the deployer there).
"""

from __future__ import annotations

import base64
import http.server
import os
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import moto


@dataclass
class Machine:
    instance_id: str
    folder: Path
    process: subprocess.Popen[bytes]
    tags: dict[str, str]
    interrupted: bool = False


@dataclass
class Ec2Harness:
    root: Path
    region: str = moto.REGION
    interval_s: float = 0.3
    machines: dict[str, Machine] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = moto.client("ec2", self.region)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._skip: set[str] = set()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Ec2Harness:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for machine in list(self.machines.values()):
            _kill(machine.process)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as error:  # keep watching; the test reads what went wrong
                self.errors.append(repr(error))
            self._stop.wait(self.interval_s)

    def _step(self) -> None:
        pages = self.client.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag-key", "Values": ["tessera:testbed"]}]
        )
        for page in pages:
            for reservation in page["Reservations"]:
                for item in reservation["Instances"]:
                    self._follow(item)

    def _follow(self, item: dict[str, Any]) -> None:
        instance_id, state = item["InstanceId"], item["State"]["Name"]
        with self._lock:
            machine = self.machines.get(instance_id)
        if machine is None and state in ("pending", "running") and instance_id not in self._skip:
            self._boot(item)
        elif machine is not None and state in ("shutting-down", "terminated", "stopped"):
            _kill(machine.process)  # terminated from outside (cancel, reconciler): it dies
        elif machine is not None and machine.process.poll() is not None and state == "running":
            self.client.terminate_instances(InstanceIds=[instance_id])  # it shut down

    def _boot(self, item: dict[str, Any]) -> None:
        instance_id = item["InstanceId"]
        found = self.client.describe_instance_attribute(
            InstanceId=instance_id, Attribute="userData"
        )
        encoded = found.get("UserData", {}).get("Value")
        if not encoded:  # not launched by Tessera's connector (an orphan made by a test)
            self._skip.add(instance_id)
            return
        text = base64.b64decode(encoded)
        folder = self.root / instance_id
        (folder / "home").mkdir(parents=True)
        (folder / "bin").mkdir()
        script = folder / "user-data"
        script.write_bytes(text)
        script.chmod(0o755)
        shutdown = folder / "bin" / "shutdown"
        shutdown.write_text(f'#!/bin/sh\necho "$@" >> {folder}/shutdown.called\n')
        shutdown.chmod(0o755)
        env = {
            "HOME": str(folder / "home"),
            "PATH": f"{folder / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
        }
        log = (folder / "console.log").open("wb")
        process = subprocess.Popen(
            [str(script)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
        with self._lock:
            self.machines[instance_id] = Machine(instance_id, folder, process, tags)

    def interrupt(self, instance_id: str) -> None:
        """A spot interruption: the machine goes away mid-run, its instance terminated."""
        machine = self.machines[instance_id]
        machine.interrupted = True
        _kill(machine.process)
        self.client.terminate_instances(InstanceIds=[instance_id])

    def wait_for(self, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"harness: condition not met in {timeout} s ({self.errors})")
            time.sleep(0.2)

    def by_run(self, run_id: str) -> list[Machine]:
        return [m for m in self.machines.values() if m.tags.get("tessera:run") == run_id]


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(10)


REFUSED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
    "<Message>{message}</Message></Error></Errors><RequestID>harness</RequestID></Response>"
)


class Ec2Proxy:
    """An HTTP proxy to moto with two hooks: refuse spot RunInstances, and act right after a
    RunInstances went through (before its answer is sent back)."""

    def __init__(self, upstream: str = moto.MOTO_URL) -> None:
        self.upstream = upstream.rstrip("/")
        self.refuse_spot = False
        self.after_run: Callable[[], None] | None = None
        self.actions: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = urllib.parse.parse_qs(body.decode(errors="replace"))
                action = (form.get("Action") or [""])[0]
                proxy.actions.append(action)
                spot = (form.get("InstanceMarketOptions.MarketType") or [""])[0] == "spot"
                if action == "RunInstances" and spot and proxy.refuse_spot:
                    self._send(
                        400,
                        REFUSED.format(
                            code="InsufficientInstanceCapacity",
                            message="There is no Spot capacity available that matches the request.",
                        ).encode(),
                    )
                    return
                status, data = proxy._forward(self.path, body, dict(self.headers))
                if action == "RunInstances" and status == 200 and proxy.after_run is not None:
                    proxy.after_run()
                self._send(status, data)

            def _send(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.upstream + path, data=body, headers=keep)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def __enter__(self) -> Ec2Proxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
