from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.accelerator import Accelerator


T = TypeVar("T", bound="Offer")


@_attrs_define
class Offer:
    """A node that fits, as placement ranks it.

    Attributes:
        rank (int): 1 is where placement would put the run now.
        testbed (str):
        kind (str):
        node (str):
        can_start_now (bool): It has the devices asked for free now.
        short (int): Devices asked for that it lacks free now.
        queued (int): Tessera's runs placed on its testbed, not started yet.
        active (int): Tessera's runs placed or running on the node.
        cores (int | None):
        memory_bytes (int | None):
        accelerators (list[Accelerator]):
    """

    rank: int
    testbed: str
    kind: str
    node: str
    can_start_now: bool
    short: int
    queued: int
    active: int
    cores: int | None
    memory_bytes: int | None
    accelerators: list[Accelerator]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        rank = self.rank

        testbed = self.testbed

        kind = self.kind

        node = self.node

        can_start_now = self.can_start_now

        short = self.short

        queued = self.queued

        active = self.active

        cores: int | None
        cores = self.cores

        memory_bytes: int | None
        memory_bytes = self.memory_bytes

        accelerators = []
        for accelerators_item_data in self.accelerators:
            accelerators_item = accelerators_item_data.to_dict()
            accelerators.append(accelerators_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "rank": rank,
                "testbed": testbed,
                "kind": kind,
                "node": node,
                "can_start_now": can_start_now,
                "short": short,
                "queued": queued,
                "active": active,
                "cores": cores,
                "memory_bytes": memory_bytes,
                "accelerators": accelerators,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.accelerator import Accelerator  # noqa: PLC0415

        d = dict(src_dict)
        rank = d.pop("rank")

        testbed = d.pop("testbed")

        kind = d.pop("kind")

        node = d.pop("node")

        can_start_now = d.pop("can_start_now")

        short = d.pop("short")

        queued = d.pop("queued")

        active = d.pop("active")

        def _parse_cores(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        cores = _parse_cores(d.pop("cores"))

        def _parse_memory_bytes(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        memory_bytes = _parse_memory_bytes(d.pop("memory_bytes"))

        accelerators = []
        _accelerators = d.pop("accelerators")
        for accelerators_item_data in _accelerators:
            accelerators_item = Accelerator.from_dict(accelerators_item_data)

            accelerators.append(accelerators_item)

        offer = cls(
            rank=rank,
            testbed=testbed,
            kind=kind,
            node=node,
            can_start_now=can_start_now,
            short=short,
            queued=queued,
            active=active,
            cores=cores,
            memory_bytes=memory_bytes,
            accelerators=accelerators,
        )

        offer.additional_properties = d
        return offer

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
