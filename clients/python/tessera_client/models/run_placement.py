from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.run_placement_placement import RunPlacementPlacement


T = TypeVar("T", bound="RunPlacement")


@_attrs_define
class RunPlacement:
    """Where a run's current attempt was placed, and why there (as stored at placement).

    Attributes:
        attempt (int):
        testbed (None | str):
        node_name (None | str):
        placement (RunPlacementPlacement):
    """

    attempt: int
    testbed: None | str
    node_name: None | str
    placement: RunPlacementPlacement
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        testbed: None | str
        testbed = self.testbed

        node_name: None | str
        node_name = self.node_name

        placement = self.placement.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempt": attempt,
                "testbed": testbed,
                "node_name": node_name,
                "placement": placement,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.run_placement_placement import RunPlacementPlacement  # noqa: PLC0415

        d = dict(src_dict)
        attempt = d.pop("attempt")

        def _parse_testbed(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        testbed = _parse_testbed(d.pop("testbed"))

        def _parse_node_name(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        node_name = _parse_node_name(d.pop("node_name"))

        placement = RunPlacementPlacement.from_dict(d.pop("placement"))

        run_placement = cls(
            attempt=attempt,
            testbed=testbed,
            node_name=node_name,
            placement=placement,
        )

        run_placement.additional_properties = d
        return run_placement

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
