from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RunLinks")


@_attrs_define
class RunLinks:
    """Presigned links to a run's stored log and result, where the artifact store has them
    (S3); null on the filesystem store, whose files the log and result endpoints serve.

        Attributes:
            log (None | str): GET this for the log (no token needed).
            result (None | str): GET this for the result JSON, once it is there.
            expires_in_s (int): How long the links work.
    """

    log: None | str
    result: None | str
    expires_in_s: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        log: None | str
        log = self.log

        result: None | str
        result = self.result

        expires_in_s = self.expires_in_s

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "log": log,
                "result": result,
                "expires_in_s": expires_in_s,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_log(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        log = _parse_log(d.pop("log"))

        def _parse_result(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        result = _parse_result(d.pop("result"))

        expires_in_s = d.pop("expires_in_s")

        run_links = cls(
            log=log,
            result=result,
            expires_in_s=expires_in_s,
        )

        run_links.additional_properties = d
        return run_links

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
