"""Nothing accepted is lost: 200 concurrent submissions, 200 rows, 200 runs that end."""

from __future__ import annotations

import asyncio
import time

import httpx
import psycopg

from tests.integration.conftest import Stack

COUNT = 200


async def _submit(stack: Stack) -> list[str]:
    limits = httpx.Limits(max_connections=COUNT)
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with httpx.AsyncClient(
        base_url=f"{stack.url}/api/v1", headers=headers, limits=limits, timeout=60
    ) as http:
        responses = await asyncio.gather(
            *[
                http.post(
                    "/inspections",
                    json={
                        "base": "host",
                        "identifier": f"burst-{n}",
                        "script": "#!/bin/sh\necho '{\"n\": 1}'\n",
                    },
                )
                for n in range(COUNT)
            ]
        )
    assert all(response.status_code == 202 for response in responses), {
        r.status_code for r in responses
    }
    return [response.json()["inspection_id"] for response in responses]


def test_200_concurrent_requests_all_reach_a_terminal_state(stack: Stack) -> None:
    ids = asyncio.run(_submit(stack))
    assert len(set(ids)) == COUNT
    url = stack.env["TESSERA_DATABASE_URL"]
    deadline = time.monotonic() + 300
    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute("SELECT count(*) FROM inspections WHERE identifier LIKE 'burst-%'")
        assert rows.fetchone() == (COUNT,)
        while True:
            states = dict(
                db.execute(
                    "SELECT r.state, count(*) FROM runs r JOIN inspections i "
                    "ON r.inspection_id = i.id WHERE i.identifier LIKE 'burst-%' GROUP BY r.state"
                ).fetchall()
            )
            if sum(states.values()) == COUNT and set(states) <= {
                "succeeded",
                "failed",
                "cancelled",
                "lost",
            }:
                break
            assert time.monotonic() < deadline, states
            time.sleep(1)
    assert states == {"succeeded": COUNT}
