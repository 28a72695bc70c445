"""Dashboard benchmark: the run page, rendered server side, beside the API's JSON for it.

Run from the repository root as `.venv/bin/python bench/ui.py` (`make bench`). In one run
(a few seconds) it creates a fresh PostgreSQL database (BENCH_PG_URL), migrates it, makes a
token, submits one inspection through the API and makes its run look ended the way the
monitor leaves one: a 1 MiB log and a result whose hwinfo is this machine's probe with the
eight GPUs of a captured H100 node and a SLURM job, plus two attempt rows. Then it signs in
to the dashboard and asks, alternately, for

- the run page, `GET /runs/{id}` (session cookie; the page shows the log's last 256 KiB, the
  attempts, the result and the hwinfo as tables), and
- the API's result, `GET /api/v1/runs/{id}/result` (bearer token),

in-process through the ASGI app (httpx's ASGI transport: no sockets, no uvicorn), so the
time is the server's: routing, auth, queries, the artifact store, rendering or JSON.

ui_run_page_ms: the median of the run page's requests.
api_run_result_ms: the median of the result's requests.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.api.app import create_app  # noqa: E402
from services.cli.server import _migrate, _register_local, create_token  # noqa: E402
from shared import hwinfo  # noqa: E402
from shared.config import Settings, get_settings  # noqa: E402
from shared.db.models import Run, RunAttempt, Testbed, utcnow  # noqa: E402
from shared.store import ArtifactStore, run_log_key, run_result_key  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres:tessera@127.0.0.1:5432")
ROUNDS = int(os.environ.get("BENCH_UI_ROUNDS", "200"))
WARMUP = 20
ROOT = Path(__file__).resolve().parent.parent
GPUS = ROOT / "tests/fixtures/hwinfo/nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv"


def full_hwinfo() -> dict[str, Any]:
    document = hwinfo.collect()
    document["gpus"] = hwinfo.parse_nvidia_smi_csv(GPUS.read_text())
    document["scheduler"] = {
        "kind": "slurm",
        "variables": {"SLURM_JOB_ID": "4242", "SLURMD_NODENAME": "gpu-07", "SLURM_NTASKS": "1"},
    }
    return document


def one_mib_log() -> bytes:
    lines = []
    size, index = 0, 0
    while size < 1024 * 1024:
        line = (
            f"step {index:06d}: loss=0.{index % 9973:04d} lr=3e-4 <tokens/s>={index * 7 % 100000}\n"
        )
        lines.append(line)
        size += len(line)
        index += 1
    return "".join(lines).encode()[: 1024 * 1024]


async def _finish(app: Any, run_id: uuid.UUID, settings: Settings) -> None:
    """The run as the monitor leaves it once ended: log, result, state, two attempts."""
    store = ArtifactStore(settings.artifact_root)
    store.put(run_log_key(run_id), one_mib_log())
    result = {
        "run_id": str(run_id),
        "index": 0,
        "testbed": "local",
        "node": "gpu-07",
        "hwinfo": full_hwinfo(),
        "stdout": {"matmul_tflops": 612.4, "device": "NVIDIA H100 80GB HBM3"},
        "stderr": "warning: something the script said\n" * 20,
        "exit_code": 0,
        "usage": {"ru_utime": 12.5, "ru_stime": 1.25, "ru_maxrss": 2_400_000, "ru_nvcsw": 1200},
        "start_datetime": "2026-12-02T09:00:00Z",
        "end_datetime": "2026-12-02T09:01:00Z",
        "hostname": "gpu-07",
    }
    store.put(run_result_key(run_id), json.dumps(result).encode())
    async with app.state.sessions() as session:
        run = await session.get(Run, run_id)
        local = (await session.execute(select(Testbed.id))).scalar()
        now = utcnow()
        run.state, run.exit_code, run.node_name, run.attempt = "succeeded", 0, "gpu-07", 2
        run.testbed_id = local
        run.placed_at = run.started_at = run.finished_at = now
        for number, state in ((1, "lost"), (2, "succeeded")):
            session.add(
                RunAttempt(
                    run_id=run_id,
                    number=number,
                    key=uuid.uuid4(),
                    state=state,
                    testbed_id=run.testbed_id,
                    node_name="gpu-07",
                    backend_ref=f"{4240 + number}",
                    placement={"node": "gpu-07", "free": [8], "candidates": ["gpu-07", "gpu-08"]},
                    placed_at=now,
                    finished_at=now,
                )
            )
        await session.commit()


async def measure(settings: Settings, token: str) -> tuple[float, float, int]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        bearer = {"Authorization": f"Bearer {token}"}
        created = await client.post(
            "/api/v1/inspections", headers=bearer, json={"base": "host", "script": "echo hi"}
        )
        inspection_id = created.raise_for_status().json()["inspection_id"]
        runs = await client.get(f"/api/v1/inspections/{inspection_id}/runs", headers=bearer)
        run_id = uuid.UUID(runs.json()["items"][0]["id"])
        await _finish(app, run_id, settings)
        form = (await client.get("/signin")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        signed = await client.post("/signin", data={"csrf": csrf.group(1), "token": token})
        assert signed.status_code == 303, signed.text
        page_times: list[float] = []
        api_times: list[float] = []
        size = 0
        for index in range(WARMUP + ROUNDS):
            started = time.perf_counter()
            page = await client.get(f"/runs/{run_id}")
            page_s = time.perf_counter() - started
            started = time.perf_counter()
            answer = await client.get(f"/api/v1/runs/{run_id}/result", headers=bearer)
            api_s = time.perf_counter() - started
            assert page.status_code == 200 and answer.status_code == 200
            assert "H100" in page.text and "gpu-07" in page.text
            size = len(page.content)
            if index >= WARMUP:
                page_times.append(page_s)
                api_times.append(api_s)
    return statistics.median(page_times) * 1000, statistics.median(api_times) * 1000, size


def main() -> int:
    name = f"tessera_bench_ui_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    home = tempfile.mkdtemp(prefix="tessera-bench-ui-")
    saved = dict(os.environ)
    try:
        os.environ.update(
            {
                "TESSERA_HOME": home,
                "TESSERA_DATABASE_URL": f"{PG_URL}/{name}",
                "TESSERA_RATE_LIMIT_PER_S": "0",
            }
        )
        get_settings.cache_clear()
        settings = get_settings()
        _migrate(settings)
        _register_local(settings)
        token = create_token("bench", admin=False)
        page_ms, api_ms, size = asyncio.run(measure(settings, token))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"run page: {size / 1024:.0f} KiB of HTML, {ROUNDS} requests each", file=sys.stderr)
    print(f"ui_run_page_ms={page_ms:.2f}")
    print(f"api_run_result_ms={api_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
