from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="InspectionCreated")


@_attrs_define
class InspectionCreated:
    """
    Attributes:
        inspection_id (UUID):
        state (str):
        batch_size (int):
        build_only (bool):
    """

    inspection_id: UUID
    state: str
    batch_size: int
    build_only: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        inspection_id = str(self.inspection_id)

        state = self.state

        batch_size = self.batch_size

        build_only = self.build_only

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "inspection_id": inspection_id,
                "state": state,
                "batch_size": batch_size,
                "build_only": build_only,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        inspection_id = UUID(d.pop("inspection_id"))

        state = d.pop("state")

        batch_size = d.pop("batch_size")

        build_only = d.pop("build_only")

        inspection_created = cls(
            inspection_id=inspection_id,
            state=state,
            batch_size=batch_size,
            build_only=build_only,
        )

        inspection_created.additional_properties = d
        return inspection_created

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
