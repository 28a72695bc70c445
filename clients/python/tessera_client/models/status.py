from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.build_out import BuildOut
    from ..models.status_runs import StatusRuns


T = TypeVar("T", bound="Status")


@_attrs_define
class Status:
    """
    Attributes:
        state (str):
        state_reason (None | str):
        build (BuildOut | None):
        runs (StatusRuns): Runs by state.
        created_at (datetime.datetime):
        finished_at (datetime.datetime | None):
    """

    state: str
    state_reason: None | str
    build: BuildOut | None
    runs: StatusRuns
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.build_out import BuildOut  # noqa: PLC0415

        state = self.state

        state_reason: None | str
        state_reason = self.state_reason

        build: dict[str, Any] | None
        if isinstance(self.build, BuildOut):
            build = self.build.to_dict()
        else:
            build = self.build

        runs = self.runs.to_dict()

        created_at = self.created_at.isoformat()

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "state": state,
                "state_reason": state_reason,
                "build": build,
                "runs": runs,
                "created_at": created_at,
                "finished_at": finished_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.build_out import BuildOut  # noqa: PLC0415
        from ..models.status_runs import StatusRuns  # noqa: PLC0415

        d = dict(src_dict)
        state = d.pop("state")

        def _parse_state_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        state_reason = _parse_state_reason(d.pop("state_reason"))

        def _parse_build(data: object) -> BuildOut | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                build_type_0 = BuildOut.from_dict(data)

                return build_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BuildOut | None, data)

        build = _parse_build(d.pop("build"))

        runs = StatusRuns.from_dict(d.pop("runs"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

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

        status = cls(
            state=state,
            state_reason=state_reason,
            build=build,
            runs=runs,
            created_at=created_at,
            finished_at=finished_at,
        )

        status.additional_properties = d
        return status

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
