from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.deployment_spec import DeploymentSpec
    from ..models.executable_task import ExecutableTask
    from ..models.inspection_spec import InspectionSpec
    from ..models.task_input import TaskInput


T = TypeVar("T", bound="TaskSpec")


@_attrs_define
class TaskSpec:
    """One task: a deployment (command, image or executable) or an inspection (an environment
    built, then a script) run `count` times, each copy seeing TESSERA_TASK_INDEX.

        Attributes:
            name (str):
            count (int | Unset): Copies (EManager's Num_Tasks). Default: 1.
            deployment (DeploymentSpec | None | Unset):
            command (list[str] | None | Unset): Shorthand for deployment: {command: [...]}.
            inspection (InspectionSpec | None | Unset): An environment built (once, when the task is released) and a script
                run in it `count` times; its batch_size is the task's count.
            executable (ExecutableTask | None | Unset): Shorthand for deployment: {executable: id, command: [...], ...}.
            inputs (list[TaskInput] | Unset):
            outputs (list[str] | Unset): Globs of files in the run's folder kept after it succeeded.
    """

    name: str
    count: int | Unset = 1
    deployment: DeploymentSpec | None | Unset = UNSET
    command: list[str] | None | Unset = UNSET
    inspection: InspectionSpec | None | Unset = UNSET
    executable: ExecutableTask | None | Unset = UNSET
    inputs: list[TaskInput] | Unset = UNSET
    outputs: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.deployment_spec import DeploymentSpec  # noqa: PLC0415
        from ..models.executable_task import ExecutableTask  # noqa: PLC0415
        from ..models.inspection_spec import InspectionSpec  # noqa: PLC0415

        name = self.name

        count = self.count

        deployment: dict[str, Any] | None | Unset
        if isinstance(self.deployment, Unset):
            deployment = UNSET
        elif isinstance(self.deployment, DeploymentSpec):
            deployment = self.deployment.to_dict()
        else:
            deployment = self.deployment

        command: list[str] | None | Unset
        if isinstance(self.command, Unset):
            command = UNSET
        elif isinstance(self.command, list):
            command = self.command

        else:
            command = self.command

        inspection: dict[str, Any] | None | Unset
        if isinstance(self.inspection, Unset):
            inspection = UNSET
        elif isinstance(self.inspection, InspectionSpec):
            inspection = self.inspection.to_dict()
        else:
            inspection = self.inspection

        executable: dict[str, Any] | None | Unset
        if isinstance(self.executable, Unset):
            executable = UNSET
        elif isinstance(self.executable, ExecutableTask):
            executable = self.executable.to_dict()
        else:
            executable = self.executable

        inputs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.inputs, Unset):
            inputs = []
            for inputs_item_data in self.inputs:
                inputs_item = inputs_item_data.to_dict()
                inputs.append(inputs_item)

        outputs: list[str] | Unset = UNSET
        if not isinstance(self.outputs, Unset):
            outputs = self.outputs

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if count is not UNSET:
            field_dict["count"] = count
        if deployment is not UNSET:
            field_dict["deployment"] = deployment
        if command is not UNSET:
            field_dict["command"] = command
        if inspection is not UNSET:
            field_dict["inspection"] = inspection
        if executable is not UNSET:
            field_dict["executable"] = executable
        if inputs is not UNSET:
            field_dict["inputs"] = inputs
        if outputs is not UNSET:
            field_dict["outputs"] = outputs

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.deployment_spec import DeploymentSpec  # noqa: PLC0415
        from ..models.executable_task import ExecutableTask  # noqa: PLC0415
        from ..models.inspection_spec import InspectionSpec  # noqa: PLC0415
        from ..models.task_input import TaskInput  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        count = d.pop("count", UNSET)

        def _parse_deployment(data: object) -> DeploymentSpec | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                deployment_type_0 = DeploymentSpec.from_dict(data)

                return deployment_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeploymentSpec | None | Unset, data)

        deployment = _parse_deployment(d.pop("deployment", UNSET))

        def _parse_command(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                command_type_0 = cast(list[str], data)

                return command_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        command = _parse_command(d.pop("command", UNSET))

        def _parse_inspection(data: object) -> InspectionSpec | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                inspection_type_0 = InspectionSpec.from_dict(data)

                return inspection_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(InspectionSpec | None | Unset, data)

        inspection = _parse_inspection(d.pop("inspection", UNSET))

        def _parse_executable(data: object) -> ExecutableTask | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                executable_type_0 = ExecutableTask.from_dict(data)

                return executable_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ExecutableTask | None | Unset, data)

        executable = _parse_executable(d.pop("executable", UNSET))

        _inputs = d.pop("inputs", UNSET)
        inputs: list[TaskInput] | Unset = UNSET
        if _inputs is not UNSET:
            inputs = []
            for inputs_item_data in _inputs:
                inputs_item = TaskInput.from_dict(inputs_item_data)

                inputs.append(inputs_item)

        outputs = cast(list[str], d.pop("outputs", UNSET))

        task_spec = cls(
            name=name,
            count=count,
            deployment=deployment,
            command=command,
            inspection=inspection,
            executable=executable,
            inputs=inputs,
            outputs=outputs,
        )

        return task_spec
