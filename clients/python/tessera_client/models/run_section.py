from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.requests import Requests
    from ..models.retry import Retry


T = TypeVar("T", bound="RunSection")


@_attrs_define
class RunSection:
    """
    Attributes:
        requests (None | Requests | Unset):
        timeout (int | None | Unset): Wall time of each run in seconds.
        retry (None | Retry | Unset):
        queue_timeout_s (float | None | Unset): Seconds a run may wait in a testbed's queue before it is withdrawn and
            placed elsewhere (with no_capacity in retry.on).
    """

    requests: None | Requests | Unset = UNSET
    timeout: int | None | Unset = UNSET
    retry: None | Retry | Unset = UNSET
    queue_timeout_s: float | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.requests import Requests  # noqa: PLC0415
        from ..models.retry import Retry  # noqa: PLC0415

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

        queue_timeout_s: float | None | Unset
        if isinstance(self.queue_timeout_s, Unset):
            queue_timeout_s = UNSET
        else:
            queue_timeout_s = self.queue_timeout_s

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if requests is not UNSET:
            field_dict["requests"] = requests
        if timeout is not UNSET:
            field_dict["timeout"] = timeout
        if retry is not UNSET:
            field_dict["retry"] = retry
        if queue_timeout_s is not UNSET:
            field_dict["queue_timeout_s"] = queue_timeout_s

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.requests import Requests  # noqa: PLC0415
        from ..models.retry import Retry  # noqa: PLC0415

        d = dict(src_dict)

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

        def _parse_queue_timeout_s(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        queue_timeout_s = _parse_queue_timeout_s(d.pop("queue_timeout_s", UNSET))

        run_section = cls(
            requests=requests,
            timeout=timeout,
            retry=retry,
            queue_timeout_s=queue_timeout_s,
        )

        return run_section
