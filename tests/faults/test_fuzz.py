"""schemathesis against the live API's OpenAPI document, with an admin token: at least 1000
generated cases, no 5xx, no response that breaks the document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.faults.conftest import PrivatePostgres, PrivateRedis, record
from tests.integration.conftest import _tessera, _wait_ready, free_port

MIN_CASES = 1000


@pytest.fixture
def fuzz_api(
    tmp_path: Path, postgres: PrivatePostgres, broker: PrivateRedis
) -> Iterator[tuple[str, str]]:
    """An API of its own, with no workers: generated scripts are accepted, never run."""
    name = f"fuzz_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TESSERA_")} | {
        "TESSERA_HOME": str(tmp_path),
        "TESSERA_DATABASE_URL": postgres.url.rsplit("/", 1)[0] + f"/{name}",
        "TESSERA_BROKER_URL": broker.url.rsplit("/", 1)[0] + "/5",
        "TESSERA_API_PORT": str(port),
        "TESSERA_RATE_LIMIT_PER_S": "0",
    }
    subprocess.run(
        [sys.executable, "-m", "services.cli", "migrate"], env=env, check=True, capture_output=True
    )
    token = (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli",
                "admin",
                "create-token",
                "--project",
                "fuzz",
                "--admin",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    api = _tessera("api", env=env, log=tmp_path / "api.log")
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, {"api": api}, tmp_path)
        yield url, token
    finally:
        api.terminate()
        api.wait(timeout=15)


def test_fuzz_the_api(fuzz_api: tuple[str, str], tmp_path: Path) -> None:
    url, token = fuzz_api
    reports = tmp_path / "reports"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            # Per operation and phase: about 3,400 cases in all (MIN_CASES is the floor).
            "--max-examples",
            "15",
            "--seed",
            "7",
            # Log endpoints with follow=true stream until their run ends: with no workers here
            # that is never. They are fuzzed without following in the integration tests.
            "--exclude-path-regex",
            # An application's source is an archive schemathesis cannot serialize: its bad
            # input is the attack archives of tests/integration/test_applications.py.
            "/log$|/applications/[^/]+/source$",
            "--request-timeout",
            "20",
            "--no-color",
            "--report",
            "ndjson",
            "--report-dir",
            str(reports),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    cases = server_errors = 0
    for line in next(reports.glob("*.ndjson")).read_text().splitlines():
        event = json.loads(line)
        if "ScenarioFinished" not in event:
            continue
        recorder = event["ScenarioFinished"]["recorder"]
        cases += len(recorder.get("cases", {}))
        for interaction in recorder.get("interactions", {}).values():
            status = (interaction.get("response") or {}).get("status_code") or 0
            server_errors += status >= 500
    record("fuzz_cases", cases)
    record("fuzz_5xx", server_errors)
    assert cases >= MIN_CASES
    assert server_errors == 0
    assert done.returncode == 0, done.stdout[-6000:]
