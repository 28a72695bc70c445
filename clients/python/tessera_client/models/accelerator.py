from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Accelerator")


@_attrs_define
class Accelerator:
    """
    Attributes:
        kind (str): gpu, fpga or accelerator.
        vendor (str):
        model (str):
        memory_bytes (int | None):
        count (int): How many the node has.
        free (int | None): How many neither Tessera's placed or running runs nor other work the node's scheduler reports
            holds; 0 on an offline node or testbed.
    """

    kind: str
    vendor: str
    model: str
    memory_bytes: int | None
    count: int
    free: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind

        vendor = self.vendor

        model = self.model

        memory_bytes: int | None
        memory_bytes = self.memory_bytes

        count = self.count

        free: int | None
        free = self.free

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "kind": kind,
                "vendor": vendor,
                "model": model,
                "memory_bytes": memory_bytes,
                "count": count,
                "free": free,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = d.pop("kind")

        vendor = d.pop("vendor")

        model = d.pop("model")

        def _parse_memory_bytes(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        memory_bytes = _parse_memory_bytes(d.pop("memory_bytes"))

        count = d.pop("count")

        def _parse_free(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        free = _parse_free(d.pop("free"))

        accelerator = cls(
            kind=kind,
            vendor=vendor,
            model=model,
            memory_bytes=memory_bytes,
            count=count,
            free=free,
        )

        accelerator.additional_properties = d
        return accelerator

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
