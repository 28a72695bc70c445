"""The compose stack for real under podman (run by scripts/e2e-compose.sh, `make e2e-compose`).

docker-compose.yml + docker-compose.images.yml (locally made images) + deploy/compose/
local-testbed.yml (the worker containers are the `local` testbed), on ports of their own so
the host's Postgres, Redis and registry are left alone. Through the published API port: an
admin token from the documented one-shot, a 50-run deployment, Prometheus' targets, a 200-run
deployment while the deployers go to 3 and the monitors to 2, an upgrade to an image with
one more Alembic revision (made here, in a derived image), and a pg_dump / pg_restore as
docs/operations.md says. Each run's backend submissions are the lines of its folder's
`starts` file (the runner writes one per start) and its rows in run_attempts.

Prints last: compose_runs=, compose_lost=, compose_double_placements=, compose_targets_up=,
upgrade_rows_kept=. Exits 1 when any of them is off.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PROJECT = os.environ.get("TESSERA_E2E_PROJECT", "tessera-e2e")
COMPOSE = os.environ.get("TESSERA_E2E_COMPOSE", "podman-compose")
FILES = ("docker-compose.yml", "docker-compose.images.yml", "deploy/compose/local-testbed.yml")
# Grafana has no Debian package: everything else of docker-compose.yml.
SERVICES = ("postgres", "redis", "registry", "api", "builder", "deployer", "monitor", "beat")
SERVICES_ALL = (*SERVICES, "prometheus")
TESSERA = ("api", "builder", "deployer", "monitor", "beat")
IMAGE = "localhost/tessera:e2e"
UPGRADED = "localhost/tessera:e2e-upgrade"
TEST_REVISION = "e2e0upgrade1"
# Stable once their deployments have ended: compared before and after the upgrade.
KEPT = ("projects", "deployments", "runs", "run_attempts")


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = probe.getsockname()[1]
            return chosen
    raise RuntimeError("no free port")


PORTS = {
    "TESSERA_API_PORT": free_port(18000),
    "PROMETHEUS_PORT": free_port(19090),
    "REGISTRY_PORT": free_port(15000),
    "GRAFANA_PORT": free_port(13000),
}
ENV = {**os.environ, **{k: str(v) for k, v in PORTS.items()}, "TESSERA_IMAGE": IMAGE}
API = f"http://127.0.0.1:{PORTS['TESSERA_API_PORT']}"
PROMETHEUS = f"http://127.0.0.1:{PORTS['PROMETHEUS_PORT']}"


def say(message: str) -> None:
    print(f"e2e-compose [{time.strftime('%H:%M:%S')}] {message}", flush=True)


def compose(
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    stdin: Any = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    files = [arg for name in FILES for arg in ("-f", str(ROOT / name))]
    argv = [COMPOSE, "--in-pod", "false", "-p", PROJECT, *files, *args]
    done = subprocess.run(
        argv, cwd=ROOT, env=env or ENV, stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return done


def podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def sql(query: str) -> list[str]:
    done = compose("exec", "-T", "postgres", "psql", "-U", "tessera", "-d", "tessera", "-At",
                   "-v", "ON_ERROR_STOP=1", "-c", query)  # fmt: skip
    return [line for line in done.stdout.splitlines() if line]


def wait(what: str, check: Any, timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, RuntimeError, ValueError, KeyError) as error:
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}: {last!r}")


def ready() -> bool:
    return httpx.get(f"{API}/readyz", timeout=5).status_code == 200


def containers(service: str) -> list[str]:
    names = podman("ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
                   "--filter", f"label=com.docker.compose.service={service}",
                   "--format", "{{.Names}}")  # fmt: skip
    return sorted(names.split())


def up(*extra: str, env: dict[str, str] | None = None) -> None:
    compose("up", "-d", *extra, *SERVICES_ALL, env=env)
    wait("the API's /readyz", ready, 600, every=3)


def admin_token() -> str:
    # The one-shot the README documents, in the API's container (it has the database URL).
    out = compose("exec", "-T", "api", "tessera", "admin", "create-token", "--project", "admin",
                  "--admin").stdout  # fmt: skip
    return out.strip().splitlines()[-1].strip()


class Client:
    def __init__(self, token: str) -> None:
        self.http = httpx.Client(
            base_url=f"{API}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def deploy(self, command: list[str], runs: int) -> str:
        body = {"command": command, "batch_size": runs, "testbed": "local"}
        response = self.http.post("/deployments", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"deployment refused: {response.status_code} {response.text}")
        deployment_id: str = response.json()["deployment_id"]
        return deployment_id

    def finished(self, deployment_id: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(f"/deployments/{deployment_id}/status")
        return status if status["state"] in ("succeeded", "failed", "cancelled") else {}


def local_online(client: Client) -> bool:
    testbeds = client.get("/testbeds")
    items = testbeds["items"] if isinstance(testbeds, dict) else testbeds
    return any(t["name"] == "local" and t["state"] == "online" for t in items)


def targets_up() -> dict[str, int]:
    """Tessera targets Prometheus scrapes with health up, by service label."""
    data = httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=10).json()["data"]
    counted: Counter[str] = Counter()
    for target in data["activeTargets"]:
        service = target["labels"].get("service")
        if service in TESSERA and target["health"] == "up":
            counted[service] += 1
    return dict(counted)


def expect_targets(expected: dict[str, int]) -> int:
    def check() -> int:
        found = targets_up()
        say(f"prometheus targets up: {found}")
        return sum(found.values()) if found == expected else 0

    counted: int = wait(f"Prometheus' targets {expected}", check, 180, every=5)
    return counted


def placements(deployments: list[str]) -> tuple[int, int, int, int]:
    """(runs, succeeded, lost, double placements) over the deployments' runs."""
    ids = ",".join(f"'{d}'" for d in deployments)
    runs = dict(
        line.split("|", 1)
        for line in sql(f"SELECT id, state FROM runs WHERE deployment_id IN ({ids})")
    )
    attempts: dict[str, list[str]] = {}
    for line in sql(
        f"SELECT a.run_id, a.key FROM run_attempts a JOIN runs r ON r.id = a.run_id "
        f"WHERE r.deployment_id IN ({ids})"
    ):
        run_id, key = line.split("|")
        attempts.setdefault(run_id, []).append(key)
    # Every start of a runner is a line in its folder's `starts`: the backend's submissions.
    listing = compose(
        "exec", "-T", "monitor", "sh", "-c",
        'cd /var/lib/tessera/runs && for d in *; do [ -f "$d/starts" ] && '
        'echo "$d $(wc -l < "$d/starts")"; done; true',
    ).stdout  # fmt: skip
    starts = {key: int(n) for key, n in (line.split() for line in listing.splitlines())}
    # The deployers' own word: a "placed" line per placement, whichever replica placed it.
    logged: Counter[str] = Counter()
    for name in containers("deployer"):
        logs = subprocess.run(["podman", "logs", name], capture_output=True, text=True, timeout=120)
        text = logs.stdout + logs.stderr  # Celery logs to stderr
        logged.update(re.findall(r"run ([0-9a-f-]{36}) attempt \d+ placed", text))
    succeeded = sum(1 for state in runs.values() if state == "succeeded")
    double = 0
    lost = 0
    for run_id, state in runs.items():
        submitted = sum(starts.get(key, 0) for key in attempts.get(run_id, []))
        if submitted > 1 or len(attempts.get(run_id, [])) > 1:
            double += 1
            say(f"run {run_id}: {submitted} starts, {len(attempts.get(run_id, []))} attempts")
        if state != "succeeded" or submitted == 0:
            lost += 1
    say(f"deployer log lines 'placed': {sum(logged.values())} for {len(logged)} runs")
    return len(runs), succeeded, lost, double


def fingerprint(tables: tuple[str, ...]) -> dict[str, set[str]]:
    return {table: set(sql(f"SELECT md5(t::text) FROM {table} t")) for table in tables}


def upgraded_image(workdir: Path) -> None:
    """IMAGE plus one Alembic revision after every head it has (made in the build)."""
    revision = f'''"""e2e: one more revision (made by scripts/e2e_compose.py, never in the repo)"""

import sqlalchemy as sa
from alembic import op

revision = "{TEST_REVISION}"
down_revision = HEADS
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "e2e_upgrade",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.bulk_insert(table, [{{"id": 1}}])


def downgrade() -> None:
    op.drop_table("e2e_upgrade")
'''
    (workdir / "revision.py").write_text(revision)
    (workdir / "make_revision.py").write_text(
        "from alembic.script import ScriptDirectory\n"
        "from shared.db.migrate import MIGRATIONS, alembic_config\n"
        "script = ScriptDirectory.from_config(alembic_config('sqlite://'))\n"
        "heads = tuple(sorted(script.get_heads()))\n"
        "text = open('/tmp/revision.py').read().replace('HEADS', repr(heads))\n"
        f"(MIGRATIONS / 'versions' / '29991231_{TEST_REVISION}_e2e.py').write_text(text)\n"
        "print('e2e revision after', heads)\n"
    )
    (workdir / "Containerfile").write_text(
        f"FROM {IMAGE}\n"
        "COPY revision.py make_revision.py /tmp/\n"
        "USER 0\n"
        "RUN python /tmp/make_revision.py && rm /tmp/revision.py /tmp/make_revision.py\n"
        "USER 10001\n"
    )
    subprocess.run(
        ["buildah", "bud", "--quiet", "--isolation", "chroot", "--layers",
         "-t", UPGRADED, str(workdir)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip


def cleanup() -> None:
    compose("down", "-v", "-t", "5", check=False, timeout=600)
    left = podman("ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
                  "--format", "{{.Names}}", check=False).split()  # fmt: skip
    if left:
        podman("rm", "-f", *left, check=False)
    volumes = [v for v in podman("volume", "ls", "--format", "{{.Name}}", check=False).split()
               if v.startswith(f"{PROJECT}_")]  # fmt: skip
    if volumes:
        podman("volume", "rm", "-f", *volumes, check=False)
    networks = [n for n in podman("network", "ls", "--format", "{{.Name}}", check=False).split()
                if n.startswith(f"{PROJECT}_")]  # fmt: skip
    if networks:
        podman("network", "rm", "-f", *networks, check=False)


def main() -> int:
    started = time.monotonic()
    figures: dict[str, int] = {}
    cleanup()  # a previous run's leftovers, if it was killed
    try:
        say(f"up: {', '.join(SERVICES_ALL)} (ports {PORTS})")
        up()
        token = admin_token()
        client = Client(token)
        wait("the local testbed online", lambda: local_online(client), 300, every=3)
        say(f"stack ready in {time.monotonic() - started:.0f} s")
        registry = f"http://127.0.0.1:{PORTS['REGISTRY_PORT']}/v2/"
        wait("the stack's registry", lambda: httpx.get(registry, timeout=5).status_code == 200, 60)

        first = client.deploy(["python3", "-c", "print(42)"], 50)
        status = wait("50 runs", lambda: client.finished(first), 600, every=3)
        say(f"50-run deployment: {status}")
        expect_targets(dict.fromkeys(TESSERA, 1))

        second = client.deploy(["python3", "-c", "import time; time.sleep(3); print(1)"], 200)
        say("scaling: deployer=3, monitor=2 while 200 runs go")
        compose("up", "-d", "--scale", "deployer=3", *SERVICES_ALL)
        compose("up", "-d", "--scale", "monitor=2", *SERVICES_ALL)
        scaled = {"api": 1, "builder": 1, "deployer": 3, "monitor": 2, "beat": 1}
        for name, count in scaled.items():
            assert len(containers(name)) == count, (name, containers(name))
        status = wait("200 runs", lambda: client.finished(second), 900, every=5)
        say(f"200-run deployment: {status}")
        figures["compose_targets_up"] = expect_targets(scaled)
        total, succeeded, lost, double = placements([first, second])
        figures |= {"compose_runs": succeeded, "compose_lost": lost + (250 - total)}
        figures["compose_double_placements"] = double

        # Upgrade: stop, start from an image with one more revision; the data must be there.
        before = fingerprint(KEPT)
        tokens = set(sql("SELECT id FROM api_tokens"))
        with tempfile.TemporaryDirectory() as workdir:
            upgraded_image(Path(workdir))
        say("upgrade: down (the volumes kept), then up from the image with one more revision")
        compose("down", "-t", "10")  # podman-compose's `up` restarts stopped containers as
        # they were: they are made anew from the new image only when removed first.
        left = podman("ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
                      "--format", "{{.Names}}").split()  # fmt: skip
        if left:
            say(f"left after down: {left}; removing them")
            # Exit 125 for the healthcheck timers it cannot remove without systemd: checked below.
            # Dependents go first: a container others require is refused until they are gone.
            for _ in range(3):
                podman("rm", "-f", "-t", "10", *left, check=False)
                still = podman("ps", "-a", "--filter",
                               f"label=com.docker.compose.project={PROJECT}",
                               "--format", "{{.Names}}").split()  # fmt: skip
                left = still
                if not still:
                    break
            assert not still, f"containers left after down: {still}"
        up(env={**ENV, "TESSERA_IMAGE": UPGRADED})
        say(f"api runs {podman('inspect', containers('api')[0], '--format', '{{.ImageName}}')}")
        compose("restart", "api", env={**ENV, "TESSERA_IMAGE": UPGRADED})  # no second migration
        wait("the API's /readyz after a restart", ready, 300, every=3)
        heads = set(sql("SELECT version_num FROM alembic_version"))
        marks = int(sql("SELECT count(*) FROM e2e_upgrade")[0])
        after = fingerprint(KEPT)
        kept = all(before[t] <= after[t] for t in KEPT) and tokens <= set(
            sql("SELECT id FROM api_tokens")
        )
        say(f"alembic_version {heads}; e2e_upgrade rows {marks}; rows kept {kept}")
        figures["upgrade_rows_kept"] = int(kept and heads == {TEST_REVISION} and marks == 1)
        Client(token).get("/deployments?limit=1")  # the old token still signs in

        # Backup and restore, with docs/operations.md's commands.
        compose("stop", "api", "builder", "deployer", "monitor", "beat")
        everything = tuple(sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        saved = fingerprint(everything)
        with tempfile.TemporaryDirectory() as workdir:
            dump = Path(workdir) / "tessera.dump"
            with dump.open("w") as out:
                subprocess.run(
                    [COMPOSE, "--in-pod", "false", "-p", PROJECT,
                     *[a for n in FILES for a in ("-f", str(ROOT / n))],
                     "exec", "-T", "postgres", "pg_dump", "-U", "tessera", "-Fc", "tessera"],
                    cwd=ROOT, env=ENV, stdout=out, check=True, timeout=300,
                )  # fmt: skip
            say(f"pg_dump: {dump.stat().st_size} bytes; dropping the runs, then pg_restore")
            sql("DELETE FROM run_attempts; DELETE FROM runs; DELETE FROM deployments")
            with dump.open("rb") as source:
                compose("exec", "-T", "postgres", "pg_restore", "-U", "tessera", "-d", "tessera",
                        "--clean", "--if-exists", stdin=source)  # fmt: skip
        restored = fingerprint(everything)
        same = restored == saved
        say(f"restore gave back the same rows: {same}")
        figures["upgrade_rows_kept"] &= int(same)
        up(env={**ENV, "TESSERA_IMAGE": UPGRADED})
        Client(token).get("/deployments?limit=1")
    except Exception as error:  # noqa: BLE001 - reported, then the figures say what is missing
        say(f"FAILED: {error!r}")
        for name in ("api", "deployer", "monitor"):
            for container in containers(name)[:1]:
                print(podman("logs", "--tail", "30", container, check=False), file=sys.stderr)
    finally:
        say("cleanup: down -v")
        cleanup()
    say(f"done in {time.monotonic() - started:.0f} s (setup and images "
        f"{os.environ.get('TESSERA_E2E_SETUP_S', '?')} s)")  # fmt: skip
    names = ("compose_runs", "compose_lost", "compose_double_placements", "compose_targets_up",
             "upgrade_rows_kept")  # fmt: skip
    for name in names:
        print(f"{name}={figures.get(name, 'n/a')}")
    good = (
        figures.get("compose_runs") == 250
        and figures.get("compose_lost") == 0
        and figures.get("compose_double_placements") == 0
        and figures.get("compose_targets_up") == 8
        and figures.get("upgrade_rows_kept") == 1
    )
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
