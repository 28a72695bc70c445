from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.requests import Requests


T = TypeVar("T", bound="BuildSection")


@_attrs_define
class BuildSection:
    """
    Attributes:
        requests (None | Requests | Unset):
    """

    requests: None | Requests | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.requests import Requests  # noqa: PLC0415

        requests: dict[str, Any] | None | Unset
        if isinstance(self.requests, Unset):
            requests = UNSET
        elif isinstance(self.requests, Requests):
            requests = self.requests.to_dict()
        else:
            requests = self.requests

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if requests is not UNSET:
            field_dict["requests"] = requests

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

        build_section = cls(
            requests=requests,
        )

        return build_section
