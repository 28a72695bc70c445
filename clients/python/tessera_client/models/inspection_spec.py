from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.inspection_spec_package_manager_type_0 import InspectionSpecPackageManagerType0
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.build_section import BuildSection
    from ..models.file_spec import FileSpec
    from ..models.inspection_spec_environment import InspectionSpecEnvironment
    from ..models.python_section import PythonSection
    from ..models.run_section import RunSection


T = TypeVar("T", bound="InspectionSpec")


@_attrs_define
class InspectionSpec:
    """Build an environment, then run a script in it `batch_size` times.

    Attributes:
        base (str): 'host' for the node's own OS, or an image reference.
        identifier (None | str | Unset):
        packages (list[str] | Unset): Native packages.
        python_packages (list[str] | Unset):
        python (None | PythonSection | Unset):
        package_manager (InspectionSpecPackageManagerType0 | None | Unset): What installs python.requirements_locked:
            pip (the default: its wheels by their hashes), or micropipenv or pipenv (`install --deploy`, each package from
            its own index), installed first when python_packages does not name it.
        files (list[FileSpec] | Unset):
        environment (InspectionSpecEnvironment | Unset): Variables: a mapping, or Amun's list of {name, value}.
        script (None | str | Unset): The script's text, or an https URL it is fetched from at submit (under a prefix the
            admin allows: TESSERA_SCRIPT_URL_PREFIXES). Omit it to build only.
        batch_size (int | Unset):  Default: 1.
        allowed_failures (int | Unset): Runs that may fail while the inspection still succeeds (Amun's). Default: 0.
        parallelism (int | None | Unset): At most this many of its runs at once (Amun's); no limit when omitted.
        build (BuildSection | None | Unset):
        run (None | RunSection | Unset):
        update (bool | Unset):  Default: False.
        upgrade_pip (bool | Unset):  Default: False.
        testbed (None | str | Unset): Pin to this testbed.
    """

    base: str
    identifier: None | str | Unset = UNSET
    packages: list[str] | Unset = UNSET
    python_packages: list[str] | Unset = UNSET
    python: None | PythonSection | Unset = UNSET
    package_manager: InspectionSpecPackageManagerType0 | None | Unset = UNSET
    files: list[FileSpec] | Unset = UNSET
    environment: InspectionSpecEnvironment | Unset = UNSET
    script: None | str | Unset = UNSET
    batch_size: int | Unset = 1
    allowed_failures: int | Unset = 0
    parallelism: int | None | Unset = UNSET
    build: BuildSection | None | Unset = UNSET
    run: None | RunSection | Unset = UNSET
    update: bool | Unset = False
    upgrade_pip: bool | Unset = False
    testbed: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.build_section import BuildSection  # noqa: PLC0415
        from ..models.python_section import PythonSection  # noqa: PLC0415
        from ..models.run_section import RunSection  # noqa: PLC0415

        base = self.base

        identifier: None | str | Unset
        if isinstance(self.identifier, Unset):
            identifier = UNSET
        else:
            identifier = self.identifier

        packages: list[str] | Unset = UNSET
        if not isinstance(self.packages, Unset):
            packages = self.packages

        python_packages: list[str] | Unset = UNSET
        if not isinstance(self.python_packages, Unset):
            python_packages = self.python_packages

        python: dict[str, Any] | None | Unset
        if isinstance(self.python, Unset):
            python = UNSET
        elif isinstance(self.python, PythonSection):
            python = self.python.to_dict()
        else:
            python = self.python

        package_manager: None | str | Unset
        if isinstance(self.package_manager, Unset):
            package_manager = UNSET
        elif isinstance(self.package_manager, InspectionSpecPackageManagerType0):
            package_manager = self.package_manager.value
        else:
            package_manager = self.package_manager

        files: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.files, Unset):
            files = []
            for files_item_data in self.files:
                files_item = files_item_data.to_dict()
                files.append(files_item)

        environment: dict[str, Any] | Unset = UNSET
        if not isinstance(self.environment, Unset):
            environment = self.environment.to_dict()

        script: None | str | Unset
        if isinstance(self.script, Unset):
            script = UNSET
        else:
            script = self.script

        batch_size = self.batch_size

        allowed_failures = self.allowed_failures

        parallelism: int | None | Unset
        if isinstance(self.parallelism, Unset):
            parallelism = UNSET
        else:
            parallelism = self.parallelism

        build: dict[str, Any] | None | Unset
        if isinstance(self.build, Unset):
            build = UNSET
        elif isinstance(self.build, BuildSection):
            build = self.build.to_dict()
        else:
            build = self.build

        run: dict[str, Any] | None | Unset
        if isinstance(self.run, Unset):
            run = UNSET
        elif isinstance(self.run, RunSection):
            run = self.run.to_dict()
        else:
            run = self.run

        update = self.update

        upgrade_pip = self.upgrade_pip

        testbed: None | str | Unset
        if isinstance(self.testbed, Unset):
            testbed = UNSET
        else:
            testbed = self.testbed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "base": base,
            }
        )
        if identifier is not UNSET:
            field_dict["identifier"] = identifier
        if packages is not UNSET:
            field_dict["packages"] = packages
        if python_packages is not UNSET:
            field_dict["python_packages"] = python_packages
        if python is not UNSET:
            field_dict["python"] = python
        if package_manager is not UNSET:
            field_dict["package_manager"] = package_manager
        if files is not UNSET:
            field_dict["files"] = files
        if environment is not UNSET:
            field_dict["environment"] = environment
        if script is not UNSET:
            field_dict["script"] = script
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size
        if allowed_failures is not UNSET:
            field_dict["allowed_failures"] = allowed_failures
        if parallelism is not UNSET:
            field_dict["parallelism"] = parallelism
        if build is not UNSET:
            field_dict["build"] = build
        if run is not UNSET:
            field_dict["run"] = run
        if update is not UNSET:
            field_dict["update"] = update
        if upgrade_pip is not UNSET:
            field_dict["upgrade_pip"] = upgrade_pip
        if testbed is not UNSET:
            field_dict["testbed"] = testbed

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.build_section import BuildSection  # noqa: PLC0415
        from ..models.file_spec import FileSpec  # noqa: PLC0415
        from ..models.inspection_spec_environment import InspectionSpecEnvironment  # noqa: PLC0415
        from ..models.python_section import PythonSection  # noqa: PLC0415
        from ..models.run_section import RunSection  # noqa: PLC0415

        d = dict(src_dict)
        base = d.pop("base")

        def _parse_identifier(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        identifier = _parse_identifier(d.pop("identifier", UNSET))

        packages = cast(list[str], d.pop("packages", UNSET))

        python_packages = cast(list[str], d.pop("python_packages", UNSET))

        def _parse_python(data: object) -> None | PythonSection | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                python_type_0 = PythonSection.from_dict(data)

                return python_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PythonSection | Unset, data)

        python = _parse_python(d.pop("python", UNSET))

        def _parse_package_manager(data: object) -> InspectionSpecPackageManagerType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                package_manager_type_0 = InspectionSpecPackageManagerType0(data)

                return package_manager_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(InspectionSpecPackageManagerType0 | None | Unset, data)

        package_manager = _parse_package_manager(d.pop("package_manager", UNSET))

        _files = d.pop("files", UNSET)
        files: list[FileSpec] | Unset = UNSET
        if _files is not UNSET:
            files = []
            for files_item_data in _files:
                files_item = FileSpec.from_dict(files_item_data)

                files.append(files_item)

        _environment = d.pop("environment", UNSET)
        environment: InspectionSpecEnvironment | Unset
        if isinstance(_environment, Unset):
            environment = UNSET
        else:
            environment = InspectionSpecEnvironment.from_dict(_environment)

        def _parse_script(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        script = _parse_script(d.pop("script", UNSET))

        batch_size = d.pop("batch_size", UNSET)

        allowed_failures = d.pop("allowed_failures", UNSET)

        def _parse_parallelism(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        parallelism = _parse_parallelism(d.pop("parallelism", UNSET))

        def _parse_build(data: object) -> BuildSection | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                build_type_0 = BuildSection.from_dict(data)

                return build_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BuildSection | None | Unset, data)

        build = _parse_build(d.pop("build", UNSET))

        def _parse_run(data: object) -> None | RunSection | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                run_type_0 = RunSection.from_dict(data)

                return run_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunSection | Unset, data)

        run = _parse_run(d.pop("run", UNSET))

        update = d.pop("update", UNSET)

        upgrade_pip = d.pop("upgrade_pip", UNSET)

        def _parse_testbed(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        testbed = _parse_testbed(d.pop("testbed", UNSET))

        inspection_spec = cls(
            base=base,
            identifier=identifier,
            packages=packages,
            python_packages=python_packages,
            python=python,
            package_manager=package_manager,
            files=files,
            environment=environment,
            script=script,
            batch_size=batch_size,
            allowed_failures=allowed_failures,
            parallelism=parallelism,
            build=build,
            run=run,
            update=update,
            upgrade_pip=upgrade_pip,
            testbed=testbed,
        )

        return inspection_spec
