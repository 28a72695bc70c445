"""What a workflow is (EManager's skeleton): a DAG of stages, each of tasks, each task a
deployment (or an application's executable) or an inspection run `count` times; outputs of
one stage become inputs of a later one.

Checked before anything is stored: names by a strict grammar, the stages a DAG (no cycle,
no unknown stage), every input naming the outputs of a task of a stage it depends on
(directly or not); each failure a 422 naming its field.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.config import get_settings
from shared.schemas import Requests, Retry, RetryOn, Strict, check_identifier, check_testbed_name
from shared.specs import DeploymentSpec, InspectionSpec

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_GLOB = re.compile(r"^[A-Za-z0-9._*?\[\]/-]{1,255}$")
MAX_STAGES = 100
MAX_TASKS = 1000
MAX_COPIES = 10_000
# A workflow that names no policy: a task whose testbed is lost is placed again elsewhere.
DEFAULT_ON: list[RetryOn] = ["lost", "interrupted"]


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("use 1-63 lowercase letters, digits, '_' or '-', starting alphanumeric")
    return value


def _check_relative(value: str, what: str) -> str:
    if "\x00" in value or "\\" in value or value.startswith("/"):
        raise ValueError(f"{what} must be a relative path without backslashes")
    normal = posixpath.normpath(value)
    if normal.startswith("..") or ".." in normal.split("/"):
        raise ValueError(f"{what} must stay inside the run's folder")
    return normal


class TaskInput(Strict):
    """The outputs of an earlier task, placed under `path` in this task's run folder."""

    from_: str = Field(alias="from", description="'stage/task': the task whose outputs these are.")
    path: str = Field(".", description="Folder (relative) the files are placed under.")

    model_config = {"extra": "forbid", "populate_by_name": True}

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        stage, _, task = value.partition("/")
        if not task:
            raise ValueError("name the task as 'stage/task'")
        _check_name(stage)
        _check_name(task)
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        normal = _check_relative(value, "an input path")
        if len(normal) > 200:
            raise ValueError("an input path is at most 200 characters")
        return normal


class ExecutableTask(Strict):
    """An application's compiled executable, unpacked in each copy's run folder, where
    `command` runs (a deployment of the executable, as POST /deployments makes)."""

    id: uuid.UUID = Field(description="The executable (GET /applications/{id}/executables).")
    command: list[str] = Field(
        min_length=1, max_length=1000, description="argv, run without a shell, in the folder."
    )
    environment: dict[str, str] = Field(default_factory=dict)
    hardware: dict[str, Any] | str | None = Field(
        None, description="Shorthand for requests.hardware; narrowed to fit the build node."
    )
    requests: Requests | None = None
    timeout: int | None = Field(None, ge=1, le=7 * 24 * 3600)
    retry: Retry | None = None
    testbed: str | None = None

    def deployment(self) -> DeploymentSpec:
        """The deployment of the executable this task is (its checks: a 422 naming
        `executable.<field>`)."""
        requests = self.requests.model_dump(exclude_none=True) if self.requests else {}
        if self.hardware is not None:
            if requests.get("hardware") is not None:
                raise _at("executable.hardware", "give hardware or requests.hardware, not both")
            requests["hardware"] = self.hardware
        body = self.model_dump(exclude={"id", "hardware", "requests"}, exclude_none=True)
        body.update(executable=self.id, requests=requests or None)
        try:
            return DeploymentSpec.model_validate(body)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(["executable", *(str(part) for part in first["loc"])])
            raise _at(where, first["msg"].removeprefix("Value error, ")) from None


class TaskSpec(Strict):
    """One task: a deployment (command, image or executable) or an inspection (an environment
    built, then a script) run `count` times, each copy seeing TESSERA_TASK_INDEX."""

    name: str
    count: int = Field(1, ge=1, description="Copies (EManager's Num_Tasks).")
    deployment: DeploymentSpec | None = None
    command: list[str] | None = Field(
        None, description="Shorthand for deployment: {command: [...]}.", max_length=1000
    )
    inspection: InspectionSpec | None = Field(
        None,
        description="An environment built (once, when the task is released) and a script run "
        "in it `count` times; its batch_size is the task's count.",
    )
    executable: ExecutableTask | None = Field(
        None, description="Shorthand for deployment: {executable: id, command: [...], ...}."
    )
    inputs: list[TaskInput] = Field(default_factory=list, max_length=100)
    outputs: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Globs of files in the run's folder kept after it succeeded.",
    )

    _name = field_validator("name")(_check_name)
    # Which field the deployment came from (deployment, command or executable): named in
    # the errors found at submit. Not stored: the stored spec holds the deployment.
    _given_as: str = PrivateAttr("deployment")

    @field_validator("count")
    @classmethod
    def _count(cls, value: int) -> int:
        limit = get_settings().max_batch_size
        if value > limit:
            raise ValueError(f"count is at most {limit}")
        return value

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _GLOB.fullmatch(value):
                raise ValueError(f"{value!r}: a glob is letters, digits and . _ - / * ? [ ]")
            _check_relative(value, "an output glob")
        return values

    @field_validator("inspection")
    @classmethod
    def _inspection(cls, value: InspectionSpec | None) -> InspectionSpec | None:
        if value is None:
            return None
        if value.script is None:
            raise ValueError("a task's inspection runs a script: give one")
        if value.batch_size != 1:
            raise PydanticCustomError("batch_size", "batch_size: use the task's count instead")
        if value.allowed_failures:
            raise PydanticCustomError(
                "allowed_failures", "allowed_failures: a task succeeds when every copy does"
            )
        return value

    @model_validator(mode="after")
    def _one_thing(self) -> TaskSpec:
        given = [self.deployment, self.command, self.executable, self.inspection]
        if sum(item is not None for item in given) != 1:
            raise ValueError("give one of deployment, command, executable or inspection")
        if self.inspection is not None:
            self._given_as = "inspection"
            return self
        if self.command is not None:
            self.deployment = DeploymentSpec(command=self.command)
            self.command = None
        if self.executable is not None:
            self.deployment = self.executable.deployment()
            self.executable, self._given_as = None, "executable"
        assert self.deployment is not None
        if self.deployment.batch_size != 1:
            raise PydanticCustomError(
                "batch_size", "deployment.batch_size: use the task's count instead"
            )
        return self

    def pinned(self) -> str | None:
        """The testbed the task names, if any."""
        if self.inspection is not None:
            return self.inspection.testbed
        return self.deployment.testbed if self.deployment else None

    def own_retry(self) -> Retry | None:
        if self.inspection is not None:
            return self.inspection.run.retry if self.inspection.run else None
        return self.deployment.retry if self.deployment else None

    def given_as(self, field: str) -> str:
        """The path, in the task as it was sent, of a field of its deployment (an executable
        task's `executable` is the object itself)."""
        if self._given_as == "executable" and field == "executable":
            return "executable"
        return f"{self._given_as}.{field}"


class StageSpec(Strict):
    name: str
    depends_on: list[str] = Field(default_factory=list, max_length=MAX_STAGES)
    tasks: list[TaskSpec] = Field(min_length=1, max_length=MAX_TASKS)

    _name = field_validator("name")(_check_name)

    @field_validator("tasks")
    @classmethod
    def _distinct(cls, tasks: list[TaskSpec]) -> list[TaskSpec]:
        names = [task.name for task in tasks]
        if len(set(names)) != len(names):
            raise ValueError("two tasks of the stage have the same name")
        return tasks


class WorkflowSpec(Strict):
    """A DAG of stages; tasks are placed only once their stage's dependencies succeeded."""

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "name": "map-reduce",
                    "testbeds": ["local"],
                    "stages": [
                        {
                            "name": "map",
                            "tasks": [
                                {
                                    "name": "part",
                                    "count": 4,
                                    "command": [
                                        "sh",
                                        "-c",
                                        "echo $TESSERA_TASK_INDEX > part-$TESSERA_TASK_INDEX.json",
                                    ],
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
                                    "command": ["sh", "-c", "cat parts/* | paste -sd+ | bc"],
                                    "inputs": [{"from": "map/part", "path": "parts"}],
                                }
                            ],
                        },
                    ],
                    "max_parallel": 8,
                }
            ]
        },
    }

    name: str
    testbeds: list[str] | None = Field(
        None, max_length=100, description="Testbeds its tasks may go to; any when omitted."
    )
    stages: list[StageSpec] = Field(min_length=1, max_length=MAX_STAGES)
    retry: Retry | None = Field(
        None,
        description="Each task's policy unless it names one; `on` defaults to lost, failed "
        "and interrupted. Without it a task is retried only when its testbed is lost.",
    )
    max_parallel: int | None = Field(
        None, ge=1, description="At most this many task copies queued or running at once."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        checked = check_identifier(value)
        assert checked is not None
        return checked

    @field_validator("testbeds")
    @classmethod
    def _testbeds(cls, values: list[str] | None) -> list[str] | None:
        for value in values or []:
            check_testbed_name(value)
        if values is not None and len(set(values)) != len(values):
            raise ValueError("a testbed is named twice")
        return values

    @model_validator(mode="after")
    def _dag(self) -> WorkflowSpec:
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise _at("stages", "two stages have the same name")
        known = set(names)
        for i, stage in enumerate(self.stages):
            for j, dependency in enumerate(stage.depends_on):
                if dependency not in known:
                    raise _at(f"stages[{i}].depends_on[{j}]", f"no stage {dependency!r}")
                if dependency == stage.name:
                    raise _at(f"stages[{i}].depends_on[{j}]", "a stage cannot depend on itself")
        cycle = _cycle({stage.name: stage.depends_on for stage in self.stages})
        if cycle:
            where = names.index(cycle[0])
            raise _at(f"stages[{where}].depends_on", "a cycle: " + " -> ".join(cycle))
        self._check_inputs()
        copies = sum(task.count for stage in self.stages for task in stage.tasks)
        if copies > MAX_COPIES:
            raise _at("stages", f"at most {MAX_COPIES} task copies in all")
        for i, stage in enumerate(self.stages):
            for j, task in enumerate(stage.tasks):
                pin = task.pinned()
                if pin and self.testbeds is not None and pin not in self.testbeds:
                    at = f"stages[{i}].tasks[{j}].{task.given_as('testbed')}"
                    raise _at(at, f"{pin!r} is not among the workflow's testbeds")
        return self

    def _check_inputs(self) -> None:
        before = self.ancestors()
        outputs = {
            f"{stage.name}/{task.name}": bool(task.outputs)
            for stage in self.stages
            for task in stage.tasks
        }
        for i, stage in enumerate(self.stages):
            for j, task in enumerate(stage.tasks):
                for k, item in enumerate(task.inputs):
                    where = f"stages[{i}].tasks[{j}].inputs[{k}].from"
                    source_stage = item.from_.partition("/")[0]
                    if item.from_ not in outputs:
                        raise _at(where, f"no task {item.from_!r}")
                    if source_stage not in before[stage.name]:
                        raise _at(
                            where, f"stage {stage.name!r} does not depend on {source_stage!r}"
                        )
                    if not outputs[item.from_]:
                        raise _at(where, f"task {item.from_!r} names no outputs")

    def ancestors(self) -> dict[str, set[str]]:
        """Every stage's dependencies, direct or not."""
        direct = {stage.name: set(stage.depends_on) for stage in self.stages}
        found: dict[str, set[str]] = {}

        def walk(name: str) -> set[str]:
            if name not in found:
                found[name] = set()
                for parent in direct[name]:
                    found[name] |= {parent} | walk(parent)
            return found[name]

        for name in direct:
            walk(name)
        return found

    def retry_for(self, task: TaskSpec) -> Retry:
        """The task's policy: its own, else the workflow's (`on` defaulting), else lost."""
        own = task.own_retry()
        if own is not None:
            return own
        if self.retry is not None:
            on: list[RetryOn] = self.retry.on or ["lost", "failed", "interrupted"]
            return self.retry.model_copy(update={"on": on})
        return Retry(attempts=3, on=list(DEFAULT_ON))

    def task(self, stage: str, name: str) -> TaskSpec:
        for item in self.stages:
            if item.name == stage:
                for task in item.tasks:
                    if task.name == name:
                        return task
        raise KeyError(f"{stage}/{name}")


def _at(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        "workflow", "{field}: {message}", {"field": field, "message": message}
    )


def _cycle(edges: dict[str, list[str]]) -> list[str]:
    """A cycle of the graph (a stage to its dependencies), as names; empty when none."""
    colour: dict[str, int] = {}
    trail: list[str] = []

    def visit(name: str) -> list[str]:
        colour[name] = 1
        trail.append(name)
        for parent in edges.get(name, []):
            if colour.get(parent) == 1:
                return [*trail[trail.index(parent) :], parent]
            if parent not in colour:
                found = visit(parent)
                if found:
                    return found
        colour[name] = 2
        trail.pop()
        return []

    for name in edges:
        if name not in colour:
            found = visit(name)
            if found:
                return found
    return []
