from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="FileSpec")


@_attrs_define
class FileSpec:
    """A file placed in the run's working folder (inspections) or the image (builds).

    Attributes:
        path (str): Relative path, e.g. 'data/input.json'.
        content (str):
        executable (bool | Unset):  Default: False.
    """

    path: str
    content: str
    executable: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        content = self.content

        executable = self.executable

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "path": path,
                "content": content,
            }
        )
        if executable is not UNSET:
            field_dict["executable"] = executable

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        path = d.pop("path")

        content = d.pop("content")

        executable = d.pop("executable", UNSET)

        file_spec = cls(
            path=path,
            content=content,
            executable=executable,
        )

        return file_spec
