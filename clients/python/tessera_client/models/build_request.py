from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.build_configuration import BuildConfiguration


T = TypeVar("T", bound="BuildRequest")


@_attrs_define
class BuildRequest:
    """
    Attributes:
        configurations (list[BuildConfiguration]):
    """

    configurations: list[BuildConfiguration]

    def to_dict(self) -> dict[str, Any]:
        configurations = []
        for configurations_item_data in self.configurations:
            configurations_item = configurations_item_data.to_dict()
            configurations.append(configurations_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "configurations": configurations,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.build_configuration import BuildConfiguration  # noqa: PLC0415

        d = dict(src_dict)
        configurations = []
        _configurations = d.pop("configurations")
        for configurations_item_data in _configurations:
            configurations_item = BuildConfiguration.from_dict(configurations_item_data)

            configurations.append(configurations_item)

        build_request = cls(
            configurations=configurations,
        )

        return build_request
