from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.executable_task_environment import ExecutableTaskEnvironment
    from ..models.executable_task_hardware_type_0 import ExecutableTaskHardwareType0
    from ..models.requests import Requests
    from ..models.retry import Retry


T = TypeVar("T", bound="ExecutableTask")


@_attrs_define
class ExecutableTask:
    """An application's compiled executable, unpacked in each copy's run folder, where
    `command` runs (a deployment of the executable, as POST /deployments makes).

        Attributes:
            id (UUID): The executable (GET /applications/{id}/executables).
            command (list[str]): argv, run without a shell, in the folder.
            environment (ExecutableTaskEnvironment | Unset):
            hardware (ExecutableTaskHardwareType0 | None | str | Unset): Shorthand for requests.hardware; narrowed to fit
                the build node.
            requests (None | Requests | Unset):
            timeout (int | None | Unset):
            retry (None | Retry | Unset):
            testbed (None | str | Unset):
    """

    id: UUID
    command: list[str]
    environment: ExecutableTaskEnvironment | Unset = UNSET
    hardware: ExecutableTaskHardwareType0 | None | str | Unset = UNSET
    requests: None | Requests | Unset = UNSET
    timeout: int | None | Unset = UNSET
    retry: None | Retry | Unset = UNSET
    testbed: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.executable_task_hardware_type_0 import ExecutableTaskHardwareType0  # noqa: PLC0415
        from ..models.requests import Requests  # noqa: PLC0415
        from ..models.retry import Retry  # noqa: PLC0415

        id = str(self.id)

        command = self.command

        environment: dict[str, Any] | Unset = UNSET
        if not isinstance(self.environment, Unset):
            environment = self.environment.to_dict()

        hardware: dict[str, Any] | None | str | Unset
        if isinstance(self.hardware, Unset):
            hardware = UNSET
        elif isinstance(self.hardware, ExecutableTaskHardwareType0):
            hardware = self.hardware.to_dict()
        else:
            hardware = self.hardware

        requests: dict[str, Any] | None | Unset
        if isinstance(self.requests, Unset):
            requests = UNSET
        elif isinstance(self.requests, Requests):
            requests = self.requests.to_dict()
        else:
            requests = self.requests

        timeout: int | None | Unset
        if isinstance(self.timeout, Unset):
            timeout = UNSET
        else:
            timeout = self.timeout

        retry: dict[str, Any] | None | Unset
        if isinstance(self.retry, Unset):
            retry = UNSET
        elif isinstance(self.retry, Retry):
            retry = self.retry.to_dict()
        else:
            retry = self.retry

        testbed: None | str | Unset
        if isinstance(self.testbed, Unset):
            testbed = UNSET
        else:
            testbed = self.testbed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "command": command,
            }
        )
        if environment is not UNSET:
            field_dict["environment"] = environment
        if hardware is not UNSET:
            field_dict["hardware"] = hardware
        if requests is not UNSET:
            field_dict["requests"] = requests
        if timeout is not UNSET:
            field_dict["timeout"] = timeout
        if retry is not UNSET:
            field_dict["retry"] = retry
        if testbed is not UNSET:
            field_dict["testbed"] = testbed

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.executable_task_environment import ExecutableTaskEnvironment  # noqa: PLC0415
        from ..models.executable_task_hardware_type_0 import ExecutableTaskHardwareType0  # noqa: PLC0415
        from ..models.requests import Requests  # noqa: PLC0415
        from ..models.retry import Retry  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        command = cast(list[str], d.pop("command"))

        _environment = d.pop("environment", UNSET)
        environment: ExecutableTaskEnvironment | Unset
        if isinstance(_environment, Unset):
            environment = UNSET
        else:
            environment = ExecutableTaskEnvironment.from_dict(_environment)

        def _parse_hardware(data: object) -> ExecutableTaskHardwareType0 | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                hardware_type_0 = ExecutableTaskHardwareType0.from_dict(data)

                return hardware_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ExecutableTaskHardwareType0 | None | str | Unset, data)

        hardware = _parse_hardware(d.pop("hardware", UNSET))

        def _parse_requests(data: object) -> None | Requests | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                requests_type_0 = Requests.from_dict(data)

                return requests_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Requests | Unset, data)

        requests = _parse_requests(d.pop("requests", UNSET))

        def _parse_timeout(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout = _parse_timeout(d.pop("timeout", UNSET))

        def _parse_retry(data: object) -> None | Retry | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                retry_type_0 = Retry.from_dict(data)

                return retry_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Retry | Unset, data)

        retry = _parse_retry(d.pop("retry", UNSET))

        def _parse_testbed(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        testbed = _parse_testbed(d.pop("testbed", UNSET))

        executable_task = cls(
            id=id,
            command=command,
            environment=environment,
            hardware=hardware,
            requests=requests,
            timeout=timeout,
            retry=retry,
            testbed=testbed,
        )

        return executable_task
