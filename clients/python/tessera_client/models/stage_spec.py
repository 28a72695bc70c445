from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.task_spec import TaskSpec


T = TypeVar("T", bound="StageSpec")


@_attrs_define
class StageSpec:
    """
    Attributes:
        name (str):
        tasks (list[TaskSpec]):
        depends_on (list[str] | Unset):
    """

    name: str
    tasks: list[TaskSpec]
    depends_on: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        tasks = []
        for tasks_item_data in self.tasks:
            tasks_item = tasks_item_data.to_dict()
            tasks.append(tasks_item)

        depends_on: list[str] | Unset = UNSET
        if not isinstance(self.depends_on, Unset):
            depends_on = self.depends_on

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "tasks": tasks,
            }
        )
        if depends_on is not UNSET:
            field_dict["depends_on"] = depends_on

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.task_spec import TaskSpec  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        tasks = []
        _tasks = d.pop("tasks")
        for tasks_item_data in _tasks:
            tasks_item = TaskSpec.from_dict(tasks_item_data)

            tasks.append(tasks_item)

        depends_on = cast(list[str], d.pop("depends_on", UNSET))

        stage_spec = cls(
            name=name,
            tasks=tasks,
            depends_on=depends_on,
        )

        return stage_spec
