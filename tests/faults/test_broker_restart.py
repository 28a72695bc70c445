"""Redis restarted during a burst of 500 submissions: every 202 is kept and its run ends."""

from __future__ import annotations

import asyncio

import httpx
import psycopg

from tests.faults.conftest import FaultStack, record, wait_terminal

COUNT = 500
WHERE = "JOIN deployments d ON r.deployment_id = d.id WHERE d.identifier = 'burst'"


async def _burst(stack: FaultStack) -> list[int]:
    assert stack.broker is not None
    broker = stack.broker
    headers = {"Authorization": f"Bearer {stack.token}"}
    gate = asyncio.Semaphore(32)
    sent = 0

    async with httpx.AsyncClient(
        base_url=f"{stack.url}/api/v1", headers=headers, timeout=60
    ) as http:

        async def one() -> int:
            nonlocal sent
            async with gate:
                sent += 1
                response = await http.post(
                    "/deployments", json={"command": ["true"], "identifier": "burst"}
                )
                return response.status_code

        async def restart() -> None:
            while sent < COUNT // 5:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(2)
            await asyncio.to_thread(broker.start)

        codes, _ = await asyncio.gather(asyncio.gather(*[one() for _ in range(COUNT)]), restart())
    return list(codes)


def test_redis_restart_during_burst(fault_stack: FaultStack) -> None:
    codes = asyncio.run(_burst(fault_stack))
    accepted = codes.count(202)
    assert set(codes) <= {202, 503}, set(codes)
    assert fault_stack.postgres is not None
    with psycopg.connect(fault_stack.postgres.url, autocommit=True) as db:
        found = db.execute("SELECT count(*) FROM deployments WHERE identifier = 'burst'")
        rows = found.fetchone()
    assert rows is not None and rows[0] == accepted
    states = wait_terminal(fault_stack, accepted, WHERE, timeout=400)
    record("faults_lost", accepted - states.get("succeeded", 0))
    assert states == {"succeeded": accepted}
    assert accepted == COUNT, "the API needs Redis only to hand work on, not to accept it"
