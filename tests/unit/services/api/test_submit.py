"""A submit's rows are built once: SQLite (through the session) and PostgreSQL (one coalesced
statement) store the same values."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Table, select

from services.api.submit import (
    BUILDS,
    DEPLOYMENTS,
    INSPECTIONS,
    RUNS,
    SubmitRows,
    deployment_rows,
    inspection_rows,
)
from shared.config import Settings
from shared.db.models import utcnow
from shared.db.session import make_sync_engine
from tests.unit.services.api.conftest import Api, running


def _submits() -> list[SubmitRows]:
    project, at = uuid.uuid4(), utcnow()
    common: dict[str, Any] = {"project_id": project, "identifier": "x", "testbed_id": None}
    return [
        inspection_rows(
            build_id=uuid.uuid4(),
            inspection_id=uuid.uuid4(),
            spec_hash="0" * 64,
            runtime="native",
            specification={"base": "host"},
            batch_size=batch_size,
            at=at,
            **common,
        )
        for batch_size in (0, 2)
    ] + [
        deployment_rows(
            deployment_id=uuid.uuid4(),
            specification={"command": ["true"]},
            run_ids=[uuid.uuid4()],
            at=at,
            **common,
        )
    ]


@pytest.mark.parametrize("rows", _submits(), ids=["build-only", "inspection", "deployment"])
def test_the_rows_name_every_required_column(rows: SubmitRows) -> None:
    for table, values in rows.tables.items():
        required = {c.name for c in table.c if not c.nullable and c.server_default is None}
        for row in values:
            assert set(row) == set(values[0]), f"{table.name}: every row has the same columns"
            assert required <= set(row) <= set(table.c.keys()), table.name


def _normalized(value: Any) -> Any:
    """Ids and times differ between two submits; whether they are set does not."""
    if isinstance(value, uuid.UUID):
        return "<id>"
    if isinstance(value, datetime):
        return "<time>"
    return value


def _sort_key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)  # JSONB keeps its keys in an order of its own


def _stored(url: str, tables: list[Table]) -> dict[str, list[dict[str, Any]]]:
    engine = make_sync_engine(url, "test")
    try:
        with engine.connect() as connection:
            stored = {}
            for table in tables:
                rows = [
                    {key: _normalized(value) for key, value in row._mapping.items()}
                    for row in connection.execute(select(table))
                ]
                stored[table.name] = sorted(rows, key=_sort_key)
            return stored
    finally:
        engine.dispose()


def _submit_some(api: Api) -> None:
    for path, body in [
        ("/api/v1/inspections", {"base": "host", "script": "echo hi", "batch_size": 2}),
        ("/api/v1/inspections", {"base": "host", "python_packages": ["six"]}),  # build only
        ("/api/v1/deployments", {"command": ["true"], "batch_size": 3, "identifier": "d"}),
    ]:
        answer = api.client.post(path, headers=api.auth(), json=body)
        assert answer.status_code == 202, answer.text


def test_both_databases_store_the_same_rows(
    settings: Settings, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = [BUILDS, INSPECTIONS, DEPLOYMENTS, RUNS]
    stored = {}
    for database in ("sqlite", "postgres"):
        with running(database, monkeypatch, postgres_url) as api:
            pg = api.client.app.state.pg  # type: ignore[attr-defined]
            assert (pg is not None) == (database == "postgres"), "the coalesced statement"
            _submit_some(api)
            stored[database] = _stored(api.settings.db_url, tables)
    counts = [len(stored["sqlite"][table.name]) for table in tables]
    assert counts == [2, 2, 1, 5]
    assert stored["sqlite"] == stored["postgres"]
