"""Amun's own example inspection, and what its fields mean (package_manager, allowed_failures,
parallelism, a script by URL), run on the local testbed of the real stack.

The example is amun-api's example/inspection-rhtf-conv2d-0f845f38/build/specification at
commit a62cc2877b668913f754e1d6641187b067603174 (tests/fixtures/amun/), as Amun stored it.
What names something this machine cannot reach is put in its place, and nothing else:
- base: quay.io cannot be pulled here; the local testbed's own OS ('host') stands in;
- packages: `which` is UBI 8's package name; Debian's package with /usr/bin/which is
  debianutils;
- python: tensorflow 2.2.0 from the AICoE index (unreachable, and heavy) becomes six 1.16.0
  from PyPI, in the Pipfile and its lock, and the lock's hash is that of the new Pipfile, as
  `pipenv lock` would write it; the AICoE source stays declared;
- script: the conv2d.py URL on raw.githubusercontent.com becomes a URL on loopback serving a
  small script in the same role (it prints a JSON result).
The rest, package_manager micropipenv, python_packages, Python 3.6 in the Pipfile's
requires, batch_size 20, build and run requests, identifier, files and '@created', is Amun's.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack

EXAMPLE = (
    Path(__file__).parents[1] / "fixtures" / "amun" / "inspection-rhtf-conv2d-specification.json"
)
SIX = {
    "hashes": [
        "sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926",
        "sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254",
    ],
    "index": "pypi",
    "version": "==1.16.0",
}
SCRIPT = """#!/usr/bin/env python3
import json, os, platform, six
print(json.dumps({"python": platform.python_version(), "six": six.__version__,
                  "run": int(os.environ["TESSERA_RUN_INDEX"])}))
"""


def pipenv_hash(pipfile: dict[str, Any]) -> str:
    """The Pipfile hash as pipenv writes it into Pipfile.lock's _meta (written out here, not
    taken from Tessera, so the test checks Tessera's reading of it)."""
    data = {
        "_meta": {"requires": pipfile.get("requires", {}), "sources": pipfile["source"]},
        "default": pipfile.get("packages", {}),
        "develop": pipfile.get("dev-packages", {}),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback for scripts given by URL: (base URL, its folder)."""
    root = tmp_path_factory.mktemp("scripts")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def amun_example(script_url: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(EXAMPLE.read_text())
    assert spec["base"] == "quay.io/thoth-station/s2i-thoth-ubi8-py36"
    spec["base"] = "host"
    spec["packages"] = ["debianutils" if name == "which" else name for name in spec["packages"]]
    pipfile, lock = spec["python"]["requirements"], spec["python"]["requirements_locked"]
    assert lock["_meta"]["hash"]["sha256"] == pipenv_hash(pipfile)  # Amun's lock is current
    pipfile["packages"] = {"six": {"index": "pypi", "version": "==1.16.0"}}
    lock["default"] = {"six": SIX}
    lock["_meta"]["hash"]["sha256"] = pipenv_hash(pipfile)
    spec["script"] = script_url
    return spec


def test_amuns_example_runs_to_succeeded(
    stack: Stack, client: httpx.Client, served: tuple[str, Path]
) -> None:
    base, root = served
    (root / "conv2d.py").write_text(SCRIPT)
    spec = amun_example(f"{base}/conv2d.py")
    response = client.post("/inspections", json=spec)
    assert response.status_code == 202, response.text
    inspection_id = response.json()["inspection_id"]
    assert response.json()["batch_size"] == 20

    final = stack.wait(client, f"/inspections/{inspection_id}/status", timeout=400)
    assert final["state"] == "succeeded", final
    assert final["runs"] == {"succeeded": 20}
    build_log = client.get(f"/inspections/{inspection_id}/build/log").text
    assert "installing Pipfile.lock with micropipenv" in build_log
    assert "python3.6" in build_log  # the Pipfile's requires.python_version
    for index in (0, 19):
        result = client.get(f"/inspections/{inspection_id}/runs/{index}/result").json()
        assert result["stdout"]["six"] == "1.16.0" and result["stdout"]["run"] == index
        assert result["stdout"]["python"].startswith("3.6.")
        assert result["script_sha256"] == hashlib.sha256(SCRIPT.encode()).hexdigest()
    stored = client.get(f"/inspections/{inspection_id}/specification").json()
    assert stored["script"] == SCRIPT  # fetched once, at submit
    assert stored["package_manager"] == "micropipenv"


def test_a_script_url_outside_the_allowed_prefixes_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/inspections", json={"base": "host", "script": "https://example.org/x.py"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == "script"
    assert "not under a prefix" in response.text


def test_a_script_url_that_fails_is_refused(client: httpx.Client, served: tuple[str, Path]) -> None:
    response = client.post(
        "/inspections", json={"base": "host", "script": f"{served[0]}/missing.py"}
    )
    assert response.status_code == 422, response.text
    assert "answered 404" in response.text


STEP = """#!/usr/bin/env python3
import json, os, sys, time
start = time.time()
time.sleep(1)
print(json.dumps({"start": start, "end": time.time()}))
sys.exit(1 if os.environ["TESSERA_RUN_INDEX"] == os.environ.get("FAIL_INDEX") else 0)
"""


def test_parallelism_runs_them_one_at_a_time(stack: Stack, client: httpx.Client) -> None:
    spec = {"base": "host", "script": STEP, "batch_size": 3, "parallelism": 1}
    inspection_id = (
        client.post("/inspections", json=spec).raise_for_status().json()["inspection_id"]
    )
    final = stack.wait(client, f"/inspections/{inspection_id}/status", timeout=120)
    assert final["state"] == "succeeded", final
    spans = sorted(
        (result["stdout"]["start"], result["stdout"]["end"])
        for result in (
            client.get(f"/inspections/{inspection_id}/runs/{index}/result").json()
            for index in range(3)
        )
    )
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, spans  # never two at once


def test_allowed_failures_let_the_inspection_succeed(stack: Stack, client: httpx.Client) -> None:
    spec = {
        "base": "host",
        "script": STEP,
        "batch_size": 3,
        "allowed_failures": 1,
        "environment": [{"name": "FAIL_INDEX", "value": "1"}],  # Amun's list form
    }
    inspection_id = (
        client.post("/inspections", json=spec).raise_for_status().json()["inspection_id"]
    )
    final = stack.wait(client, f"/inspections/{inspection_id}/status", timeout=120)
    assert final["state"] == "succeeded", final
    assert final["runs"] == {"succeeded": 2, "failed": 1}
    one_too_many = {**spec, "allowed_failures": 0}
    inspection_id = (
        client.post("/inspections", json=one_too_many).raise_for_status().json()["inspection_id"]
    )
    final = stack.wait(client, f"/inspections/{inspection_id}/status", timeout=120)
    assert final["state"] == "failed", final
