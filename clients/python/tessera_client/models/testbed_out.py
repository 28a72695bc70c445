from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.testbed_out_config import TestbedOutConfig


T = TypeVar("T", bound="TestbedOut")


@_attrs_define
class TestbedOut:
    """
    Attributes:
        id (UUID):
        name (str):
        kind (str):
        config (TestbedOutConfig):
        state (str):
        state_reason (None | str):
        has_credentials (bool):
        refreshed_at (datetime.datetime | None):
        created_at (datetime.datetime):
        nodes (int):
    """

    id: UUID
    name: str
    kind: str
    config: TestbedOutConfig
    state: str
    state_reason: None | str
    has_credentials: bool
    refreshed_at: datetime.datetime | None
    created_at: datetime.datetime
    nodes: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        kind = self.kind

        config = self.config.to_dict()

        state = self.state

        state_reason: None | str
        state_reason = self.state_reason

        has_credentials = self.has_credentials

        refreshed_at: None | str
        if isinstance(self.refreshed_at, datetime.datetime):
            refreshed_at = self.refreshed_at.isoformat()
        else:
            refreshed_at = self.refreshed_at

        created_at = self.created_at.isoformat()

        nodes = self.nodes

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "kind": kind,
                "config": config,
                "state": state,
                "state_reason": state_reason,
                "has_credentials": has_credentials,
                "refreshed_at": refreshed_at,
                "created_at": created_at,
                "nodes": nodes,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.testbed_out_config import TestbedOutConfig  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        kind = d.pop("kind")

        config = TestbedOutConfig.from_dict(d.pop("config"))

        state = d.pop("state")

        def _parse_state_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        state_reason = _parse_state_reason(d.pop("state_reason"))

        has_credentials = d.pop("has_credentials")

        def _parse_refreshed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                refreshed_at_type_0 = datetime.datetime.fromisoformat(data)

                return refreshed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        refreshed_at = _parse_refreshed_at(d.pop("refreshed_at"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        nodes = d.pop("nodes")

        testbed_out = cls(
            id=id,
            name=name,
            kind=kind,
            config=config,
            state=state,
            state_reason=state_reason,
            has_credentials=has_credentials,
            refreshed_at=refreshed_at,
            created_at=created_at,
            nodes=nodes,
        )

        testbed_out.additional_properties = d
        return testbed_out

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
