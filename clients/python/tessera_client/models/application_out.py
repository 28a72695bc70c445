from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ApplicationOut")


@_attrs_define
class ApplicationOut:
    """
    Attributes:
        application_id (UUID):
        name (str):
        description (None | str):
        state (str):
        source_digest (None | str):
        source_files (int | None):
        source_bytes (int | None):
        source_at (datetime.datetime | None):
        created_at (datetime.datetime):
    """

    application_id: UUID
    name: str
    description: None | str
    state: str
    source_digest: None | str
    source_files: int | None
    source_bytes: int | None
    source_at: datetime.datetime | None
    created_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        application_id = str(self.application_id)

        name = self.name

        description: None | str
        description = self.description

        state = self.state

        source_digest: None | str
        source_digest = self.source_digest

        source_files: int | None
        source_files = self.source_files

        source_bytes: int | None
        source_bytes = self.source_bytes

        source_at: None | str
        if isinstance(self.source_at, datetime.datetime):
            source_at = self.source_at.isoformat()
        else:
            source_at = self.source_at

        created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "application_id": application_id,
                "name": name,
                "description": description,
                "state": state,
                "source_digest": source_digest,
                "source_files": source_files,
                "source_bytes": source_bytes,
                "source_at": source_at,
                "created_at": created_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        application_id = UUID(d.pop("application_id"))

        name = d.pop("name")

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        state = d.pop("state")

        def _parse_source_digest(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        source_digest = _parse_source_digest(d.pop("source_digest"))

        def _parse_source_files(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        source_files = _parse_source_files(d.pop("source_files"))

        def _parse_source_bytes(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        source_bytes = _parse_source_bytes(d.pop("source_bytes"))

        def _parse_source_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                source_at_type_0 = datetime.datetime.fromisoformat(data)

                return source_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        source_at = _parse_source_at(d.pop("source_at"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        application_out = cls(
            application_id=application_id,
            name=name,
            description=description,
            state=state,
            source_digest=source_digest,
            source_files=source_files,
            source_bytes=source_bytes,
            source_at=source_at,
            created_at=created_at,
        )

        application_out.additional_properties = d
        return application_out

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
