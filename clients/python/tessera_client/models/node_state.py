from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="NodeState")


@_attrs_define
class NodeState:
    """
    Attributes:
        node_id (UUID):
        name (str):
        testbed (str):
        state (str):
        drained (bool):
        drain_reason (None | str):
        drained_at (datetime.datetime | None):
    """

    node_id: UUID
    name: str
    testbed: str
    state: str
    drained: bool
    drain_reason: None | str
    drained_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        node_id = str(self.node_id)

        name = self.name

        testbed = self.testbed

        state = self.state

        drained = self.drained

        drain_reason: None | str
        drain_reason = self.drain_reason

        drained_at: None | str
        if isinstance(self.drained_at, datetime.datetime):
            drained_at = self.drained_at.isoformat()
        else:
            drained_at = self.drained_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "node_id": node_id,
                "name": name,
                "testbed": testbed,
                "state": state,
                "drained": drained,
                "drain_reason": drain_reason,
                "drained_at": drained_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        node_id = UUID(d.pop("node_id"))

        name = d.pop("name")

        testbed = d.pop("testbed")

        state = d.pop("state")

        drained = d.pop("drained")

        def _parse_drain_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        drain_reason = _parse_drain_reason(d.pop("drain_reason"))

        def _parse_drained_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                drained_at_type_0 = datetime.datetime.fromisoformat(data)

                return drained_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        drained_at = _parse_drained_at(d.pop("drained_at"))

        node_state = cls(
            node_id=node_id,
            name=name,
            testbed=testbed,
            state=state,
            drained=drained,
            drain_reason=drain_reason,
            drained_at=drained_at,
        )

        node_state.additional_properties = d
        return node_state

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
