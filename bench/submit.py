"""Submit benchmark: POST /api/v1/inspections under wrk, against a minimal reference app.

Run from the repository root as `.venv/bin/python bench/submit.py` (`make bench`). It makes a
fresh PostgreSQL database, migrates it, starts the real API (`tessera api`, one uvicorn worker)
and bench/reference_app.py on free loopback ports, warms each up, loads them with wrk in
alternating rounds (3 by default, 10 s each; each figure is the median), checks
that every accepted submit left a row (and a Celery message), and prints `name=value` lines on
stdout; everything else goes to stderr. No Celery worker runs: the tasks pile up in Redis.

Exit status: 0 when the measurement ran (whether or not the targets are met), 1 when the
harness itself failed, 130 when interrupted. Every process started is stopped, the database
dropped and the Redis keys removed, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from types import FrameType

import httpx
import psycopg
import redis
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres:tessera@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
API_REDIS_DB = 12  # the API's Celery broker; flushed at the end
REF_REDIS_DB = 13  # the reference app's list lives here, under a per-run key
API_QUEUE = "build"  # kombu keeps a Celery queue as a Redis list of that name
BODY = {"base": "host", "script": "#!/bin/sh\necho '{}'\n"}
RESULT_TAG = "BENCH_RESULT"

# wrk calls done() once, with the totals of all threads: exact counts and the 99th percentile
# in microseconds, instead of the rounded, unit-suffixed numbers of its text report.
LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{tag} %d %d %d %d %d %d %d %.1f\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(99)))
end
"""


class HarnessError(Exception):
    """The benchmark could not run (as opposed to: it ran and missed a target)."""


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reports."""

    requests: int  # responses received, any status (in-flight ones at the end are not)
    duration_s: float
    p99_ms: float
    status_errors: int  # responses with status > 399 (wrk's "Non-2xx or 3xx responses")
    socket_errors: int  # connect + read + write + timeout

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def answered_ok(self) -> int:
        # A timeout is a response that came back late, so it is in `requests`; connect, read
        # and write errors are not responses at all. Neither is subtracted here.
        return self.requests - self.status_errors

    @property
    def errors(self) -> int:
        return self.status_errors + self.socket_errors


def parse_wrk(output: str) -> WrkResult:
    """The numbers from the line the Lua done() hook writes."""
    for line in output.splitlines():
        if line.startswith(RESULT_TAG + " "):
            fields = line.split()[1:]
            requests, duration_us, connect, read, write, status, timeout = map(int, fields[:7])
            return WrkResult(
                requests=requests,
                duration_s=duration_us / 1e6,
                p99_ms=float(fields[7]) / 1000,
                status_errors=status,
                socket_errors=connect + read + write + timeout,
            )
    raise HarnessError(f"wrk printed no {RESULT_TAG} line:\n{output}")


def lua_script(headers: Mapping[str, str]) -> str:
    body = json.dumps(BODY)
    if "]==]" in body:
        raise HarnessError("the request body cannot be quoted in Lua")
    lines = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
    return LUA.format(body=body, headers=lines, tag=RESULT_TAG)


def run_wrk(
    url: str, script: Path, *, duration_s: int, threads: int, connections: int
) -> WrkResult:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 30, check=False
    )
    sys.stderr.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise HarnessError(f"wrk exited with {done.returncode}")
    return parse_wrk(done.stdout)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def process(
    name: str, command: Sequence[str], env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in its own process group; stop the whole group on the way out."""
    log(f"starting {name}: {' '.join(command)}")
    child = subprocess.Popen(
        command, cwd=ROOT, env=dict(env), stdout=sys.stderr, start_new_session=True
    )
    try:
        yield child
    finally:
        stop_group(name, child)


def stop_group(name: str, child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group (uvicorn shuts down gracefully), SIGKILL it if that takes too long."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        try:
            child.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop on {sig.name}")
    if child.poll() is None:
        child.wait(timeout=5)
    log(f"{name} stopped ({child.returncode})")


def wait_ready(
    name: str, url: str, child: subprocess.Popen[bytes], timeout_s: float = 60.0
) -> None:
    """Poll `url` until it answers 200; fail early if the process has died."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise HarnessError(f"{name} exited ({child.returncode}) before it was ready")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                log(f"{name} is ready")
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as error:
            last = f"{type(error).__name__}"
        time.sleep(0.2)
    raise HarnessError(f"{name} not ready after {timeout_s:.0f} s: {last}")


def cpu_seconds(pid: int, *, main_thread: bool = False) -> float:
    """User + system CPU time of a process, or of its main thread, so far (Linux; else 0)."""
    path = f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
    try:
        stat = Path(path).read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)": fields[0] is the state
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_alive(name: str, child: subprocess.Popen[bytes]) -> None:
    """A server that died while it was loaded makes the numbers meaningless."""
    if child.poll() is not None:
        raise HarnessError(f"{name} exited ({child.returncode}) during the run")


@contextmanager
def database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped (its connections terminated first) at the end."""
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created database {name}")
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        log(f"dropped database {name}")


@contextmanager
def redis_db(db: int, *, flush: bool, keys: Sequence[str] = ()) -> Iterator[redis.Redis]:
    """A client on Redis database `db`; at the end the database is flushed or `keys` deleted."""
    client = redis.Redis.from_url(f"{REDIS_URL}/{db}")
    try:
        yield client
    finally:
        if flush:
            client.flushdb()
        elif keys:
            client.delete(*keys)
        client.close()


def tessera_env(db_url: str, home: Path) -> dict[str, str]:
    """This environment less any TESSERA_* setting, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=db_url,
        TESSERA_BROKER_URL=f"{REDIS_URL}/{API_REDIS_DB}",
        TESSERA_HOME=str(home),
        TESSERA_RATE_LIMIT_PER_S="0",  # one token at full speed is the point here
    )
    return env


def prepare_api(env: Mapping[str, str]) -> str:
    """Migrate, register the local testbed and make a token (shown on the last line)."""
    subprocess.run(
        [PYTHON, "-m", "services.cli", "migrate"],
        cwd=ROOT,
        env=dict(env),
        stdout=sys.stderr,
        check=True,
        timeout=120,
    )
    code = (
        "from services.cli.server import _register_local, create_token;"
        "from shared.config import get_settings;"
        "_register_local(get_settings());"
        "print(create_token('bench', admin=False))"
    )
    made = subprocess.run(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    sys.stderr.write(made.stderr)
    lines = made.stdout.strip().splitlines()
    if made.returncode != 0 or not lines:
        raise HarnessError(f"could not make a token (exit {made.returncode})")
    return lines[-1].strip()


@dataclass(frozen=True)
class Counts:
    rows: int
    messages: int


def settled_counts(db_url: str, broker: redis.Redis, timeout_s: float = 15.0) -> Counts:
    """Rows in `inspections` and messages in the build queue, once they stop changing.

    When wrk stops, requests still in flight go on in the API and may commit after it.
    """
    deadline = time.monotonic() + timeout_s
    previous: Counts | None = None
    with psycopg.connect(db_url, autocommit=True) as connection:
        while True:
            row = connection.execute("SELECT count(*) FROM inspections").fetchone()
            messages = broker.llen(API_QUEUE)
            counts = Counts(rows=int(row[0]) if row else 0, messages=int(messages))
            if counts == previous or time.monotonic() > deadline:
                return counts
            previous = counts
            time.sleep(0.5)


@dataclass(frozen=True)
class Options:
    duration_s: int
    warmup_s: int
    rounds: int
    threads: int
    connections: int
    profile: Path | None


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds measured (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up (2)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating API and reference runs (3)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the API with py-spy (on PATH) during its run; .svg: flame graph, "
        ".json: speedscope, anything else: collapsed stacks",
    )
    args = parser.parse_args(argv)
    return Options(
        args.duration, args.warmup, args.rounds, args.threads, args.connections, args.profile
    )


def start_profile(pid: int, out: Path, duration_s: int) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy")
    if spy is None:
        raise HarnessError("--profile needs py-spy on PATH (pip install py-spy)")
    formats = {".svg": "flamegraph", ".json": "speedscope"}
    command = [spy, "record", "--pid", str(pid), "--duration", str(duration_s)]
    command += ["--format", formats.get(out.suffix, "raw"), "--output", str(out)]
    log(f"profiling: {' '.join(command)}")
    return subprocess.Popen(command, stdout=sys.stderr, start_new_session=True)


def measure(options: Options) -> dict[str, str]:
    """The whole run; returns the lines to print."""
    if shutil.which("wrk") is None:
        raise HarnessError("wrk is not installed: `apt-get install wrk` (make bench does)")
    run_id = uuid.uuid4().hex[:12]
    ref_queue = f"tessera-bench:{run_id}"
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tessera-bench-")))
        db_url = stack.enter_context(database(f"tessera_bench_{run_id}"))
        broker = stack.enter_context(redis_db(API_REDIS_DB, flush=True))
        stack.enter_context(redis_db(REF_REDIS_DB, flush=False, keys=[ref_queue]))
        env = tessera_env(db_url, home)
        token = prepare_api(env)

        api_port, ref_port = free_port(), free_port()
        api_command = [PYTHON, "-m", "services.cli", "api", "--host", "127.0.0.1"]
        api_proc = stack.enter_context(process("api", [*api_command, "--port", str(api_port)], env))
        ref_env = {
            **env,
            "BENCH_REF_DSN": db_url,
            "BENCH_REF_REDIS_URL": f"{REDIS_URL}/{REF_REDIS_DB}",
            "BENCH_REF_QUEUE": ref_queue,
        }
        ref_proc = stack.enter_context(
            process(
                "reference",
                [PYTHON, str(ROOT / "bench" / "reference_app.py"), "--port", str(ref_port)],
                ref_env,
            )
        )
        wait_ready("api", f"http://127.0.0.1:{api_port}/readyz", api_proc)
        wait_ready("reference", f"http://127.0.0.1:{ref_port}/readyz", ref_proc)

        api_url = f"http://127.0.0.1:{api_port}/api/v1/inspections"
        ref_url = f"http://127.0.0.1:{ref_port}/submit"
        api_lua = home / "api.lua"
        api_lua.write_text(lua_script({"Authorization": f"Bearer {token}"}))
        ref_lua = home / "ref.lua"
        ref_lua.write_text(lua_script({}))

        def load(
            name: str, child: subprocess.Popen[bytes], url: str, script: Path, seconds: int
        ) -> WrkResult:
            cpu = cpu_seconds(child.pid)
            loop_cpu = cpu_seconds(child.pid, main_thread=True)
            result = run_wrk(
                url,
                script,
                duration_s=seconds,
                threads=options.threads,
                connections=options.connections,
            )
            cpu = cpu_seconds(child.pid) - cpu
            loop_cpu = cpu_seconds(child.pid, main_thread=True) - loop_cpu
            check_alive(name, child)
            if result.answered_ok == 0:
                raise HarnessError(f"{name} accepted no submit")
            per_request = 1000 / max(result.requests, 1)
            log(
                f"{name}: {result.rps:.1f} req/s, p99 {result.p99_ms:.2f} ms;"
                f" CPU per request {cpu * per_request:.2f} ms"
                f" ({loop_cpu * per_request:.2f} ms on the event-loop thread),"
                f" {100 * cpu / result.duration_s:.0f}% of a core"
            )
            return result

        # Alternate: API, reference, API, reference (warm-ups first, not counted).
        load("api warm-up", api_proc, api_url, api_lua, options.warmup_s)
        load("reference warm-up", ref_proc, ref_url, ref_lua, options.warmup_s)

        # Rounds alternate API and reference, so a slow spell of this shared machine falls on
        # both; each figure is the median over the rounds.
        before = settled_counts(db_url, broker)
        apis: list[WrkResult] = []
        refs: list[WrkResult] = []
        for number in range(1, options.rounds + 1):
            profiler = None
            if options.profile is not None and number == 1:
                profiler = start_profile(api_proc.pid, options.profile, options.duration_s)
                stack.callback(stop_group, "py-spy", profiler)
            apis.append(load(f"api {number}", api_proc, api_url, api_lua, options.duration_s))
            if profiler is not None:
                profiler.wait(timeout=60)
            refs.append(load(f"reference {number}", ref_proc, ref_url, ref_lua, options.duration_s))
        after = settled_counts(db_url, broker)

    rows = after.rows - before.rows
    messages = after.messages - before.messages
    answered = sum(api.answered_ok for api in apis)
    # wrk counts only the responses it read; a request still in flight when it stopped may
    # commit afterwards, so rows can exceed the 2xx answered (by up to --connections). More rows
    # than answers is not a loss, so a negative difference counts as 0 lost.
    lost = max(0, answered - rows)
    log(
        f"API: {answered} answered 2xx, {rows} inspection rows, {messages} build messages"
        f" ({sum(api.status_errors for api in apis)} non-2xx,"
        f" {sum(api.socket_errors for api in apis)} socket errors)"
    )
    if messages != rows:
        log(f"WARNING: {rows} rows but {messages} Celery messages in '{API_QUEUE}'")
    pairs = zip(apis, refs, strict=True)
    ratios = [api.rps / ref.rps if ref.rps > 0 else 0.0 for api, ref in pairs]
    return {
        "submit_rps": f"{median(api.rps for api in apis):.1f}",
        "submit_ref_rps": f"{median(ref.rps for ref in refs):.1f}",
        "submit_ratio": f"{median(ratios):.2f}",
        "submit_p99_ms": f"{median(api.p99_ms for api in apis):.2f}",
        "submit_ref_p99_ms": f"{median(ref.p99_ms for ref in refs):.2f}",
        "submit_lost": str(lost),
        "submit_errors": str(sum(api.errors for api in apis)),
    }


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # cleanup runs on SIGTERM as on Ctrl-C
    try:
        lines = measure(options)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (HarnessError, subprocess.SubprocessError, OSError, psycopg.Error) as error:
        log(f"FAILED: {error}")
        return 1
    except redis.RedisError as error:
        log(f"FAILED: Redis: {error}")
        return 1
    for name, value in lines.items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
