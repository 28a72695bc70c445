from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.stage_out_counts import StageOutCounts


T = TypeVar("T", bound="StageOut")


@_attrs_define
class StageOut:
    """
    Attributes:
        name (str):
        depends_on (list[str]):
        state (str): waiting, running, succeeded, failed or cancelled.
        copies (int):
        counts (StageOutCounts): Copies by state: a run's state, or waiting (not made yet: its stage's dependencies have
            not succeeded), building (an inspection task's environment is being built), failed or cancelled.
        testbeds (list[str]): Testbeds its copies went to.
    """

    name: str
    depends_on: list[str]
    state: str
    copies: int
    counts: StageOutCounts
    testbeds: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        depends_on = self.depends_on

        state = self.state

        copies = self.copies

        counts = self.counts.to_dict()

        testbeds = self.testbeds

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "depends_on": depends_on,
                "state": state,
                "copies": copies,
                "counts": counts,
                "testbeds": testbeds,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.stage_out_counts import StageOutCounts  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        depends_on = cast(list[str], d.pop("depends_on"))

        state = d.pop("state")

        copies = d.pop("copies")

        counts = StageOutCounts.from_dict(d.pop("counts"))

        testbeds = cast(list[str], d.pop("testbeds"))

        stage_out = cls(
            name=name,
            depends_on=depends_on,
            state=state,
            copies=copies,
            counts=counts,
            testbeds=testbeds,
        )

        stage_out.additional_properties = d
        return stage_out

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
