"""Submits on PostgreSQL: coalesced into shared statements, each answered for its own rows."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import psycopg
import pytest

from services.api.submit import INSPECTIONS, deployment_rows, inspection_rows
from services.api.submit_pg import PgSubmits, _statement_args
from shared.db.migrate import upgrade
from shared.db.models import utcnow


@pytest.fixture
def database(postgres_url: str) -> tuple[str, uuid.UUID]:
    """A migrated database with one project."""
    upgrade(postgres_url)
    project = uuid.uuid4()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO projects (id, name, created_at) VALUES (%s, 'p', now())", (project,)
        )
    return postgres_url, project


def _inspection(project: uuid.UUID, batch_size: int = 2) -> dict[str, Any]:
    return {
        "build_id": uuid.uuid4(),
        "inspection_id": uuid.uuid4(),
        "project_id": project,
        "spec_hash": "0" * 64,
        "runtime": "native",
        "identifier": None,
        "specification": {"base": "host", "script": "echo '{}'"},
        "testbed_id": None,
        "batch_size": batch_size,
        "at": utcnow(),
    }


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def test_concurrent_submits_share_statements(
    database: tuple[str, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, project = database
    submits = PgSubmits(url)
    statements: list[int] = []
    real = submits._execute

    async def counted(query: str, args: list[list[Any]]) -> None:
        statements.append(len(args[0]))  # submits in this statement
        await real(query, args)

    monkeypatch.setattr(submits, "_execute", counted)

    async def main() -> None:
        try:
            await asyncio.gather(
                *(submits.write(inspection_rows(**_inspection(project))) for _ in range(40))
            )
        finally:
            await submits.close()

    asyncio.run(main())
    assert sum(statements) == 40 and len(statements) < 40
    assert (_count(url, "inspections"), _count(url, "builds"), _count(url, "runs")) == (40, 40, 80)


def test_a_bad_submit_fails_alone(database: tuple[str, uuid.UUID]) -> None:
    url, project = database
    submits = PgSubmits(url)
    bad = _inspection(project) | {"testbed_id": uuid.uuid4()}  # no such testbed

    async def main() -> list[Any]:
        try:
            return await asyncio.gather(
                *(submits.write(inspection_rows(**_inspection(project))) for _ in range(5)),
                submits.write(inspection_rows(**bad)),
                *(submits.write(inspection_rows(**_inspection(project))) for _ in range(5)),
                return_exceptions=True,
            )
        finally:
            await submits.close()

    results = asyncio.run(main())
    assert isinstance(results[5], asyncpg.ForeignKeyViolationError)
    assert results[:5] + results[6:] == [None] * 10
    assert _count(url, "inspections") == 10 and _count(url, "runs") == 20


def test_deployments_keep_their_run_ids(database: tuple[str, uuid.UUID]) -> None:
    url, project = database
    submits = PgSubmits(url)
    made = [(uuid.uuid4(), [uuid.uuid4() for _ in range(size)]) for size in (1, 3, 100)]

    async def main() -> None:
        try:
            await asyncio.gather(
                *(
                    submits.write(
                        deployment_rows(
                            deployment_id=deployment_id,
                            project_id=project,
                            identifier="d",
                            specification={"command": ["true"]},
                            testbed_id=None,
                            run_ids=run_ids,
                            at=utcnow(),
                        )
                    )
                    for deployment_id, run_ids in made
                )
            )
        finally:
            await submits.close()

    asyncio.run(main())
    with psycopg.connect(url) as db:
        for deployment_id, run_ids in made:
            rows = db.execute(
                "SELECT id, index, state FROM runs WHERE deployment_id = %s ORDER BY index",
                (deployment_id,),
            ).fetchall()
            expected = [(run_id, index) for index, run_id in enumerate(run_ids)]
            assert [(row[0], row[1]) for row in rows] == expected
            assert {row[2] for row in rows} == {"queued"}


def test_an_unreachable_database_fails_every_waiting_submit() -> None:
    submits = PgSubmits("postgresql://postgres@127.0.0.1:1/none")

    async def main() -> list[Any]:
        try:
            return await asyncio.gather(
                *(submits.write(inspection_rows(**_inspection(uuid.uuid4()))) for _ in range(3)),
                return_exceptions=True,
            )
        finally:
            await submits.close()

    assert all(isinstance(result, OSError) for result in asyncio.run(main()))


def test_one_statement_takes_submits_of_any_size(database: tuple[str, uuid.UUID]) -> None:
    url, project = database
    submits = PgSubmits(url)
    batch = [inspection_rows(**_inspection(project, batch_size)) for batch_size in (1, 0, 3, 1)]
    _, args = _statement_args(batch)
    assert len(args) < sum(len(rows[0]) for rows in batch[0].tables.values()), "shared arrays"

    async def main() -> None:
        try:
            await submits._write(batch)  # one statement for the four
        finally:
            await submits.close()

    asyncio.run(main())
    with psycopg.connect(url) as db:
        for rows in batch:
            (inspection,) = rows.tables[INSPECTIONS]
            stored = db.execute(
                "SELECT i.batch_size, b.state, array_agg(r.index ORDER BY r.index)"
                " FROM inspections i JOIN builds b ON b.id = i.build_id"
                " LEFT JOIN runs r ON r.inspection_id = i.id WHERE i.id = %s"
                " GROUP BY i.batch_size, b.state",
                (inspection["id"],),
            ).fetchone()
            size = inspection["batch_size"]
            assert stored == (size, "pending", list(range(size)) if size else [None])
