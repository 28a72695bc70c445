from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TaskCopyOut")


@_attrs_define
class TaskCopyOut:
    """
    Attributes:
        stage (str):
        task (str):
        index (int):
        state (str):
        state_reason (None | str):
        run_id (None | UUID):
        attempt (int):
        testbed (None | str):
        node (None | str):
    """

    stage: str
    task: str
    index: int
    state: str
    state_reason: None | str
    run_id: None | UUID
    attempt: int
    testbed: None | str
    node: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        stage = self.stage

        task = self.task

        index = self.index

        state = self.state

        state_reason: None | str
        state_reason = self.state_reason

        run_id: None | str
        if isinstance(self.run_id, UUID):
            run_id = str(self.run_id)
        else:
            run_id = self.run_id

        attempt = self.attempt

        testbed: None | str
        testbed = self.testbed

        node: None | str
        node = self.node

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "stage": stage,
                "task": task,
                "index": index,
                "state": state,
                "state_reason": state_reason,
                "run_id": run_id,
                "attempt": attempt,
                "testbed": testbed,
                "node": node,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        stage = d.pop("stage")

        task = d.pop("task")

        index = d.pop("index")

        state = d.pop("state")

        def _parse_state_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        state_reason = _parse_state_reason(d.pop("state_reason"))

        def _parse_run_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                run_id_type_0 = UUID(data)

                return run_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        run_id = _parse_run_id(d.pop("run_id"))

        attempt = d.pop("attempt")

        def _parse_testbed(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        testbed = _parse_testbed(d.pop("testbed"))

        def _parse_node(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        node = _parse_node(d.pop("node"))

        task_copy_out = cls(
            stage=stage,
            task=task,
            index=index,
            state=state,
            state_reason=state_reason,
            run_id=run_id,
            attempt=attempt,
            testbed=testbed,
            node=node,
        )

        task_copy_out.additional_properties = d
        return task_copy_out

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
