"""Workflows on the local testbed: an EManager-style map/reduce skeleton with data passed
between its stages, retries, a failing stage cancelling its dependents, the timeline and its
SVG picture, 422s naming the field. The multi-testbed runs are test_workflows_spread.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

# Each map copy writes part-<index>.json holding index squared; reduce sums what it got.
MAP = [
    "python3",
    "-c",
    "import json, os, time; i = int(os.environ['TESSERA_TASK_INDEX']); "
    "json.dump({'value': i * i}, open('part-%d.json' % i, 'w')); "
    "time.sleep(float(os.environ.get('NAP', '0')))",
]
REDUCE = [
    "python3",
    "-c",
    "import glob, json; parts = sorted(glob.glob('parts/part-*.json')); "
    "print(json.dumps({'n': len(parts), "
    "'sum': sum(json.load(open(p))['value'] for p in parts)}))",
]
SQUARES = sum(i * i for i in range(12))


def skeleton(testbeds: list[str], nap: float = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": "skeleton",
        "testbeds": testbeds,
        "stages": [
            {
                "name": "map",
                "tasks": [
                    {
                        "name": "part",
                        "count": 12,
                        "deployment": {"command": MAP, "environment": {"NAP": str(nap)}},
                        "outputs": ["part-*.json"],
                    }
                ],
            },
            {
                "name": "reduce",
                "depends_on": ["map"],
                "tasks": [
                    {
                        "name": "sum",
                        "command": REDUCE,
                        "inputs": [{"from": "map/part", "path": "parts"}],
                    }
                ],
            },
        ],
        **extra,
    }


def submit(client: httpx.Client, body: dict[str, Any]) -> str:
    created = client.post("/workflows", json=body)
    assert created.status_code == 202, created.text
    return str(created.json()["workflow_id"])


def copies(client: httpx.Client, workflow_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/workflows/{workflow_id}/tasks", params=params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def reduce_output(client: httpx.Client, workflow_id: str) -> Any:
    [reduce] = [c for c in copies(client, workflow_id) if c["stage"] == "reduce"]
    return client.get(f"/runs/{reduce['run_id']}/result").json()["stdout"]


def test_map_reduce_passes_data_between_stages(stack: Stack, client: httpx.Client) -> None:
    workflow_id = submit(client, skeleton(["local"], max_parallel=5))
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=180)
    assert final["state"] == "succeeded", final
    assert [s["state"] for s in final["stages"]] == ["succeeded", "succeeded"]
    assert final["stages"][0]["counts"] == {"succeeded": 12}
    assert final["stages"][0]["testbeds"] == ["local"]
    assert reduce_output(client, workflow_id) == {"n": 12, "sum": SQUARES}
    found = copies(client, workflow_id)
    assert [(c["stage"], c["index"]) for c in found] == [("map", i) for i in range(12)] + [
        ("reduce", 0)
    ]
    # late binding: reduce was placed only after every map copy had ended
    timeline = client.get(f"/workflows/{workflow_id}/timeline").json()["entries"]
    maps = [e for e in timeline if e["stage"] == "map"]
    [reduce] = [e for e in timeline if e["stage"] == "reduce"]
    assert reduce["queued_at"] >= max(e["finished_at"] for e in maps)


def test_timeline_svg_has_one_bar_per_attempt(stack: Stack, client: httpx.Client) -> None:
    body = skeleton(["local"])
    body["name"] = "picture"
    body["stages"][0]["tasks"][0]["count"] = 3
    workflow_id = submit(client, body)
    assert stack.wait(client, f"/workflows/{workflow_id}", timeout=120)["state"] == "succeeded"
    timeline = client.get(f"/workflows/{workflow_id}/timeline").json()
    picture = client.get(f"/workflows/{workflow_id}/timeline.svg")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(picture.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "attempt"]
    assert len(bars) == len(timeline["entries"]) == 4
    assert {bar.get("data-stage") for bar in bars} == {"map", "reduce"}


def test_a_retried_task_succeeds_on_its_second_attempt(stack: Stack, client: httpx.Client) -> None:
    # Fails when its marker is absent, leaving it behind (in the shared home) for the next.
    marker = stack.home / "retry-marker"
    flaky = [
        "sh",
        "-c",
        f'if [ -e "{marker}" ]; then echo second; else touch "{marker}"; exit 4; fi',
    ]
    body = {
        "name": "flaky",
        "testbeds": ["local"],
        "retry": {"attempts": 2},
        "stages": [{"name": "only", "tasks": [{"name": "flaky", "command": flaky}]}],
    }
    workflow_id = submit(client, body)
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=90)
    assert final["state"] == "succeeded", final
    [copy] = copies(client, workflow_id)
    assert copy["attempt"] == 2 and copy["state"] == "succeeded"
    attempts = client.get(f"/runs/{copy['run_id']}/attempts").json()["items"]
    assert [a["state"] for a in attempts] == ["failed", "succeeded"]


def test_a_failing_task_fails_its_stage_and_cancels_dependents(
    stack: Stack, client: httpx.Client
) -> None:
    body = {
        "name": "broken",
        "testbeds": ["local"],
        "retry": {"attempts": 2},
        "stages": [
            {"name": "map", "tasks": [{"name": "bad", "command": ["sh", "-c", "exit 7"]}]},
            {"name": "side", "tasks": [{"name": "fine", "command": ["true"]}]},
            {
                "name": "reduce",
                "depends_on": ["map"],
                "tasks": [{"name": "sum", "command": ["true"]}],
            },
        ],
    }
    workflow_id = submit(client, body)
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=90)
    assert final["state"] == "failed", final
    assert "map/bad" in final["state_reason"] and "exit code 7" in final["state_reason"]
    states = {s["name"]: s["state"] for s in final["stages"]}
    assert states == {"map": "failed", "side": "succeeded", "reduce": "cancelled"}
    assert final["stages"][2]["counts"] == {"cancelled": 1}
    [bad] = [c for c in copies(client, workflow_id) if c["stage"] == "map"]
    assert bad["attempt"] == 2  # retried once, then it failed its stage


def test_cancel_stops_what_runs_and_what_waits(stack: Stack, client: httpx.Client) -> None:
    body = skeleton(["local"], nap=60)
    body["name"] = "cancelled"
    workflow_id = submit(client, body)
    stack.wait(
        client,
        f"/workflows/{workflow_id}",
        done=lambda b: b["stages"][0]["counts"].get("running", 0) > 0,
        timeout=60,
    )
    answer = client.delete(f"/workflows/{workflow_id}")
    assert answer.status_code == 200 and answer.json()["cancel_requested"] is True
    final = stack.wait(client, f"/workflows/{workflow_id}", timeout=90)
    assert final["state"] == "cancelled", final
    assert {s["state"] for s in final["stages"]} == {"cancelled"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["stages"][1].update(depends_on=["nowhere"]), "depends_on[0]"),
        (lambda b: b["stages"][0].update(depends_on=["reduce"]), "a cycle"),
        (
            lambda b: b["stages"][1]["tasks"][0].update(inputs=[{"from": "map/none"}]),
            "inputs[0].from",
        ),
        (lambda b: b["stages"][0]["tasks"][0].update(outputs=[]), "names no outputs"),
        (lambda b: b["stages"][0]["tasks"][0].update(outputs=["../x"]), "outputs"),
        (lambda b: b.update(testbeds=["nosuch"]), "testbeds[0]"),
        (lambda b: b["stages"][1].update(name="map"), "same name"),
    ],
)
def test_bad_workflows_are_refused_naming_the_field(
    client: httpx.Client, change: Any, field: str
) -> None:
    body = skeleton(["local"])
    change(body)
    answer = client.post("/workflows", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.text, answer.text


def test_another_projects_workflow_is_not_found(stack: Stack, client: httpx.Client) -> None:
    body = skeleton(["local"])
    body["stages"][0]["tasks"][0]["count"] = 1
    workflow_id = submit(client, body)
    with stack.client(stack.other_token) as other:
        for path in ("", "/tasks", "/timeline", "/timeline.svg"):
            assert other.get(f"/workflows/{workflow_id}{path}").status_code == 404
        assert other.delete(f"/workflows/{workflow_id}").status_code == 404
        assert all(w["id"] != workflow_id for w in other.get("/workflows").json()["items"])
    assert any(w["id"] == workflow_id for w in client.get("/workflows").json()["items"])
