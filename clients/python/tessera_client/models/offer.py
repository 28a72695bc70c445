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
        price_per_hour (float | None): What a run there costs per hour (USD; cloud offers), else null.
        lifecycle (None | str): spot or on-demand (cloud offers): what the price is for.
        on_demand_price_per_hour (float | None): The on-demand price (from Tessera's dated table), where known.
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
    price_per_hour: float | None
    lifecycle: None | str
    on_demand_price_per_hour: float | None
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

        price_per_hour: float | None
        price_per_hour = self.price_per_hour

        lifecycle: None | str
        lifecycle = self.lifecycle

        on_demand_price_per_hour: float | None
        on_demand_price_per_hour = self.on_demand_price_per_hour

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
                "price_per_hour": price_per_hour,
                "lifecycle": lifecycle,
                "on_demand_price_per_hour": on_demand_price_per_hour,
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

        def _parse_price_per_hour(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        price_per_hour = _parse_price_per_hour(d.pop("price_per_hour"))

        def _parse_lifecycle(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        lifecycle = _parse_lifecycle(d.pop("lifecycle"))

        def _parse_on_demand_price_per_hour(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        on_demand_price_per_hour = _parse_on_demand_price_per_hour(d.pop("on_demand_price_per_hour"))

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
            price_per_hour=price_per_hour,
            lifecycle=lifecycle,
            on_demand_price_per_hour=on_demand_price_per_hour,
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
