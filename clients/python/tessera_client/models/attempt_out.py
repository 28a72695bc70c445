from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.attempt_out_placement import AttemptOutPlacement


T = TypeVar("T", bound="AttemptOut")


@_attrs_define
class AttemptOut:
    """One placement of a run: where, why there, and how it ended.

    Attributes:
        number (int):
        state (str): placed, running, succeeded, failed, cancelled, lost, interrupted, withdrawn (moved before it
            started) or superseded (re-placed, then fenced)
        state_reason (None | str):
        testbed (None | str):
        node_name (None | str):
        backend_ref (None | str): The scheduler's job, pod or pid.
        placement (AttemptOutPlacement): The chosen node, what it offered, the next ones.
        exit_code (int | None):
        fence_pending (bool): Its host stopped answering: its runner is stopped when it is back. Default: False.
        placed_at (datetime.datetime | None):
        started_at (datetime.datetime | None):
        finished_at (datetime.datetime | None):
    """

    number: int
    state: str
    state_reason: None | str
    testbed: None | str
    node_name: None | str
    backend_ref: None | str
    placement: AttemptOutPlacement
    exit_code: int | None
    placed_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    fence_pending: bool = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        number = self.number

        state = self.state

        state_reason: None | str
        state_reason = self.state_reason

        testbed: None | str
        testbed = self.testbed

        node_name: None | str
        node_name = self.node_name

        backend_ref: None | str
        backend_ref = self.backend_ref

        placement = self.placement.to_dict()

        exit_code: int | None
        exit_code = self.exit_code

        fence_pending = self.fence_pending

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
                "number": number,
                "state": state,
                "state_reason": state_reason,
                "testbed": testbed,
                "node_name": node_name,
                "backend_ref": backend_ref,
                "placement": placement,
                "exit_code": exit_code,
                "fence_pending": fence_pending,
                "placed_at": placed_at,
                "started_at": started_at,
                "finished_at": finished_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.attempt_out_placement import AttemptOutPlacement  # noqa: PLC0415

        d = dict(src_dict)
        number = d.pop("number")

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

        def _parse_backend_ref(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        backend_ref = _parse_backend_ref(d.pop("backend_ref"))

        placement = AttemptOutPlacement.from_dict(d.pop("placement"))

        def _parse_exit_code(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        exit_code = _parse_exit_code(d.pop("exit_code"))

        fence_pending = d.pop("fence_pending")

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

        attempt_out = cls(
            number=number,
            state=state,
            state_reason=state_reason,
            testbed=testbed,
            node_name=node_name,
            backend_ref=backend_ref,
            placement=placement,
            exit_code=exit_code,
            fence_pending=fence_pending,
            placed_at=placed_at,
            started_at=started_at,
            finished_at=finished_at,
        )

        attempt_out.additional_properties = d
        return attempt_out

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
