"""The two request documents: an inspection (build an environment, then run a script in it
`batch_size` times) and a deployment (run an existing image or executable), validated before
anything runs, from the pieces in shared/schemas.py.

Field names follow Amun's inspection API. Every user string that will later reach a command
line, a file path or a recipe is checked here against a strict grammar, so a bad value is
answered with a 422 naming its field instead of surfacing as a failed run.
"""

from __future__ import annotations

import uuid

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.config import get_settings
from shared.schemas import (
    HOST_BASE,
    MAX_PACKAGES,
    BuildSection,
    FileSpec,
    NativePackage,
    PythonRequirement,
    QueueTimeout,
    Requests,
    Retry,
    RunSection,
    Strict,
    check_environment,
    check_identifier,
    check_image,
    check_testbed_name,
    default_retry,
)
from shared.spec_python import (
    MANAGER_REQUIREMENT,
    PackageManager,
    PythonSection,
    environment_list,
    requirement_name,
)


def _check_image_environment(values: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    """An image carries its variables as ENV lines, where a line break cannot be written."""
    if info.data.get("base", HOST_BASE) != HOST_BASE:
        for name, value in values.items():
            if "\n" in value or "\r" in value:
                raise ValueError(
                    f"{name}: a value with a line break cannot be baked into an image's recipe"
                )
    return values


def _check_batch_size(value: int) -> int:
    limit = get_settings().max_batch_size
    if value > limit:
        raise ValueError(f"batch_size is at most {limit}")
    return value


def _check_script(value: str | None) -> str | None:
    if value is None:
        return None
    limit = get_settings().max_script_bytes
    if len(value.encode()) > limit:
        raise ValueError(f"the script is over the limit of {limit} bytes")
    if not value.strip():
        raise ValueError("the script is empty")
    return value


class InspectionSpec(Strict):
    """Build an environment, then run a script in it `batch_size` times."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "base": "host",
                    "python_packages": ["numpy"],
                    "script": "#!/usr/bin/env python3\nimport json\nprint(json.dumps({'ok': 1}))\n",
                    "batch_size": 2,
                    "run": {"requests": {"hardware": {"cpu": {"flags": ["avx2"]}}}},
                }
            ]
        },
    )

    base: str = Field(description="'host' for the node's own OS, or an image reference.")
    identifier: str | None = None
    packages: list[NativePackage] = Field(
        default_factory=list, max_length=MAX_PACKAGES, description="Native packages."
    )
    python_packages: list[PythonRequirement] = Field(default_factory=list)
    python: PythonSection | None = None
    package_manager: PackageManager | None = Field(
        None,
        description="What installs python.requirements_locked: pip (the default: its wheels "
        "by their hashes), or micropipenv or pipenv (`install --deploy`, each package from "
        "its own index), installed first when python_packages does not name it.",
    )
    files: list[FileSpec] = Field(default_factory=list)
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Variables: a mapping, or Amun's list of {name, value}.",
        examples=[{"OMP_NUM_THREADS": "4"}, [{"name": "OMP_NUM_THREADS", "value": "4"}]],
    )
    script: str | None = Field(
        None,
        description="The script's text, or an https URL it is fetched from at submit (under "
        "a prefix the admin allows: TESSERA_SCRIPT_URL_PREFIXES). Omit it to build only.",
    )
    batch_size: int = Field(1, ge=1)
    allowed_failures: int = Field(
        0, ge=0, description="Runs that may fail while the inspection still succeeds (Amun's)."
    )
    parallelism: int | None = Field(
        None,
        ge=1,
        description="At most this many of its runs at once (Amun's); no limit when omitted.",
    )
    build: BuildSection | None = None
    run: RunSection | None = None
    update: bool = False
    upgrade_pip: bool = False
    testbed: str | None = Field(None, description="Pin to this testbed.")

    _identifier = field_validator("identifier")(check_identifier)
    _testbed = field_validator("testbed")(check_testbed_name)
    _environment_list = field_validator("environment", mode="before")(environment_list)
    _environment = field_validator("environment")(check_environment)
    _image_environment = field_validator("environment")(_check_image_environment)
    _script = field_validator("script")(_check_script)
    _batch_size = field_validator("batch_size")(_check_batch_size)

    @field_validator("base")
    @classmethod
    def _base(cls, value: str) -> str:
        return value if value == HOST_BASE else check_image(value)

    @field_validator("python_packages")
    @classmethod
    def _python_packages(cls, values: list[str]) -> list[str]:
        limit = get_settings().max_python_packages
        if len(values) > limit:
            raise ValueError(f"at most {limit} python packages")
        return values

    @field_validator("files")
    @classmethod
    def _files(cls, values: list[FileSpec]) -> list[FileSpec]:
        limit = get_settings().max_files_bytes
        if sum(len(item.content.encode()) for item in values) > limit:
            raise ValueError(f"files are over the limit of {limit} bytes in all")
        paths = [item.path for item in values]
        if len(set(paths)) != len(paths):
            raise ValueError("two files have the same path")
        return values

    @model_validator(mode="before")
    @classmethod
    def _annotations(cls, data: object) -> object:
        """Keys starting with '@' are annotations (Amun stores '@created' in the document it
        keeps): kept out of the spec, never refused."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if not str(key).startswith("@")}
        return data

    @model_validator(mode="after")
    def _host_is_read_only(self) -> InspectionSpec:
        if self.base == HOST_BASE and self.update:
            raise ValueError("update needs an image base: base 'host' never changes the node's OS")
        return self

    @model_validator(mode="after")
    def _package_manager(self) -> InspectionSpec:
        if self.package_manager is not None and self.python is None:
            raise ValueError("package_manager installs python.requirements_locked: give python")
        if self.python is not None:
            self.python.check_manager(self.package_manager or "pip")
        return self

    def python_tools(self) -> list[str]:
        """python_packages, with the package manager added when they do not name it."""
        tool = MANAGER_REQUIREMENT.get(self.package_manager or "pip")
        names = {requirement_name(line) for line in self.python_packages}
        if tool is None or requirement_name(tool) in names:
            return list(self.python_packages)
        return [*self.python_packages, tool]

    def run_requests(self) -> Requests:
        return (self.run.requests if self.run else None) or Requests()

    def retry_policy(self) -> Retry:
        return (self.run.retry if self.run else None) or default_retry()

    def queue_timeout(self) -> float | None:
        return self.run.queue_timeout_s if self.run else None

    def run_timeout(self) -> int | None:
        return self.run.timeout if self.run else None


class DeploymentSpec(Strict):
    """Run an existing image or a command, without a build."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"command": ["python3", "-c", "print(42)"], "batch_size": 1},
                {"image": "registry.example:5000/app:1.0", "requests": {"hardware": "H100:1"}},
            ]
        },
    )

    identifier: str | None = None
    image: str | None = Field(None, description="An image to run; omit to run on the host.")
    executable: uuid.UUID | None = Field(
        None,
        description="An application's executable (GET /applications/{id}/executables), in "
        "place of image: unpacked into the run's folder, where `command` runs. Placed on a "
        "node compatible with the one it was compiled on.",
    )
    command: list[str] = Field(
        default_factory=list, description="argv, run without a shell.", max_length=1000
    )
    environment: dict[str, str] = Field(default_factory=dict)
    requests: Requests | None = None
    batch_size: int = Field(1, ge=1)
    timeout: int | None = Field(None, ge=1, le=7 * 24 * 3600)
    retry: Retry | None = None
    queue_timeout_s: QueueTimeout = None
    testbed: str | None = None
    deadline: AwareDatetime | None = Field(
        None,
        description="When the runs must be done (ISO time with its zone). On ec2 testbeds a "
        "run goes on-demand once the time left no longer allows another spot try.",
    )

    _identifier = field_validator("identifier")(check_identifier)
    _testbed = field_validator("testbed")(check_testbed_name)
    _environment = field_validator("environment")(check_environment)
    _batch_size = field_validator("batch_size")(_check_batch_size)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image(value)

    @field_validator("command")
    @classmethod
    def _command(cls, values: list[str]) -> list[str]:
        if any("\x00" in value for value in values):
            raise ValueError("an argument cannot contain NUL")
        if sum(len(value.encode()) for value in values) > get_settings().max_script_bytes:
            raise ValueError("the command is over the size limit")
        return values

    @model_validator(mode="after")
    def _something_to_run(self) -> DeploymentSpec:
        if self.image is None and not self.command:
            raise ValueError("give an image, a command, or both")
        if self.executable is not None and (self.image is not None or not self.command):
            raise ValueError("an executable takes a command and no image")
        return self

    def run_requests(self) -> Requests:
        return self.requests or Requests()

    def retry_policy(self) -> Retry:
        return self.retry or default_retry()

    def queue_timeout(self) -> float | None:
        return self.queue_timeout_s

    def run_timeout(self) -> int | None:
        return self.timeout
