from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.executable_out_artifact_type_0 import ExecutableOutArtifactType0
    from ..models.executable_out_hwinfo_type_0 import ExecutableOutHwinfoType0


T = TypeVar("T", bound="ExecutableOut")


@_attrs_define
class ExecutableOut:
    """
    Attributes:
        executable_id (UUID):
        application_id (UUID):
        configuration (str):
        state (str):
        state_reason (None | str):
        cached (bool):
        package (str):
        source_digest (str):
        build_hash (str):
        deployment_id (None | UUID):
        testbed (None | str):
        node (None | str):
        hwinfo (ExecutableOutHwinfoType0 | None):
        artifact (ExecutableOutArtifactType0 | None):
        image (None | str): The image reference (`package: image`).
        created_at (datetime.datetime):
        finished_at (datetime.datetime | None):
    """

    executable_id: UUID
    application_id: UUID
    configuration: str
    state: str
    state_reason: None | str
    cached: bool
    package: str
    source_digest: str
    build_hash: str
    deployment_id: None | UUID
    testbed: None | str
    node: None | str
    hwinfo: ExecutableOutHwinfoType0 | None
    artifact: ExecutableOutArtifactType0 | None
    image: None | str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.executable_out_artifact_type_0 import ExecutableOutArtifactType0  # noqa: PLC0415
        from ..models.executable_out_hwinfo_type_0 import ExecutableOutHwinfoType0  # noqa: PLC0415

        executable_id = str(self.executable_id)

        application_id = str(self.application_id)

        configuration = self.configuration

        state = self.state

        state_reason: None | str
        state_reason = self.state_reason

        cached = self.cached

        package = self.package

        source_digest = self.source_digest

        build_hash = self.build_hash

        deployment_id: None | str
        if isinstance(self.deployment_id, UUID):
            deployment_id = str(self.deployment_id)
        else:
            deployment_id = self.deployment_id

        testbed: None | str
        testbed = self.testbed

        node: None | str
        node = self.node

        hwinfo: dict[str, Any] | None
        if isinstance(self.hwinfo, ExecutableOutHwinfoType0):
            hwinfo = self.hwinfo.to_dict()
        else:
            hwinfo = self.hwinfo

        artifact: dict[str, Any] | None
        if isinstance(self.artifact, ExecutableOutArtifactType0):
            artifact = self.artifact.to_dict()
        else:
            artifact = self.artifact

        image: None | str
        image = self.image

        created_at = self.created_at.isoformat()

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "executable_id": executable_id,
                "application_id": application_id,
                "configuration": configuration,
                "state": state,
                "state_reason": state_reason,
                "cached": cached,
                "package": package,
                "source_digest": source_digest,
                "build_hash": build_hash,
                "deployment_id": deployment_id,
                "testbed": testbed,
                "node": node,
                "hwinfo": hwinfo,
                "artifact": artifact,
                "image": image,
                "created_at": created_at,
                "finished_at": finished_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.executable_out_artifact_type_0 import ExecutableOutArtifactType0  # noqa: PLC0415
        from ..models.executable_out_hwinfo_type_0 import ExecutableOutHwinfoType0  # noqa: PLC0415

        d = dict(src_dict)
        executable_id = UUID(d.pop("executable_id"))

        application_id = UUID(d.pop("application_id"))

        configuration = d.pop("configuration")

        state = d.pop("state")

        def _parse_state_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        state_reason = _parse_state_reason(d.pop("state_reason"))

        cached = d.pop("cached")

        package = d.pop("package")

        source_digest = d.pop("source_digest")

        build_hash = d.pop("build_hash")

        def _parse_deployment_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                deployment_id_type_0 = UUID(data)

                return deployment_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        deployment_id = _parse_deployment_id(d.pop("deployment_id"))

        def _parse_testbed(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        testbed = _parse_testbed(d.pop("testbed"))

        def _parse_node(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        node = _parse_node(d.pop("node"))

        def _parse_hwinfo(data: object) -> ExecutableOutHwinfoType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                hwinfo_type_0 = ExecutableOutHwinfoType0.from_dict(data)

                return hwinfo_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ExecutableOutHwinfoType0 | None, data)

        hwinfo = _parse_hwinfo(d.pop("hwinfo"))

        def _parse_artifact(data: object) -> ExecutableOutArtifactType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                artifact_type_0 = ExecutableOutArtifactType0.from_dict(data)

                return artifact_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ExecutableOutArtifactType0 | None, data)

        artifact = _parse_artifact(d.pop("artifact"))

        def _parse_image(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        image = _parse_image(d.pop("image"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_finished_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        finished_at = _parse_finished_at(d.pop("finished_at"))

        executable_out = cls(
            executable_id=executable_id,
            application_id=application_id,
            configuration=configuration,
            state=state,
            state_reason=state_reason,
            cached=cached,
            package=package,
            source_digest=source_digest,
            build_hash=build_hash,
            deployment_id=deployment_id,
            testbed=testbed,
            node=node,
            hwinfo=hwinfo,
            artifact=artifact,
            image=image,
            created_at=created_at,
            finished_at=finished_at,
        )

        executable_out.additional_properties = d
        return executable_out

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
