from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.retry_on_item import RetryOnItem
from ..types import UNSET, Unset

T = TypeVar("T", bound="Retry")


@_attrs_define
class Retry:
    """When a run is placed again, and how often: each placement is an attempt.

    Attributes:
        attempts (int | Unset): Attempts in all (1: none is retried); withdrawn ones are free. Default: 1.
        on (list[RetryOnItem] | Unset): lost: its node stopped answering or its process vanished; failed: it ended with
            an error, a non-zero exit or its timeout; no_capacity: it waited past queue_timeout_s; interrupted: the testbed
            took its node back.
        backoff_s (float | Unset): Wait before the next attempt. Default: 0.0.
    """

    attempts: int | Unset = 1
    on: list[RetryOnItem] | Unset = UNSET
    backoff_s: float | Unset = 0.0

    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        on: list[str] | Unset = UNSET
        if not isinstance(self.on, Unset):
            on = []
            for on_item_data in self.on:
                on_item = on_item_data.value
                on.append(on_item)

        backoff_s = self.backoff_s

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if attempts is not UNSET:
            field_dict["attempts"] = attempts
        if on is not UNSET:
            field_dict["on"] = on
        if backoff_s is not UNSET:
            field_dict["backoff_s"] = backoff_s

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempts = d.pop("attempts", UNSET)

        _on = d.pop("on", UNSET)
        on: list[RetryOnItem] | Unset = UNSET
        if _on is not UNSET:
            on = []
            for on_item_data in _on:
                on_item = RetryOnItem(on_item_data)

                on.append(on_item)

        backoff_s = d.pop("backoff_s", UNSET)

        retry = cls(
            attempts=attempts,
            on=on,
            backoff_s=backoff_s,
        )

        return retry
