"""A workflow's specification: its DAG, its inputs and its policies, checked at submit."""

from __future__ import annotations

import uuid
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
    body["stages"][0]["tasks"][0]["inspection"] = {"base": "host", "script": "true"}
    assert "give one of deployment, command, executable or inspection" in _refused(body)
    body = _spec()
    body["stages"][0]["tasks"][0]["deployment"] = {"command": ["true"]}
    assert "give one of" in _refused(body)
    body = _spec(testbeds=["local", "local"])
    assert "named twice" in _refused(body)
    body = _spec(testbeds=["local"])
    body["stages"][1]["tasks"][0] = {"name": "t", "deployment": {"command": ["x"], "testbed": "k"}}
    assert "stages[1].tasks[0].deployment.testbed" in _refused(body)


def _task(**task: Any) -> dict[str, Any]:
    return {"name": "one", "stages": [{"name": "s", "tasks": [{"name": "t", **task}]}]}


def test_executable_tasks_are_deployments_of_the_executable(settings: Settings) -> None:
    exe = str(uuid.uuid4())
    given = {"id": exe, "command": ["./bin/x"], "hardware": {"cpu": {"flags": ["avx2"]}}}
    spec = WorkflowSpec.model_validate(_task(executable=given, count=2))
    task = spec.task("s", "t")
    assert task.executable is None and task.deployment is not None
    assert str(task.deployment.executable) == exe and task.deployment.command == ["./bin/x"]
    assert task.deployment.run_requests().hardware == {"cpu": {"flags": ["avx2"]}}
    assert task.given_as("executable") == "executable"
    stored = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    again = WorkflowSpec.model_validate(stored).task("s", "t")  # as the engine reads it
    assert again.deployment == task.deployment
    assert "executable.command" in _refused(_task(executable={"id": exe, "command": []}))
    assert "executable.id" in _refused(_task(executable={"id": "x", "command": ["a"]}))
    both = {"id": exe, "command": ["a"], "hardware": "H100:1", "requests": {"hardware": "A"}}
    assert "not both" in _refused(_task(executable=both))
    bad_env = {"id": exe, "command": ["a"], "environment": {"1A": "x"}}
    assert "executable.environment" in _refused(_task(executable=bad_env))


def test_inspection_tasks(settings: Settings) -> None:
    inspection = {"base": "host", "script": "echo hi\n", "run": {"retry": {"attempts": 4}}}
    spec = WorkflowSpec.model_validate(_task(inspection=inspection, count=3, outputs=["o"]))
    task = spec.task("s", "t")
    assert task.deployment is None and task.inspection is not None
    assert spec.retry_for(task).attempts == 4
    assert "runs a script" in _refused(_task(inspection={"base": "host"}))
    many = {"base": "host", "script": "true", "batch_size": 2}
    assert "use the task's count" in _refused(_task(inspection=many))
    allowed = {"base": "host", "script": "true", "allowed_failures": 1}
    assert "allowed_failures" in _refused(_task(inspection=allowed))
    pinned = _task(inspection={"base": "host", "script": "true", "testbed": "k"})
    assert "stages[0].tasks[0].inspection.testbed" in _refused({**pinned, "testbeds": ["local"]})


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
