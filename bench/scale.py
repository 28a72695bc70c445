"""Scale: 10,000 active runs over 10 testbeds, the monitor's cycle, the API beside it, and a
monitor replica taking over from one killed with -9 (`make bench-scale`; bench/README.md).

Real: PostgreSQL, Redis, the API process, the monitor's own cycle code (services/monitor:
leases, the glance by index, each connector's batched observe, compare-and-set updates) in
monitor processes of its own, the Kubernetes and SLURM connectors' placements, the SLURM test
cluster (its partition down: the jobs queue) and an SSH host over sshd. Hollow: the Kubernetes
clusters are the API server test double with its kubelet off (bench/hollow.py): pods are
scheduled and reported Running and no container runs, as Kubemark's hollow nodes; the SSH
runs are folders as a running runner leaves them, their locks held by one process.

Prints name=value lines on stdout, the rest on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

TESTBEDS = int(os.environ.get("BENCH_SCALE_TESTBEDS", "10"))
PER_TESTBED = int(os.environ.get("BENCH_SCALE_RUNS", "1000"))
REQUESTS = int(os.environ.get("BENCH_SCALE_REQUESTS", "1000"))
WORKER_NICE = int(os.environ.get("TESSERA_WORKER_NICE", "10"))  # the monitor's
PAUSE_S = 0.5  # between a monitor's cycles, as TESSERA_POLL_INTERVAL_S
PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres:tessera@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379") + "/14"


HOLDER = """
import fcntl, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for line in iter(sys.stdin.readline, "\\n"):
    handle = open(line.strip())
    fcntl.flock(handle, fcntl.LOCK_EX)
    held.append(handle)
print("held", flush=True)
sys.stdin.read()
"""


def partition(state: str) -> None:
    """The SLURM test cluster's partition DOWN (its jobs queue) or UP."""
    subprocess.run(
        ["scontrol", "update", "PartitionName=debug", f"State={state}"],
        check=True,
        capture_output=True,
    )


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
            full = TESTBEDS * PER_TESTBED
            steady_now = len(counts) > 2 and counts[-1] == counts[-2] == counts[-3] == full
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
                "calls": remote_calls_made(),
            }
            handle.write(json.dumps(line) + "\n")
            time.sleep(PAUSE_S)


def remote_calls_made() -> dict[str, int]:
    """The remote calls this process's connectors have made so far, by kind: Kubernetes API
    requests, SSH commands to the SLURM cluster and to the SSH hosts."""
    from shared import testbeds

    made: dict[str, int] = {}
    for kind in KINDS:
        connector: Any = testbeds.connector(kind)
        made[kind] = connector.calls if kind == "kubernetes" else connector.ssh.remote_calls
    return made


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
        self.holders: list[subprocess.Popen[str]] = []
        self.slurm_jobs: list[str] = []  # cancelled at the end

    def hold(self, paths: list[str]) -> None:
        """A process that holds the lock on each of `paths` until the bench ends (the SSH
        runs' `alive` files: a held lock is a live runner to host.py)."""
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("\n".join(paths) + "\n\n")
        holder.stdin.flush()
        if holder.stdout.readline().strip() != "held":
            raise RuntimeError("the SSH runs' locks could not be held")
        self.holders.append(holder)

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
        if KINDS.get("slurm"):
            partition("DOWN")
        self.hollow = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "hollow.py"), str(KINDS.get("kubernetes", 0))],
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
        for holder in self.holders:
            holder.kill()
        if KINDS.get("slurm"):  # the queued jobs go before the partition is up again
            for at in range(0, len(self.slurm_jobs), 500):
                chunk = self.slurm_jobs[at : at + 500]
                subprocess.run(["scancel", *chunk], check=False, capture_output=True)
            partition("UP")
            user = os.environ.get("TESSERA_TEST_SSH_USER", "tessera-ci")
            work = Path(pwd.getpwnam(user).pw_dir) / f".tessera-bench-scale-{self.database}"
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        redis.Redis.from_url(REDIS).flushdb()


def _kinds() -> dict[str, int]:
    """How many testbeds of each kind (BENCH_SCALE_KINDS, e.g. kubernetes:8,slurm:1,ssh:1)."""
    spec = os.environ.get("BENCH_SCALE_KINDS", f"kubernetes:{TESTBEDS - 2},slurm:1,ssh:1")
    kinds = {kind: int(count) for kind, _, count in (p.partition(":") for p in spec.split(","))}
    if sum(kinds.values()) != TESTBEDS or kinds.get("slurm", 0) > 1 or kinds.get("ssh", 0) > 1:
        raise SystemExit(f"BENCH_SCALE_KINDS={spec}: {TESTBEDS} testbeds, one SLURM, one SSH")
    return kinds


KINDS = _kinds()
SLURM_STATE = Path(os.environ.get("TESSERA_SLURM_STATE", "/var/lib/tessera-slurm"))
SSH_STATE = Path(os.environ.get("TESSERA_SSH_HOSTS_STATE", "/var/lib/tessera-ssh-hosts"))


def _testbed_rows(bench: Bench) -> list[Any]:
    """The testbeds' rows: hollow Kubernetes clusters, the SLURM test cluster over sshd
    (scripts/slurm.sh) and the SSH test hosts (scripts/ssh-hosts.sh)."""
    from shared.db.models import Testbed, utcnow
    from shared.secrets import encrypt

    rows = [
        Testbed(
            name=f"hollow-{i}",
            kind="kubernetes",
            config={"namespace": "bench", "host_image": "python:3.12-slim"},
            credentials=encrypt(kubeconfig),
        )
        for i, kubeconfig in enumerate(bench.kubeconfigs)
    ]
    if KINDS.get("slurm"):
        config = {
            "host": "127.0.0.1",
            "port": int(os.environ.get("TESSERA_TEST_SSH_PORT", "2222")),
            "user": os.environ.get("TESSERA_TEST_SSH_USER", "tessera-ci"),
            "host_key": (SLURM_STATE / "ssh" / "host_ed25519_key.pub").read_text().strip(),
            "gres_types": {"H100": "h100"},
            "accounting": "jobcomp",
            "work_dir": f".tessera-bench-scale-{bench.database}",
        }
        key = (SLURM_STATE / "ssh" / "id_ed25519").read_text()
        rows.append(Testbed(name="slurm-0", kind="slurm", config=config, credentials=encrypt(key)))
    if KINDS.get("ssh"):
        hosts = json.loads((SSH_STATE / "hosts.json").read_text())
        keep = ("name", "host", "port", "user", "host_key")
        config = {
            "hosts": [{k: h[k] for k in keep} for h in hosts["hosts"]],
            "work_dir": str(bench.home / "ssh-hosts"),
        }
        key = Path(hosts["client_key"]).read_text()
        rows.append(Testbed(name="ssh-0", kind="ssh", config=config, credentials=encrypt(key)))
    for row in rows:
        row.state, row.refreshed_at = "online", utcnow()
    return rows


def register(bench: Bench) -> tuple[list[Any], uuid.UUID]:
    from services import worker
    from shared.db.models import Project

    with worker.transaction() as session:
        project = Project(name="scale")
        session.add(project)
        rows = _testbed_rows(bench)
        session.add_all(rows)
        session.flush()
        for row in rows:
            session.expunge(row)
        project_id = project.id
    from services.monitor.inventory import refresh_testbed

    for row in rows:  # its nodes, as monitor.refresh finds them: placement and submit read them
        refresh_testbed(row.id)
    return rows, project_id


def _record(
    testbed: Any, project_id: uuid.UUID, node: str, placed: list[tuple[uuid.UUID, str]]
) -> None:
    """The rows of runs placed on `node`, as the deployer writes them: a deployment, each run
    placed (attempt 1) and its attempt row."""
    from sqlalchemy import insert

    from services import worker
    from shared.db.models import Deployment, Run, RunAttempt, utcnow

    now = utcnow()
    with worker.transaction() as session:
        deployment = Deployment(
            project_id=project_id,
            specification={"command": ["sleep", "3600"]},
            batch_size=len(placed),
            state="running",
        )
        session.add(deployment)
        session.flush()
        common = {"project_id": project_id, "deployment_id": deployment.id}
        where = {"state": "placed", "testbed_id": testbed.id, "node_name": node}
        session.execute(
            insert(Run),
            [
                common
                | where
                | {"id": run_id, "index": index, "backend_ref": ref}
                | {"attempt": 1, "placed_at": now}
                for index, (run_id, ref) in enumerate(placed)
            ],
        )
        session.execute(
            insert(RunAttempt),
            [
                where
                | {"run_id": run_id, "number": 1, "key": run_id, "backend_ref": ref}
                | {"placement": {}, "placed_at": now}
                for run_id, ref in placed
            ],
        )


def _node(testbed: Any, name: str | None = None) -> tuple[str, dict[str, Any]]:
    from sqlalchemy import select

    from services import worker
    from shared.db.models import Node

    with worker.transaction() as session:
        found = session.execute(
            select(Node.name, Node.inventory).where(Node.testbed_id == testbed.id)
        ).all()
    for node_name, inventory in sorted(found):
        if name is None or node_name == name:
            return node_name, dict(inventory)
    raise RuntimeError(f"{testbed.name}: no node {name or ''} after its refresh")


def _sleep_job() -> Any:
    from shared.hardware import parse_spec
    from shared.testbeds.base import Job

    return Job(
        argv=["sleep", "3600"],
        env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
        hardware=parse_spec(None),
        cpu=0.01,
        memory=2**20,
        timeout_s=7200,
    )


def place_kubernetes(testbed: Any, project_id: uuid.UUID, count: int) -> None:
    """Through the Kubernetes connector as the deployer places them (render, submit)."""
    from shared.testbeds.kubernetes import render as kj
    from shared.testbeds.kubernetes.connector import KubernetesConnector
    from shared.testbeds.kubernetes.schedule import Target

    connector = KubernetesConnector()
    config = connector.client(testbed).config
    target = Target("hollow-0", None, None, {}, [])

    def submit(run_id: uuid.UUID) -> tuple[uuid.UUID, str]:
        manifest, configmap = kj.render(_sleep_job(), run_id, testbed.id, target, config)
        return run_id, connector.submit(testbed, manifest, configmap)

    with ThreadPoolExecutor(8) as pool:
        placed = list(pool.map(submit, [uuid.uuid4() for _ in range(count)]))
    _record(testbed, project_id, "hollow-0", placed)


def place_slurm(bench: Bench, testbed: Any, project_id: uuid.UUID, count: int) -> None:
    """Through the SLURM connector (the run's folder and sbatch, over the persistent SSH
    connection) into the test cluster's partition, set DOWN: the jobs queue (PartitionDown)."""
    from shared import testbeds as kinds

    connector = kinds.connector("slurm")
    node, inventory = _node(testbed)

    def submit(run_id: uuid.UUID) -> tuple[uuid.UUID, str]:
        return run_id, connector.place(testbed, node, run_id, _sleep_job(), inventory)

    with ThreadPoolExecutor(4) as pool:
        placed = list(pool.map(submit, [uuid.uuid4() for _ in range(count)]))
    bench.slurm_jobs += [ref for _, ref in placed if ref.isdigit()]
    refused = [ref for _, ref in placed if not ref.isdigit()]
    if refused:
        raise RuntimeError(f"sbatch refused {len(refused)} runs: {refused[0]}")
    _record(testbed, project_id, node, placed)


def place_ssh(bench: Bench, testbed: Any, project_id: uuid.UUID, count: int) -> None:
    """Hollow runs on a real SSH host: each run's folder as the runner leaves it while the
    command runs (started.json, the `alive` lock held), the locks held by one process of the
    bench's instead of a runner and a command each; host.py reads them over SSH as any."""
    from shared import testbeds as kinds

    connector = kinds.connector("ssh")
    node = testbed.config["hosts"][-1]["name"]  # the host without GPUs
    _, base, _ = connector._where(testbed, node)  # the folders host.py reads
    started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    locks: list[str] = []
    placed: list[tuple[uuid.UUID, str]] = []
    pid = str(os.getpid())
    for _ in range(count):
        run_id = uuid.uuid4()
        folder = Path(base) / "runs" / str(run_id)
        folder.mkdir(parents=True)
        (folder / "started.json").write_text(json.dumps({"pid": int(pid), "start": started}))
        (folder / "alive").touch()
        locks.append(str(folder / "alive"))
        placed.append((run_id, pid))
    bench.hold(locks)
    _record(testbed, project_id, node, placed)


def place_all(bench: Bench, testbeds: list[Any], project_id: uuid.UUID, per_testbed: int) -> float:
    """`per_testbed` more runs on each testbed, placed through its connector (the hollow SSH
    runs excepted: place_ssh), their rows written as the deployer writes them."""
    started = time.perf_counter()
    for testbed in testbeds:
        if testbed.kind == "kubernetes":
            place_kubernetes(testbed, project_id, per_testbed)
        elif testbed.kind == "slurm":
            place_slurm(bench, testbed, project_id, per_testbed)
        else:
            place_ssh(bench, testbed, project_id, per_testbed)
        log(f"{testbed.name}: {per_testbed} runs placed")
    return time.perf_counter() - started


@contextlib.contextmanager
def busy_loop(nice: int) -> Iterator[None]:
    """A process that spins and does nothing else (no I/O, no memory to speak of), at `nice`:
    what any busy process beside the API costs it on this machine."""
    spin = f"import os\nos.nice({nice})\nwhile True:\n    pass\n"
    process = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.5)
        yield
    finally:
        process.kill()
        process.wait()


def api_latencies(url: str, token: str, run_id: str, inspection_id: str) -> dict[str, float]:
    """p99 in seconds of the three calls the issue names, REQUESTS of each (after a warm-up
    round), timed by a client process of its own: this one has placed 10,000 runs, and its
    collector's passes over what that left would be counted as the API's time."""
    done = subprocess.run(
        [sys.executable, __file__, "latencies", url, token, run_id, inspection_id],
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, float] = json.loads(done.stdout)
    return measured


def latencies_main(url: str, token: str, run_id: str, inspection_id: str) -> int:
    _latencies(url, token, run_id, inspection_id)  # warm: connections, the API's caches
    print(json.dumps(_latencies(url, token, run_id, inspection_id)))
    return 0


def _latencies(url: str, token: str, run_id: str, inspection_id: str) -> dict[str, float]:
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


def remote_calls(path: Path, kinds: dict[str, str], cycles_in_window: int) -> dict[str, float]:
    """The remote calls the monitor made in `cycles_in_window` cycles, per testbed polled,
    by kind (`kinds`: each testbed's kind by id)."""
    start = len(cycles(path))
    while len(cycles(path)) < start + cycles_in_window + 1:
        time.sleep(0.05)
    window = cycles(path)[start : start + cycles_in_window + 1]
    per_kind: dict[str, float] = {}
    for kind in set(kinds.values()):
        made = window[-1]["calls"][kind] - window[0]["calls"][kind]
        polled = sum(1 for c in window[1:] for t in c["polled"] if kinds.get(t) == kind)
        per_kind[kind] = made / max(1, polled)
    return per_kind


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
                "testbed": f"hollow-{number % KINDS['kubernetes']}",
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
    if len(sys.argv) > 5 and sys.argv[1] == "latencies":
        return latencies_main(*sys.argv[2:6])
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
    idle = api_latencies(url, token, run_id, inspection_id)
    log(f"idle p99: {idle}")

    # A tenth of the runs first: the monitor's memory is read there and at the full count,
    # so what its first polls load once (the Kubernetes client, pools) is not counted per run.
    total = TESTBEDS * PER_TESTBED
    tenth = max(1, PER_TESTBED // 10)
    place_s = place_all(bench, testbeds, project_id, tenth)
    tenth_rss = steady(first, TESTBEDS * tenth, time.time())[-1]["rss"]
    place_s += place_all(bench, testbeds, project_id, PER_TESTBED - tenth)
    log(f"{total} runs placed in {place_s:.0f} s")
    measured = steady(first, total, time.time())
    loaded = api_latencies(url, token, run_id, inspection_id)
    log(f"loaded p99: {loaded}")
    monitor_a = bench.processes["monitor-a"]
    monitor_a.send_signal(signal.SIGSTOP)  # the same rows, no cycle beside: what data costs
    try:
        log(f"loaded p99, the monitor stopped: {api_latencies(url, token, run_id, inspection_id)}")
        # The reference: the same, beside a process that only spins, at the monitor's nice.
        with busy_loop(WORKER_NICE):
            beside_loop = api_latencies(url, token, run_id, inspection_id)
        log(f"loaded p99, the monitor stopped, a busy loop beside: {beside_loop}")
    finally:
        monitor_a.send_signal(signal.SIGCONT)
    # Remote calls: what the monitor's connectors made in 3 cycles, over the testbeds polled.
    kinds = {str(t.id): t.kind for t in testbeds}
    calls_by_kind = remote_calls(first, kinds, cycles_in_window=3)
    log(f"remote calls per testbed polled, by kind: {calls_by_kind}")
    calls_per_testbed = max(calls_by_kind.values())
    cycle_s = statistics.median(c["s"] for c in measured)
    loaded_rss = cycles(first)[-1]["rss"]
    per_run = (loaded_rss - tenth_rss) / (total - TESTBEDS * tenth)
    ratio = max(loaded[name] / idle[name] for name in idle)
    busy_ratio = max(loaded[name] / beside_loop[name] for name in idle)

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
    print(f"scale_api_p99_busy_loop_ratio={busy_ratio:.2f}")
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
