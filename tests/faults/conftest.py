"""Faults need servers of their own: a private Postgres cluster and a private Redis that these
tests stop and restart, under a full Tessera (API, three workers, beat) started on them."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import ssh_hosts
from tests.conftest import reset_settings
from tests.integration.conftest import Stack, _tessera, _wait_ready, free_port

REPORT: dict[str, int] = {}


def record(name: str, value: int) -> None:
    """A figure `make faults` prints as name=value (summed over the tests)."""
    REPORT[name] = REPORT.get(name, 0) + value


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.write_line("")
        known = ("faults_lost", "faults_duplicates", "fuzz_cases", "fuzz_5xx")
        for name in [*known, *sorted(set(REPORT) - set(known))]:
            if name in REPORT:
                terminalreporter.write_line(f"{name}={REPORT[name]}")


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


@dataclass
class PrivatePostgres:
    data: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                *args,
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._ctl("-o", options, "-w", "-t", "60", "-l", str(self.data / "log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")


@dataclass
class PrivateRedis:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self._pong, 20, "redis start")

    def _pong(self) -> bool:
        try:
            out = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"],
                capture_output=True,
                text=True,
                timeout=2,
            )
        except subprocess.TimeoutExpired:
            return False
        return out.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries:
        raise RuntimeError("PostgreSQL server binaries are missing: run scripts/services.sh")
    # Not under pytest's temporary folder: that one is private to root, and Postgres runs as
    # the postgres user.
    parent = Path(tempfile.mkdtemp(prefix="tessera-faults-pg-"))
    parent.chmod(0o755)
    data = parent / "data"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    server = PrivatePostgres(data=data, port=free_port(), bin=Path(binaries[-1]))
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(server.bin / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    server.start()
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), folder=tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@dataclass
class FaultStack(Stack):
    postgres: PrivatePostgres | None = None
    broker: PrivateRedis | None = None
    restarts: dict[str, int] = field(default_factory=dict)

    def kill(self, name: str) -> None:
        """kill -9, as a crash would."""
        process = self.processes[name]
        process.kill()
        process.wait(timeout=10)

    def start(self, name: str, *args: str) -> None:
        self.restarts[name] = self.restarts.get(name, 0) + 1
        log = self.home / f"{name}.{self.restarts[name]}.log"
        self.processes[name] = _tessera(*args, env=self.env, log=log)


WORKER = ("--pool", "threads", "-c", "4", "--loglevel", "INFO")


@pytest.fixture(scope="session")
def fault_stack(
    tmp_path_factory: pytest.TempPathFactory, postgres: PrivatePostgres, broker: PrivateRedis
) -> Iterator[FaultStack]:
    home = tmp_path_factory.mktemp("faults-home")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TESSERA_")}
    env |= {
        "TESSERA_HOME": str(home),
        "TESSERA_DATABASE_URL": postgres.url,
        "TESSERA_BROKER_URL": broker.url,
        "TESSERA_API_PORT": str(port),
        "TESSERA_POLL_INTERVAL_S": "0.5",
        "TESSERA_RECONCILE_INTERVAL_S": "3",
        "TESSERA_RECONCILE_AFTER_S": "10",
        "TESSERA_LOST_AFTER_S": "15",
        "TESSERA_SSH_TIMEOUT_S": "10",
        "TESSERA_SSH_KEEPALIVE_S": "2",  # a cut host is noticed in ~6 s
        "TESSERA_RECHECK_INTERVAL_S": "5",  # and one that is back within 5 s
        "TESSERA_INVENTORY_CACHE_S": "0.5",
        "TESSERA_RATE_LIMIT_PER_S": "0",
    }
    saved = dict(os.environ)
    os.environ.update(env)
    reset_settings()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        subprocess.run(
            [sys.executable, "-m", "services.cli", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        from services.cli.server import _register_local, create_token
        from shared.config import get_settings

        _register_local(get_settings())
        tokens = [create_token(name, admin=name == "admin") for name in ("admin", "alpha", "beta")]
        for name in ("builder", "deployer", "monitor"):
            processes[name] = _tessera("worker", name, *WORKER, env=env, log=home / f"{name}.log")
        processes["beat"] = _tessera("beat", env=env, log=home / "beat.log")
        processes["api"] = _tessera("api", env=env, log=home / "api.log")
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, processes, home)
        yield FaultStack(
            url=url,
            env=env,
            home=home,
            admin_token=tokens[0],
            token=tokens[1],
            other_token=tokens[2],
            processes=processes,
            postgres=postgres,
            broker=broker,
        )
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()


def wait_terminal(stack: FaultStack, run_count: int, where: str, timeout: float) -> dict[str, int]:
    """Poll the private database until `run_count` runs matching `where` have ended."""
    import psycopg

    assert stack.postgres is not None
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.postgres.url, autocommit=True) as db:
        while True:
            states = dict(
                db.execute(  # type: ignore[arg-type]
                    f"SELECT r.state, count(*) FROM runs r {where} GROUP BY r.state"
                ).fetchall()
            )
            ended = sum(
                n for s, n in states.items() if s in ("succeeded", "failed", "cancelled", "lost")
            )
            if ended >= run_count:
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"after {timeout} s: {states}")
            time.sleep(1)


def api(stack: FaultStack, token: str | None = None) -> httpx.Client:
    return stack.client(token)


def ssh_testbed(stack: FaultStack, name: str, work_dir: Path) -> str:
    """An SSH testbed of the test hosts (scripts/ssh-hosts.sh), online with both; its id."""
    with api(stack, stack.admin_token) as admin:
        return str(ssh_hosts.register(admin, name, str(work_dir))["id"])
