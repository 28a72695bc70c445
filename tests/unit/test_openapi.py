"""openapi.json and clients/python stay what the app and the generator make of them.

When one of these fails: `make client` (it exports openapi.json, then regenerates the client),
and commit both.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from services.api import openapi
from services.api.app import create_app
from shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_committed_document_is_the_apps(settings: Settings) -> None:
    committed = (ROOT / "openapi.json").read_text()
    assert committed == openapi.render(openapi.document()), (
        "openapi.json differs from the app's document: run `make client` and commit both"
    )


def test_the_check_fails_when_an_endpoint_changes(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "openapi.json"
    assert openapi.main([str(path)]) == 0
    assert openapi.main(["--check", str(path)]) == 0
    changed = create_app(settings)

    @changed.get("/api/v1/extra", operation_id="extra")
    async def extra() -> dict[str, str]:
        return {}

    def with_extra(_settings: Settings | None = None) -> FastAPI:
        return changed

    monkeypatch.setattr(openapi, "create_app", with_extra)
    assert openapi.main(["--check", str(path)]) == 1


def test_every_operation_is_documented(settings: Settings) -> None:
    doc = openapi.document()
    ids = [operation["operationId"] for _, _, operation in _operations(doc)]
    assert len(ids) == len(set(ids)), "operation ids name the client's functions: unique"
    for method, path, operation in _operations(doc):
        where = f"{method} {path}"
        assert operation.get("summary"), f"{where}: no summary"
        assert "_api_v1_" not in operation["operationId"], f"{where}: a generated operation id"
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, f"{where}: no success response"
        for code in success:
            if code != "204":
                content = responses[code].get("content", {})
                assert content and all("schema" in media for media in content.values()), (
                    f"{where}: {code} has no response model"
                )
        if path.startswith("/api/"):
            for code in ("401", "422", "503"):
                assert code in responses, f"{where}: {code} is not documented"
        for code, response in responses.items():
            if code.startswith(("4", "5")) and path.startswith("/api/"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (where, code)
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]
            if "application/json" in content:  # an archive upload is bytes: no examples
                media = content["application/json"]
                assert media.get("examples"), f"{where}: no request examples"
    assert "HTTPValidationError" not in doc["components"]["schemas"], (
        "422 answers are ErrorBody, never FastAPI's default shape"
    )


def test_live_log_endpoints_are_documented_as_text_and_server_sent_events(
    settings: Settings,
) -> None:
    doc = openapi.document()
    for path in (
        "/api/v1/runs/{run_id}/log",
        "/api/v1/inspections/{item_id}/build/log",
        "/api/v1/inspections/{item_id}/runs/{index}/log",
    ):
        operation = doc["paths"][path]["get"]
        assert set(operation["responses"]["200"]["content"]) == {"text/plain", "text/event-stream"}
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert {"follow", "offset", "last-event-id"} <= names


def _tree(root: Path) -> set[Path]:
    skip = {"__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"}
    return {
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and not skip.intersection(path.relative_to(root).parts)
    }


def test_the_generated_client_is_what_the_document_generates(tmp_path: Path) -> None:
    generator = Path(sys.executable).with_name("openapi-python-client")
    if not generator.exists():
        pytest.fail("openapi-python-client is not installed: `make install` installs it")
    output = tmp_path / "python"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(ROOT / "openapi.json"),
            "--config",
            str(ROOT / "clients" / "python-client.yaml"),
            "--meta",
            "setup",
            "--output-path",
            str(output),
            "--fail-on-warning",
        ],
        check=True,
        capture_output=True,
        env=env,
        cwd=tmp_path,
    )
    generated, committed = _tree(output), _tree(CLIENT)
    assert generated == committed, "files differ: run `make client`"
    _, mismatch, errors = filecmp.cmpfiles(output, CLIENT, sorted(map(str, generated)), False)
    assert not mismatch and not errors, f"stale generated files {mismatch + errors}: `make client`"
    shutil.rmtree(output)
