from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.requests_hardware_type_0 import RequestsHardwareType0
    from ..models.slurm_request import SlurmRequest


T = TypeVar("T", bound="Requests")


@_attrs_define
class Requests:
    """Resources for a build or a run (Amun's `requests`), plus the hardware spec.

    Attributes:
        cpu (float | None | str | Unset): Cores: 2, 0.5 or '500m'.
        memory (None | str | Unset): Memory with a unit: '4GiB', '512MB'.
        hardware (None | RequestsHardwareType0 | str | Unset): Hardware spec: cpu arch/flags/cores, memory, gpu
            ('H100:2'), accelerators, labels, features, node.
        slurm (None | SlurmRequest | Unset): SLURM partition, qos, account, reservation (SLURM testbeds only).
    """

    cpu: float | None | str | Unset = UNSET
    memory: None | str | Unset = UNSET
    hardware: None | RequestsHardwareType0 | str | Unset = UNSET
    slurm: None | SlurmRequest | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.requests_hardware_type_0 import RequestsHardwareType0  # noqa: PLC0415
        from ..models.slurm_request import SlurmRequest  # noqa: PLC0415

        cpu: float | None | str | Unset
        if isinstance(self.cpu, Unset):
            cpu = UNSET
        else:
            cpu = self.cpu

        memory: None | str | Unset
        if isinstance(self.memory, Unset):
            memory = UNSET
        else:
            memory = self.memory

        hardware: dict[str, Any] | None | str | Unset
        if isinstance(self.hardware, Unset):
            hardware = UNSET
        elif isinstance(self.hardware, RequestsHardwareType0):
            hardware = self.hardware.to_dict()
        else:
            hardware = self.hardware

        slurm: dict[str, Any] | None | Unset
        if isinstance(self.slurm, Unset):
            slurm = UNSET
        elif isinstance(self.slurm, SlurmRequest):
            slurm = self.slurm.to_dict()
        else:
            slurm = self.slurm

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if cpu is not UNSET:
            field_dict["cpu"] = cpu
        if memory is not UNSET:
            field_dict["memory"] = memory
        if hardware is not UNSET:
            field_dict["hardware"] = hardware
        if slurm is not UNSET:
            field_dict["slurm"] = slurm

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.requests_hardware_type_0 import RequestsHardwareType0  # noqa: PLC0415
        from ..models.slurm_request import SlurmRequest  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_cpu(data: object) -> float | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | str | Unset, data)

        cpu = _parse_cpu(d.pop("cpu", UNSET))

        def _parse_memory(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        memory = _parse_memory(d.pop("memory", UNSET))

        def _parse_hardware(data: object) -> None | RequestsHardwareType0 | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                hardware_type_0 = RequestsHardwareType0.from_dict(data)

                return hardware_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RequestsHardwareType0 | str | Unset, data)

        hardware = _parse_hardware(d.pop("hardware", UNSET))

        def _parse_slurm(data: object) -> None | SlurmRequest | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                slurm_type_0 = SlurmRequest.from_dict(data)

                return slurm_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SlurmRequest | Unset, data)

        slurm = _parse_slurm(d.pop("slurm", UNSET))

        requests = cls(
            cpu=cpu,
            memory=memory,
            hardware=hardware,
            slurm=slurm,
        )

        return requests
