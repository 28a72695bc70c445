"""`tessera worker` is a supervisor, and the Celery worker its child (services/cli/server.py).

The worker process is `python -m services.cli worker ...` with CHILD_ENV set; it dies with
its supervisor (`die_with_parent`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

CHILD_ENV = "TESSERA_WORKER_CHILD"


class Supervisor:
    """Keeps one worker process running: `tessera worker` is this, and the worker its child.

    A Celery worker can die without a clean exit when its broker goes away under it (kombu's
    Redis transport raises a non-connection error while restoring unacknowledged messages:
    "Unrecoverable error"); a queue must not stay without its worker for that. The child is
    started again after a backoff (0.5 s doubling to 30 s; the count resets once a child has
    served 5 minutes), and given up on after 5 quick failures in a row (each under 10 s: bad
    settings, not an incident). SIGTERM and SIGINT are passed on and end the supervision; the
    child is killed with its supervisor (PR_SET_PDEATHSIG), so `kill -9` of the pid that was
    started leaves no worker behind.
    """

    QUICK_S = 10.0
    HEALTHY_S = 300.0
    MAX_QUICK = 5

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None

    def forward(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def backoff(self, failures: int) -> float:
        return min(30.0, 0.5 * (1 << max(0, failures - 1)))

    def run(self, sleep: Callable[[float], None] = time.sleep) -> int:
        failures = quick = 0
        while True:
            began = time.monotonic()
            # Its own process group: a terminal's Ctrl-C reaches the worker once, through here
            # (twice would be Celery's cold shutdown).
            self.child = subprocess.Popen(
                self.command, env={**os.environ, CHILD_ENV: "1"}, process_group=0
            )
            code = self.child.wait()
            if self.stopping or code == 0:
                return code
            served = time.monotonic() - began
            failures = 1 if served > self.HEALTHY_S else failures + 1
            quick = quick + 1 if served < self.QUICK_S else 0
            if quick >= self.MAX_QUICK:
                print(f"worker failed {quick} times in a row at start; giving up", flush=True)
                return code
            delay = self.backoff(failures)
            print(
                f"worker exited ({code}) after {served:.0f} s; restarting in {delay:.1f} s",
                flush=True,
            )
            sleep(delay)
            if self.stopping:
                return code


def worker_command(service: str, concurrency: int, pool: str, loglevel: str) -> list[str]:
    """The command line of the worker process a supervisor starts."""
    options = ["-c", str(concurrency), "--pool", pool, "--loglevel", loglevel]
    return [sys.executable, "-m", "services.cli", "worker", service, *options]


def supervise(command: list[str]) -> int:
    """Run `command` under a supervisor that SIGTERM and SIGINT stop; its last exit code."""
    supervisor = Supervisor(command)
    signal.signal(signal.SIGTERM, supervisor.forward)
    signal.signal(signal.SIGINT, supervisor.forward)
    return supervisor.run()


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when the process that started it dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os._exit(1)
