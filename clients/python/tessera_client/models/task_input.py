from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TaskInput")


@_attrs_define
class TaskInput:
    """The outputs of an earlier task, placed under `path` in this task's run folder.

    Attributes:
        from_ (str): 'stage/task': the task whose outputs these are.
        path (str | Unset): Folder (relative) the files are placed under. Default: '.'.
    """

    from_: str
    path: str | Unset = "."

    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_

        path = self.path

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "from": from_,
            }
        )
        if path is not UNSET:
            field_dict["path"] = path

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        from_ = d.pop("from")

        path = d.pop("path", UNSET)

        task_input = cls(
            from_=from_,
            path=path,
        )

        return task_input
