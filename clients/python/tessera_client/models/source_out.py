from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SourceOut")


@_attrs_define
class SourceOut:
    """
    Attributes:
        digest (str):
        file_count (int):
        expanded_bytes (int):
        archive_bytes (int):
        stale_executables (int):
    """

    digest: str
    file_count: int
    expanded_bytes: int
    archive_bytes: int
    stale_executables: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        digest = self.digest

        file_count = self.file_count

        expanded_bytes = self.expanded_bytes

        archive_bytes = self.archive_bytes

        stale_executables = self.stale_executables

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "digest": digest,
                "file_count": file_count,
                "expanded_bytes": expanded_bytes,
                "archive_bytes": archive_bytes,
                "stale_executables": stale_executables,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        digest = d.pop("digest")

        file_count = d.pop("file_count")

        expanded_bytes = d.pop("expanded_bytes")

        archive_bytes = d.pop("archive_bytes")

        stale_executables = d.pop("stale_executables")

        source_out = cls(
            digest=digest,
            file_count=file_count,
            expanded_bytes=expanded_bytes,
            archive_bytes=archive_bytes,
            stale_executables=stale_executables,
        )

        source_out.additional_properties = d
        return source_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
