"""A workflow's specification: its DAG, its inputs and its policies, checked at submit."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.config import Settings
from shared.workflow_spec import WorkflowSpec


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "name": "wf",
        "stages": [
            {"name": "map", "tasks": [{"name": "part", "count": 3, "command": ["true"],
                                       "outputs": ["part-*.json"]}]},
            {"name": "mid", "depends_on": ["map"], "tasks": [{"name": "t", "command": ["true"]}]},
            {"name": "reduce", "depends_on": ["mid"],
             "tasks": [{"name": "sum", "command": ["true"],
                        "inputs": [{"from": "map/part", "path": "parts"}]}]},
        ],
        **extra,
    }  # fmt: skip


def _refused(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        WorkflowSpec.model_validate(body)
    return str(caught.value)


def test_a_dag_with_inputs_from_an_indirect_dependency_is_accepted(settings: Settings) -> None:
    spec = WorkflowSpec.model_validate(_spec())
    assert spec.ancestors() == {"map": set(), "mid": {"map"}, "reduce": {"mid", "map"}}
    task = spec.task("map", "part")
    assert task.deployment is not None and task.deployment.command == ["true"]
    assert task.command is None  # the shorthand became the deployment


def test_a_cycle_is_refused_naming_it(settings: Settings) -> None:
    body = _spec()
    body["stages"][0]["depends_on"] = ["reduce"]
    text = _refused(body)
    assert "a cycle" in text and "stages[0].depends_on" in text


def test_unknown_and_self_dependencies_are_refused(settings: Settings) -> None:
    body = _spec()
    body["stages"][1]["depends_on"] = ["nowhere"]
    assert "stages[1].depends_on[0]: no stage 'nowhere'" in _refused(body)
    body["stages"][1]["depends_on"] = ["mid"]
    assert "cannot depend on itself" in _refused(body)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("map/none", "no task 'map/none'"),
        ("mid/t", "names no outputs"),
        ("reduce/sum", "does not depend on 'reduce'"),
    ],
)
def test_an_input_must_name_an_earlier_output(
    settings: Settings, source: str, expected: str
) -> None:
    body = _spec()
    body["stages"][2]["tasks"][0]["inputs"] = [{"from": source}]
    text = _refused(body)
    assert "stages[2].tasks[0].inputs[0].from" in text and expected in text


@pytest.mark.parametrize("glob", ["../x", "/etc/passwd", "a b", "$(id)"])
def test_output_globs_stay_in_the_run_folder(settings: Settings, glob: str) -> None:
    body = _spec()
    body["stages"][0]["tasks"][0]["outputs"] = [glob]
    assert "outputs" in _refused(body)


def test_bad_names_and_shapes_are_refused(settings: Settings) -> None:
    body = _spec()
    body["stages"][0]["name"] = "Map;rm"
    assert "name" in _refused(body)
    body = _spec()
    body["stages"][0]["tasks"][0]["inspection"] = {"base": "host"}
    assert "not supported in workflows yet" in _refused(body)
    body = _spec()
    body["stages"][0]["tasks"][0]["deployment"] = {"command": ["true"]}
    assert "either deployment or command" in _refused(body)
    body = _spec(testbeds=["local", "local"])
    assert "named twice" in _refused(body)
    body = _spec(testbeds=["local"])
    body["stages"][1]["tasks"][0] = {"name": "t", "deployment": {"command": ["x"], "testbed": "k"}}
    assert "stages[1].tasks[0].deployment.testbed" in _refused(body)


def test_retry_policies(settings: Settings) -> None:
    spec = WorkflowSpec.model_validate(_spec())
    lost_only = spec.retry_for(spec.task("mid", "t"))
    assert lost_only.attempts == 3 and lost_only.on == ["lost", "interrupted"]
    spec = WorkflowSpec.model_validate(_spec(retry={"attempts": 2}))
    both = spec.retry_for(spec.task("mid", "t"))
    assert both.attempts == 2 and set(both.on) == {"lost", "failed", "interrupted"}
    body = _spec(retry={"attempts": 2})
    body["stages"][1]["tasks"][0] = {
        "name": "t",
        "deployment": {"command": ["true"], "retry": {"attempts": 5, "on": ["failed"]}},
    }
    own = WorkflowSpec.model_validate(body)
    assert own.retry_for(own.task("mid", "t")).attempts == 5
