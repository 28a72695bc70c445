from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.requests import Requests


T = TypeVar("T", bound="RunSection")


@_attrs_define
class RunSection:
    """
    Attributes:
        requests (None | Requests | Unset):
        timeout (int | None | Unset): Wall time of each run in seconds.
    """

    requests: None | Requests | Unset = UNSET
    timeout: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.requests import Requests  # noqa: PLC0415

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

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if requests is not UNSET:
            field_dict["requests"] = requests
        if timeout is not UNSET:
            field_dict["timeout"] = timeout

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.requests import Requests  # noqa: PLC0415

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

        run_section = cls(
            requests=requests,
            timeout=timeout,
        )

        return run_section
