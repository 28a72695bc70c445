"""Scale: 10,000 active runs over 10 testbeds, the monitor's cycle, the API beside it, and a
monitor replica taking over from one killed with -9 (`make bench-scale`; bench/README.md).

Real: PostgreSQL, Redis, the API process, the monitor's own cycle code (services/monitor:
leases, reads by index, the Kubernetes connector's batched observe, live logs, compare-and-set
updates) in monitor processes of its own, the Kubernetes connector's placements. Hollow: the
ten clusters are the API server test double with its kubelet off (bench/hollow.py): pods are
scheduled and reported Running and no container runs, as Kubemark's hollow nodes.

Prints name=value lines on stdout, the rest on stderr.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

TESTBEDS = int(os.environ.get("BENCH_SCALE_TESTBEDS", "10"))
PER_TESTBED = int(os.environ.get("BENCH_SCALE_RUNS", "1000"))
REQUESTS = int(os.environ.get("BENCH_SCALE_REQUESTS", "300"))
PAUSE_S = 0.5  # between a monitor's cycles, as TESSERA_POLL_INTERVAL_S
PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres:tessera@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379") + "/14"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def monitor_main(out: str) -> int:
    """A monitor process: the real cycle (services.monitor.tasks.poll_cycle) every PAUSE_S,
    one JSON line per cycle: when, how long, which testbeds it polled, its RSS."""
    from services.cli.server import yield_cpu
    from services.monitor.tasks import poll_cycle
    from shared.config import get_settings

    yield_cpu(get_settings())  # as `tessera worker monitor` does
    profile_to = os.environ.get("BENCH_SCALE_PROFILE")  # cProfile of one steady cycle
    counts: list[int] = []
    with open(out, "a", buffering=1) as handle:
        while True:
            started = time.time()
            steady_now = len(counts) > 2 and counts[-1] == counts[-2] == counts[-3] > 0
            if profile_to and steady_now:
                import cProfile

                profiler = cProfile.Profile()
                polled = profiler.runcall(poll_cycle)
                profiler.dump_stats(profile_to)
                profile_to = None
            else:
                polled = poll_cycle()
            counts.append(sum(polled.values()))
            line = {
                "t": started,
                "s": time.time() - started,
                "polled": {str(k): v for k, v in polled.items()},
                "rss": rss_bytes(),
            }
            handle.write(json.dumps(line) + "\n")
            time.sleep(PAUSE_S)


def cycles(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


class Bench:
    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="tessera-bench-scale-"))
        self.database = f"tessera_bench_scale_{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        self.env |= {
            "TESSERA_HOME": str(self.home),
            "TESSERA_DATABASE_URL": f"{PG}/{self.database}",
            "TESSERA_BROKER_URL": REDIS,
            "TESSERA_RATE_LIMIT_PER_S": "0",
            "PYTHONPATH": str(ROOT),
        }
        os.environ.update(self.env)
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.hollow: subprocess.Popen[str] | None = None

    # ---- setup ----

    def start(self) -> None:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{self.database}"')
        subprocess.run(
            [sys.executable, "-m", "services.cli", "migrate"],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.hollow = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "hollow.py"), str(TESTBEDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        assert self.hollow.stdout is not None
        self.kubeconfigs: list[str] = json.loads(self.hollow.stdout.readline())

    def submissions(self) -> dict[str, int]:
        assert self.hollow is not None and self.hollow.stdin and self.hollow.stdout
        self.hollow.stdin.write("submissions\n")
        self.hollow.stdin.flush()
        counted: dict[str, int] = json.loads(self.hollow.stdout.readline())
        return counted

    def calls(self) -> list[int]:
        assert self.hollow is not None and self.hollow.stdin and self.hollow.stdout
        self.hollow.stdin.write("calls\n")
        self.hollow.stdin.flush()
        served: list[int] = json.loads(self.hollow.stdout.readline())
        return served

    def spawn(self, name: str, args: list[str], log_to: IO[str] | None = None) -> None:
        self.processes[name] = subprocess.Popen(
            args,
            env=self.env,
            stdout=log_to or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log_to else subprocess.DEVNULL,
            text=True,
        )

    def monitor(self, name: str) -> Path:
        out = self.home / f"{name}.jsonl"
        errors = (self.home / f"{name}.log").open("w")
        self.spawn(name, [sys.executable, __file__, "monitor", str(out)], errors)
        return out

    def stop(self) -> None:
        import psycopg
        import redis

        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.hollow is not None:
            self.hollow.kill()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        redis.Redis.from_url(REDIS).flushdb()


def register(bench: Bench) -> tuple[list[Any], uuid.UUID]:
    from services import worker
    from shared.db.models import Project, Testbed, utcnow
    from shared.secrets import encrypt

    with worker.transaction() as session:
        project = Project(name="scale")
        session.add(project)
        rows = [
            Testbed(
                name=f"hollow-{i}",
                kind="kubernetes",
                config={"namespace": "bench", "host_image": "python:3.12-slim"},
                credentials=encrypt(kubeconfig),
                state="online",
                refreshed_at=utcnow(),
            )
            for i, kubeconfig in enumerate(bench.kubeconfigs)
        ]
        session.add_all(rows)
        session.flush()
        for row in rows:
            session.expunge(row)
        project_id = project.id
    from services.monitor.inventory import refresh_testbed

    for row in rows:  # its node, as monitor.refresh finds it: placement and submit read it
        refresh_testbed(row.id)
    return rows, project_id


def place_all(testbeds: list[Any], project_id: uuid.UUID, per_testbed: int) -> float:
    """`per_testbed` runs on each testbed, placed through the Kubernetes connector as the
    deployer places them (render, submit), their rows written as the deployer writes them."""
    from sqlalchemy import insert

    from services import worker
    from shared.db.models import Deployment, Run, RunAttempt, utcnow
    from shared.hardware import parse_spec
    from shared.testbeds.base import Job
    from shared.testbeds.kubernetes import render as kj
    from shared.testbeds.kubernetes.connector import KubernetesConnector

    connector = KubernetesConnector()
    job = Job(
        argv=["sleep", "3600"],
        env={"LANG": "C.UTF-8"},
        hardware=parse_spec(None),
        cpu=0.01,
        memory=2**20,
    )
    target = kj.Target("hollow-0", None, None, {}, [])
    started = time.perf_counter()
    for testbed in testbeds:
        config = connector.client(testbed).config
        ids = [uuid.uuid4() for _ in range(per_testbed)]

        def submit(run_id: uuid.UUID, testbed: Any = testbed, config: Any = config) -> str:
            manifest, configmap = kj.render(job, run_id, testbed.id, target, config)
            return connector.submit(testbed, manifest, configmap)

        with ThreadPoolExecutor(8) as pool:
            refs = list(pool.map(submit, ids))
        now = utcnow()
        with worker.transaction() as session:
            deployment = Deployment(
                project_id=project_id,
                specification={"command": ["sleep", "3600"]},
                batch_size=per_testbed,
                state="running",
            )
            session.add(deployment)
            session.flush()
            common = {"project_id": project_id, "deployment_id": deployment.id}
            session.execute(
                insert(Run),
                [
                    common
                    | {
                        "id": run_id,
                        "index": index,
                        "state": "placed",
                        "testbed_id": testbed.id,
                        "node_name": "hollow-0",
                        "backend_ref": ref,
                        "attempt": 1,
                        "placed_at": now,
                    }
                    for index, (run_id, ref) in enumerate(zip(ids, refs, strict=True))
                ],
            )
            session.execute(
                insert(RunAttempt),
                [
                    {
                        "run_id": run_id,
                        "number": 1,
                        "key": run_id,
                        "state": "placed",
                        "testbed_id": testbed.id,
                        "node_name": "hollow-0",
                        "backend_ref": ref,
                        "placement": {},
                        "placed_at": now,
                    }
                    for run_id, ref in zip(ids, refs, strict=True)
                ],
            )
        log(f"{testbed.name}: {per_testbed} runs placed")
    return time.perf_counter() - started


def api_latencies(url: str, token: str, run_id: str, inspection_id: str) -> dict[str, float]:
    """p99 in seconds of the three calls the issue names, REQUESTS of each."""
    import httpx

    timings: dict[str, list[float]] = {"status": [], "run": [], "deploy": []}
    body = {"command": ["true"]}
    with httpx.Client(
        base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        for _ in range(REQUESTS):
            for name, call in (
                ("status", lambda: http.get(f"/inspections/{inspection_id}/status")),
                ("run", lambda: http.get(f"/runs/{run_id}")),
                ("deploy", lambda: http.post("/deployments", json=body)),
            ):
                started = time.perf_counter()
                response = call()
                timings[name].append(time.perf_counter() - started)
                if response.status_code >= 300:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
    return {name: p99(values) for name, values in timings.items()}


def remote_calls(bench: Bench, path: Path, cycles_in_window: int) -> float:
    def ended() -> int:
        return len(cycles(path))

    start = ended()
    while ended() == start:  # a cycle has just ended: the window opens between two
        time.sleep(0.01)
    before, opened = bench.calls(), ended()
    while ended() < opened + cycles_in_window:
        time.sleep(0.01)
    after = bench.calls()
    window = cycles(path)[opened : opened + cycles_in_window]
    polled = sum(len(c["polled"]) for c in window)
    return (sum(after) - sum(before)) / max(1, polled)


PLACEMENTS = int(os.environ.get("BENCH_SCALE_PLACEMENTS", "1000"))


def double_placements(bench: Bench, url: str, token: str) -> int:
    """Two deployer workers (Celery, threads) place PLACEMENTS more runs beside the active
    ones; the clusters count every Job submitted by name (a run's first attempt is named for
    the run): a name submitted twice is a run placed twice."""
    import httpx
    import psycopg
    import redis

    # The API measurements' deployments were never placed (no deployer ran): they go, so the
    # deployers' queue holds these placements only.
    with psycopg.connect(f"{PG}/{bench.database}", autocommit=True) as db:
        db.execute(
            "UPDATE runs SET state = 'cancelled', finished_at = now() WHERE state = 'queued'"
        )
    redis.Redis.from_url(REDIS).delete("deploy")
    before = bench.submissions()
    for name in ("deployer-1", "deployer-2"):
        out = (bench.home / f"{name}.log").open("w")
        args = ["worker", "deployer", "--pool", "threads", "-c", "4", "--loglevel", "WARNING"]
        bench.spawn(name, [sys.executable, "-m", "services.cli", *args], out)
    headers = {"Authorization": f"Bearer {token}"}
    batch = 100
    with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=60) as http:
        for number in range(PLACEMENTS // batch):
            body = {
                "command": ["sleep", "3600"],
                "batch_size": batch,
                "identifier": "two-deployers",
                "testbed": f"hollow-{number % TESTBEDS}",
            }
            response = http.post("/deployments", json=body)
            if response.status_code != 202:
                raise RuntimeError(f"deployment: {response.status_code} {response.text[:300]}")
    query = (
        "SELECT count(*) FROM runs r JOIN deployments d ON r.deployment_id = d.id "
        "WHERE d.identifier = 'two-deployers' AND r.placed_at IS NOT NULL"
    )
    started = time.monotonic()
    with psycopg.connect(f"{PG}/{bench.database}", autocommit=True) as db:
        while True:
            row = db.execute(query).fetchone()
            placed = int(row[0]) if row else 0
            if placed >= PLACEMENTS:
                break
            if time.monotonic() - started > 900:
                raise RuntimeError(f"only {placed} of {PLACEMENTS} placed")
            time.sleep(1)
    took = time.monotonic() - started
    time.sleep(2)  # a late second submission would show here
    after = bench.submissions()
    new = {name: count - before.get(name, 0) for name, count in after.items()}
    twice = sum(count - 1 for count in new.values() if count > 1)
    log(f"{PLACEMENTS} placements by two deployers in {took:.0f} s; names twice: {twice}")
    return twice


def steady(path: Path, total: int, since: float, count: int = 5) -> list[dict[str, Any]]:
    """The first `count` cycles after `since` in which the monitor polled every active run."""
    deadline = time.monotonic() + 600
    while True:
        if not path.exists() and time.monotonic() > deadline - 570:
            log_file = path.with_suffix(".log")
            raise RuntimeError(f"the monitor wrote no cycle: {log_file.read_text()[-2000:]}")
        done = [c for c in cycles(path) if c["t"] > since and sum(c["polled"].values()) == total]
        if len(done) >= count:
            return done[:count]
        if time.monotonic() > deadline:
            raise RuntimeError(f"no steady cycles: {cycles(path)[-3:]}")
        time.sleep(0.5)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "monitor":
        return monitor_main(sys.argv[2])
    bench = Bench()
    try:
        return measure(bench)
    finally:
        bench.stop()


def measure(bench: Bench) -> int:
    import httpx

    from services.cli.server import create_token

    bench.start()
    testbeds, project_id = register(bench)
    token = create_token("scale", admin=False)
    port = 20000 + os.getpid() % 20000
    api_log = (bench.home / "api.log").open("w")
    bench.env["TESSERA_API_PORT"] = str(port)
    bench.spawn("api", [sys.executable, "-m", "services.cli", "api"], api_log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.2)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=30) as http:
        inspection = http.post("/inspections", json={"base": "host", "script": "true"})
        deployment = http.post("/deployments", json={"command": ["true"]})
        for response in (inspection, deployment):
            if response.status_code != 202:
                raise RuntimeError(f"submit: {response.status_code} {response.text[:300]}")
        inspection, deployment = inspection.json(), deployment.json()
        runs = http.get(f"/deployments/{deployment['deployment_id']}/runs").json()["items"]
    inspection_id, run_id = inspection["inspection_id"], runs[0]["id"]

    first = bench.monitor("monitor-a")
    time.sleep(4 * PAUSE_S)
    api_latencies(url, token, run_id, inspection_id)  # warm: pools, caches, first imports
    idle = api_latencies(url, token, run_id, inspection_id)
    log(f"idle p99: {idle}")

    # A tenth of the runs first: the monitor's memory is read there and at the full count,
    # so what its first polls load once (the Kubernetes client, pools) is not counted per run.
    total = TESTBEDS * PER_TESTBED
    tenth = max(1, PER_TESTBED // 10)
    place_s = place_all(testbeds, project_id, tenth)
    tenth_rss = steady(first, TESTBEDS * tenth, time.time())[-1]["rss"]
    place_s += place_all(testbeds, project_id, PER_TESTBED - tenth)
    log(f"{total} runs placed in {place_s:.0f} s")
    measured = steady(first, total, time.time())
    loaded = api_latencies(url, token, run_id, inspection_id)
    log(f"loaded p99: {loaded}")
    # Remote calls: what the clusters served from the end of one cycle to the end of a later
    # one, over the testbeds those cycles polled (only the monitor calls them by then).
    calls_per_testbed = remote_calls(bench, first, cycles_in_window=3)
    cycle_s = statistics.median(c["s"] for c in measured)
    loaded_rss = cycles(first)[-1]["rss"]
    per_run = (loaded_rss - tenth_rss) / (total - TESTBEDS * tenth)
    ratio = max(loaded[name] / idle[name] for name in idle)

    # A second monitor shares the testbeds; the first is killed with -9 mid-cycle.
    second = bench.monitor("monitor-b")
    time.sleep(3 * cycle_s + 1)
    bench.processes["monitor-a"].kill()
    killed = time.time()
    seen: set[str] = set()
    takeover = 0
    deadline = time.monotonic() + 300
    while len(seen) < TESTBEDS:
        later = [c for c in cycles(second) if c["t"] + c["s"] > killed]  # ended after it
        seen = set().union(*(c["polled"] for c in later)) if later else set()
        takeover = len(later)
        if time.monotonic() > deadline:
            raise RuntimeError(f"testbeds not taken over: {len(seen)} of {TESTBEDS}")
        time.sleep(0.2)

    doubles = double_placements(bench, url, token)

    print(f"scale_active_runs={total}")
    print(f"scale_testbeds={TESTBEDS}")
    print(f"scale_monitor_cycle_s={cycle_s:.2f}")
    print(f"scale_remote_calls_per_testbed={calls_per_testbed:.1f}")
    print(f"scale_api_p99_ratio={ratio:.2f}")
    print(f"scale_worker_bytes_per_run={per_run:.0f}")
    print(f"scale_monitor_takeover_cycles={takeover}")
    print(f"scale_double_placements={doubles}")
    log(
        f"monitor RSS {tenth_rss / 2**20:.0f} MiB at {TESTBEDS * tenth} runs, "
        f"{loaded_rss / 2**20:.0f} MiB at {total}; "
        f"cycles measured: {[round(c['s'], 2) for c in measured]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
