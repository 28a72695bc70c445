from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.build_configuration_package import BuildConfigurationPackage
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.build_configuration_environment import BuildConfigurationEnvironment
    from ..models.build_configuration_hardware_type_0 import BuildConfigurationHardwareType0


T = TypeVar("T", bound="BuildConfiguration")


@_attrs_define
class BuildConfiguration:
    """One target configuration: where to compile, how, and what to keep.

    Attributes:
        name (str): The configuration's name, unique in the request.
        build_script (list[str] | str): argv run in the unpacked source (no shell), or a script's text (run by /bin/sh
            as a file).
        artifacts (list[str]): Globs under the source folder.
        hardware (BuildConfigurationHardwareType0 | None | str | Unset): Hardware spec of the build node, as a run's:
            {'cpu': {'flags': ['avx2']}}, 'H100:1', {'cpu': {'arch': 'aarch64'}}.
        base (str | Unset): 'host' (the node's toolchain) or an image. Default: 'host'.
        packages (list[str] | Unset): Native packages the node must have.
        package (BuildConfigurationPackage | Unset): How the artifacts are packaged: one tar.gz, or an OCI image (the
            base, or TESSERA_APP_IMAGE_BASE for 'host', with the artifacts in /opt/tessera/app). Default:
            BuildConfigurationPackage.TAR_GZ.
        environment (BuildConfigurationEnvironment | Unset):
        timeout (int | None | Unset): Seconds.
        testbed (None | str | Unset):
    """

    name: str
    build_script: list[str] | str
    artifacts: list[str]
    hardware: BuildConfigurationHardwareType0 | None | str | Unset = UNSET
    base: str | Unset = "host"
    packages: list[str] | Unset = UNSET
    package: BuildConfigurationPackage | Unset = BuildConfigurationPackage.TAR_GZ
    environment: BuildConfigurationEnvironment | Unset = UNSET
    timeout: int | None | Unset = UNSET
    testbed: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.build_configuration_hardware_type_0 import BuildConfigurationHardwareType0  # noqa: PLC0415

        name = self.name

        build_script: list[str] | str
        if isinstance(self.build_script, list):
            build_script = self.build_script

        else:
            build_script = self.build_script

        artifacts = self.artifacts

        hardware: dict[str, Any] | None | str | Unset
        if isinstance(self.hardware, Unset):
            hardware = UNSET
        elif isinstance(self.hardware, BuildConfigurationHardwareType0):
            hardware = self.hardware.to_dict()
        else:
            hardware = self.hardware

        base = self.base

        packages: list[str] | Unset = UNSET
        if not isinstance(self.packages, Unset):
            packages = self.packages

        package: str | Unset = UNSET
        if not isinstance(self.package, Unset):
            package = self.package.value

        environment: dict[str, Any] | Unset = UNSET
        if not isinstance(self.environment, Unset):
            environment = self.environment.to_dict()

        timeout: int | None | Unset
        if isinstance(self.timeout, Unset):
            timeout = UNSET
        else:
            timeout = self.timeout

        testbed: None | str | Unset
        if isinstance(self.testbed, Unset):
            testbed = UNSET
        else:
            testbed = self.testbed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "build_script": build_script,
                "artifacts": artifacts,
            }
        )
        if hardware is not UNSET:
            field_dict["hardware"] = hardware
        if base is not UNSET:
            field_dict["base"] = base
        if packages is not UNSET:
            field_dict["packages"] = packages
        if package is not UNSET:
            field_dict["package"] = package
        if environment is not UNSET:
            field_dict["environment"] = environment
        if timeout is not UNSET:
            field_dict["timeout"] = timeout
        if testbed is not UNSET:
            field_dict["testbed"] = testbed

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.build_configuration_environment import BuildConfigurationEnvironment  # noqa: PLC0415
        from ..models.build_configuration_hardware_type_0 import BuildConfigurationHardwareType0  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        def _parse_build_script(data: object) -> list[str] | str:
            try:
                if not isinstance(data, list):
                    raise TypeError()
                build_script_type_0 = cast(list[str], data)

                return build_script_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | str, data)

        build_script = _parse_build_script(d.pop("build_script"))

        artifacts = cast(list[str], d.pop("artifacts"))

        def _parse_hardware(data: object) -> BuildConfigurationHardwareType0 | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                hardware_type_0 = BuildConfigurationHardwareType0.from_dict(data)

                return hardware_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BuildConfigurationHardwareType0 | None | str | Unset, data)

        hardware = _parse_hardware(d.pop("hardware", UNSET))

        base = d.pop("base", UNSET)

        packages = cast(list[str], d.pop("packages", UNSET))

        _package = d.pop("package", UNSET)
        package: BuildConfigurationPackage | Unset
        if isinstance(_package, Unset):
            package = UNSET
        else:
            package = BuildConfigurationPackage(_package)

        _environment = d.pop("environment", UNSET)
        environment: BuildConfigurationEnvironment | Unset
        if isinstance(_environment, Unset):
            environment = UNSET
        else:
            environment = BuildConfigurationEnvironment.from_dict(_environment)

        def _parse_timeout(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout = _parse_timeout(d.pop("timeout", UNSET))

        def _parse_testbed(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        testbed = _parse_testbed(d.pop("testbed", UNSET))

        build_configuration = cls(
            name=name,
            build_script=build_script,
            artifacts=artifacts,
            hardware=hardware,
            base=base,
            packages=packages,
            package=package,
            environment=environment,
            timeout=timeout,
            testbed=testbed,
        )

        return build_configuration
