from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RunOut")


@_attrs_define
class RunOut:
    """
    Attributes:
        id (UUID):
        index (int):
        inspection_id (None | UUID): Set when an inspection made it.
        deployment_id (None | UUID): Set when a deployment made it.
        state (str):
        state_reason (None | str):
        testbed (None | str):
        node_name (None | str):
        exit_code (int | None):
        attempt (int): The number of its current or last attempt. Default: 0.
        created_at (datetime.datetime):
        placed_at (datetime.datetime | None):
        started_at (datetime.datetime | None):
        finished_at (datetime.datetime | None):
    """

    id: UUID
    index: int
    inspection_id: None | UUID
    deployment_id: None | UUID
    state: str
    state_reason: None | str
    testbed: None | str
    node_name: None | str
    exit_code: int | None
    created_at: datetime.datetime
    placed_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    attempt: int = 0
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        index = self.index

        inspection_id: None | str
        if isinstance(self.inspection_id, UUID):
            inspection_id = str(self.inspection_id)
        else:
            inspection_id = self.inspection_id

        deployment_id: None | str
        if isinstance(self.deployment_id, UUID):
            deployment_id = str(self.deployment_id)
        else:
            deployment_id = self.deployment_id

        state = self.state

        state_reason: None | str
        state_reason = self.state_reason

        testbed: None | str
        testbed = self.testbed

        node_name: None | str
        node_name = self.node_name

        exit_code: int | None
        exit_code = self.exit_code

        attempt = self.attempt

        created_at = self.created_at.isoformat()

        placed_at: None | str
        if isinstance(self.placed_at, datetime.datetime):
            placed_at = self.placed_at.isoformat()
        else:
            placed_at = self.placed_at

        started_at: None | str
        if isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "index": index,
                "inspection_id": inspection_id,
                "deployment_id": deployment_id,
                "state": state,
                "state_reason": state_reason,
                "testbed": testbed,
                "node_name": node_name,
                "exit_code": exit_code,
                "attempt": attempt,
                "created_at": created_at,
                "placed_at": placed_at,
                "started_at": started_at,
                "finished_at": finished_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        index = d.pop("index")

        def _parse_inspection_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                inspection_id_type_0 = UUID(data)

                return inspection_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        inspection_id = _parse_inspection_id(d.pop("inspection_id"))

        def _parse_deployment_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                deployment_id_type_0 = UUID(data)

                return deployment_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        deployment_id = _parse_deployment_id(d.pop("deployment_id"))

        state = d.pop("state")

        def _parse_state_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        state_reason = _parse_state_reason(d.pop("state_reason"))

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

        def _parse_exit_code(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        exit_code = _parse_exit_code(d.pop("exit_code"))

        attempt = d.pop("attempt")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_placed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                placed_at_type_0 = datetime.datetime.fromisoformat(data)

                return placed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        placed_at = _parse_placed_at(d.pop("placed_at"))

        def _parse_started_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)

                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        started_at = _parse_started_at(d.pop("started_at"))

        def _parse_finished_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        finished_at = _parse_finished_at(d.pop("finished_at"))

        run_out = cls(
            id=id,
            index=index,
            inspection_id=inspection_id,
            deployment_id=deployment_id,
            state=state,
            state_reason=state_reason,
            testbed=testbed,
            node_name=node_name,
            exit_code=exit_code,
            attempt=attempt,
            created_at=created_at,
            placed_at=placed_at,
            started_at=started_at,
            finished_at=finished_at,
        )

        run_out.additional_properties = d
        return run_out

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
