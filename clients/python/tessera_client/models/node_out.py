from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.accelerator import Accelerator
    from ..models.node_out_labels import NodeOutLabels


T = TypeVar("T", bound="NodeOut")


@_attrs_define
class NodeOut:
    """
    Attributes:
        id (UUID):
        name (str):
        testbed (str):
        state (str):
        state_reason (None | str):
        arch (None | str):
        cpu_vendor (None | str):
        cpu_model (None | str):
        cpu_flags (list[str]):
        cores (int | None):
        memory_bytes (int | None):
        accelerators (list[Accelerator]):
        labels (NodeOutLabels):
        features (list[str]):
        runtimes (list[str]):
        updated_at (datetime.datetime):
    """

    id: UUID
    name: str
    testbed: str
    state: str
    state_reason: None | str
    arch: None | str
    cpu_vendor: None | str
    cpu_model: None | str
    cpu_flags: list[str]
    cores: int | None
    memory_bytes: int | None
    accelerators: list[Accelerator]
    labels: NodeOutLabels
    features: list[str]
    runtimes: list[str]
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        name = self.name

        testbed = self.testbed

        state = self.state

        state_reason: None | str
        state_reason = self.state_reason

        arch: None | str
        arch = self.arch

        cpu_vendor: None | str
        cpu_vendor = self.cpu_vendor

        cpu_model: None | str
        cpu_model = self.cpu_model

        cpu_flags = self.cpu_flags

        cores: int | None
        cores = self.cores

        memory_bytes: int | None
        memory_bytes = self.memory_bytes

        accelerators = []
        for accelerators_item_data in self.accelerators:
            accelerators_item = accelerators_item_data.to_dict()
            accelerators.append(accelerators_item)

        labels = self.labels.to_dict()

        features = self.features

        runtimes = self.runtimes

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "testbed": testbed,
                "state": state,
                "state_reason": state_reason,
                "arch": arch,
                "cpu_vendor": cpu_vendor,
                "cpu_model": cpu_model,
                "cpu_flags": cpu_flags,
                "cores": cores,
                "memory_bytes": memory_bytes,
                "accelerators": accelerators,
                "labels": labels,
                "features": features,
                "runtimes": runtimes,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.accelerator import Accelerator  # noqa: PLC0415
        from ..models.node_out_labels import NodeOutLabels  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        name = d.pop("name")

        testbed = d.pop("testbed")

        state = d.pop("state")

        def _parse_state_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        state_reason = _parse_state_reason(d.pop("state_reason"))

        def _parse_arch(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        arch = _parse_arch(d.pop("arch"))

        def _parse_cpu_vendor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        cpu_vendor = _parse_cpu_vendor(d.pop("cpu_vendor"))

        def _parse_cpu_model(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        cpu_model = _parse_cpu_model(d.pop("cpu_model"))

        cpu_flags = cast(list[str], d.pop("cpu_flags"))

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

        labels = NodeOutLabels.from_dict(d.pop("labels"))

        features = cast(list[str], d.pop("features"))

        runtimes = cast(list[str], d.pop("runtimes"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        node_out = cls(
            id=id,
            name=name,
            testbed=testbed,
            state=state,
            state_reason=state_reason,
            arch=arch,
            cpu_vendor=cpu_vendor,
            cpu_model=cpu_model,
            cpu_flags=cpu_flags,
            cores=cores,
            memory_bytes=memory_bytes,
            accelerators=accelerators,
            labels=labels,
            features=features,
            runtimes=runtimes,
            updated_at=updated_at,
        )

        node_out.additional_properties = d
        return node_out

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
