from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.deployment_spec_environment import DeploymentSpecEnvironment
    from ..models.requests import Requests
    from ..models.retry import Retry


T = TypeVar("T", bound="DeploymentSpec")


@_attrs_define
class DeploymentSpec:
    """Run an existing image or a command, without a build.

    Attributes:
        identifier (None | str | Unset):
        image (None | str | Unset): An image to run; omit to run on the host.
        executable (None | Unset | UUID): An application's executable (GET /applications/{id}/executables), in place of
            image: unpacked into the run's folder, where `command` runs. Placed on a node compatible with the one it was
            compiled on.
        command (list[str] | Unset): argv, run without a shell.
        environment (DeploymentSpecEnvironment | Unset):
        requests (None | Requests | Unset):
        batch_size (int | Unset):  Default: 1.
        timeout (int | None | Unset):
        retry (None | Retry | Unset):
        queue_timeout_s (float | None | Unset): Seconds a run may wait in a testbed's queue before it is withdrawn and
            placed elsewhere (with no_capacity in retry.on).
        testbed (None | str | Unset):
        deadline (datetime.datetime | None | Unset): When the runs must be done (ISO time with its zone). On ec2
            testbeds a run goes on-demand once the time left no longer allows another spot try.
    """

    identifier: None | str | Unset = UNSET
    image: None | str | Unset = UNSET
    executable: None | Unset | UUID = UNSET
    command: list[str] | Unset = UNSET
    environment: DeploymentSpecEnvironment | Unset = UNSET
    requests: None | Requests | Unset = UNSET
    batch_size: int | Unset = 1
    timeout: int | None | Unset = UNSET
    retry: None | Retry | Unset = UNSET
    queue_timeout_s: float | None | Unset = UNSET
    testbed: None | str | Unset = UNSET
    deadline: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.requests import Requests  # noqa: PLC0415
        from ..models.retry import Retry  # noqa: PLC0415

        identifier: None | str | Unset
        if isinstance(self.identifier, Unset):
            identifier = UNSET
        else:
            identifier = self.identifier

        image: None | str | Unset
        if isinstance(self.image, Unset):
            image = UNSET
        else:
            image = self.image

        executable: None | str | Unset
        if isinstance(self.executable, Unset):
            executable = UNSET
        elif isinstance(self.executable, UUID):
            executable = str(self.executable)
        else:
            executable = self.executable

        command: list[str] | Unset = UNSET
        if not isinstance(self.command, Unset):
            command = self.command

        environment: dict[str, Any] | Unset = UNSET
        if not isinstance(self.environment, Unset):
            environment = self.environment.to_dict()

        requests: dict[str, Any] | None | Unset
        if isinstance(self.requests, Unset):
            requests = UNSET
        elif isinstance(self.requests, Requests):
            requests = self.requests.to_dict()
        else:
            requests = self.requests

        batch_size = self.batch_size

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

        queue_timeout_s: float | None | Unset
        if isinstance(self.queue_timeout_s, Unset):
            queue_timeout_s = UNSET
        else:
            queue_timeout_s = self.queue_timeout_s

        testbed: None | str | Unset
        if isinstance(self.testbed, Unset):
            testbed = UNSET
        else:
            testbed = self.testbed

        deadline: None | str | Unset
        if isinstance(self.deadline, Unset):
            deadline = UNSET
        elif isinstance(self.deadline, datetime.datetime):
            deadline = self.deadline.isoformat()
        else:
            deadline = self.deadline

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if identifier is not UNSET:
            field_dict["identifier"] = identifier
        if image is not UNSET:
            field_dict["image"] = image
        if executable is not UNSET:
            field_dict["executable"] = executable
        if command is not UNSET:
            field_dict["command"] = command
        if environment is not UNSET:
            field_dict["environment"] = environment
        if requests is not UNSET:
            field_dict["requests"] = requests
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size
        if timeout is not UNSET:
            field_dict["timeout"] = timeout
        if retry is not UNSET:
            field_dict["retry"] = retry
        if queue_timeout_s is not UNSET:
            field_dict["queue_timeout_s"] = queue_timeout_s
        if testbed is not UNSET:
            field_dict["testbed"] = testbed
        if deadline is not UNSET:
            field_dict["deadline"] = deadline

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.deployment_spec_environment import DeploymentSpecEnvironment  # noqa: PLC0415
        from ..models.requests import Requests  # noqa: PLC0415
        from ..models.retry import Retry  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_identifier(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        identifier = _parse_identifier(d.pop("identifier", UNSET))

        def _parse_image(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        image = _parse_image(d.pop("image", UNSET))

        def _parse_executable(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                executable_type_0 = UUID(data)

                return executable_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        executable = _parse_executable(d.pop("executable", UNSET))

        command = cast(list[str], d.pop("command", UNSET))

        _environment = d.pop("environment", UNSET)
        environment: DeploymentSpecEnvironment | Unset
        if isinstance(_environment, Unset):
            environment = UNSET
        else:
            environment = DeploymentSpecEnvironment.from_dict(_environment)

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

        batch_size = d.pop("batch_size", UNSET)

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

        def _parse_queue_timeout_s(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        queue_timeout_s = _parse_queue_timeout_s(d.pop("queue_timeout_s", UNSET))

        def _parse_testbed(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        testbed = _parse_testbed(d.pop("testbed", UNSET))

        def _parse_deadline(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                deadline_type_0 = datetime.datetime.fromisoformat(data)

                return deadline_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        deadline = _parse_deadline(d.pop("deadline", UNSET))

        deployment_spec = cls(
            identifier=identifier,
            image=image,
            executable=executable,
            command=command,
            environment=environment,
            requests=requests,
            batch_size=batch_size,
            timeout=timeout,
            retry=retry,
            queue_timeout_s=queue_timeout_s,
            testbed=testbed,
            deadline=deadline,
        )

        return deployment_spec
