from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.retry import Retry
    from ..models.stage_spec import StageSpec


T = TypeVar("T", bound="WorkflowSpec")


@_attrs_define
class WorkflowSpec:
    """A DAG of stages; tasks are placed only once their stage's dependencies succeeded.

    Attributes:
        name (str):
        stages (list[StageSpec]):
        testbeds (list[str] | None | Unset): Testbeds its tasks may go to; any when omitted.
        retry (None | Retry | Unset): Each task's policy unless it names one; `on` defaults to lost, failed and
            interrupted. Without it a task is retried only when its testbed is lost.
        max_parallel (int | None | Unset): At most this many task copies queued or running at once.
    """

    name: str
    stages: list[StageSpec]
    testbeds: list[str] | None | Unset = UNSET
    retry: None | Retry | Unset = UNSET
    max_parallel: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.retry import Retry  # noqa: PLC0415

        name = self.name

        stages = []
        for stages_item_data in self.stages:
            stages_item = stages_item_data.to_dict()
            stages.append(stages_item)

        testbeds: list[str] | None | Unset
        if isinstance(self.testbeds, Unset):
            testbeds = UNSET
        elif isinstance(self.testbeds, list):
            testbeds = self.testbeds

        else:
            testbeds = self.testbeds

        retry: dict[str, Any] | None | Unset
        if isinstance(self.retry, Unset):
            retry = UNSET
        elif isinstance(self.retry, Retry):
            retry = self.retry.to_dict()
        else:
            retry = self.retry

        max_parallel: int | None | Unset
        if isinstance(self.max_parallel, Unset):
            max_parallel = UNSET
        else:
            max_parallel = self.max_parallel

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "stages": stages,
            }
        )
        if testbeds is not UNSET:
            field_dict["testbeds"] = testbeds
        if retry is not UNSET:
            field_dict["retry"] = retry
        if max_parallel is not UNSET:
            field_dict["max_parallel"] = max_parallel

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.retry import Retry  # noqa: PLC0415
        from ..models.stage_spec import StageSpec  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        stages = []
        _stages = d.pop("stages")
        for stages_item_data in _stages:
            stages_item = StageSpec.from_dict(stages_item_data)

            stages.append(stages_item)

        def _parse_testbeds(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                testbeds_type_0 = cast(list[str], data)

                return testbeds_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        testbeds = _parse_testbeds(d.pop("testbeds", UNSET))

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

        def _parse_max_parallel(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_parallel = _parse_max_parallel(d.pop("max_parallel", UNSET))

        workflow_spec = cls(
            name=name,
            stages=stages,
            testbeds=testbeds,
            retry=retry,
            max_parallel=max_parallel,
        )

        return workflow_spec
