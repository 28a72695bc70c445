"""The pieces of what users send (shared/specs.py puts them together as inspections and
deployments; applications and workflows use them too): what a run requests of the hardware
and its scheduler, its retry policy, its files, and the checks of names, images and packages.

Field names follow Amun's inspection API. Every user string that will later reach a command
line, a file path or a recipe is checked here against a strict grammar, so a bad value is
answered with a 422 naming its field instead of surfacing as a failed run.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared import hardware
from shared.config import get_settings
from shared.hardware import HardwareSpec
from shared.python_env import check_python_requirement

HOST_BASE = "host"

_IMAGE_REF = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]+)?/)?"  # registry host[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
# Package names as each package manager spells them, with an optional =version (and :arch
# for apt). The manager is only known at build time, so a name any of them accepts passes;
# nothing else can reach a command line (setup.sh passes them as quoted arguments anyway).
_NATIVE_PACKAGE = {
    "apt-get": re.compile(r"^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$"),
    "dnf/yum/microdnf": re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(?:=[A-Za-z0-9._+~^:-]+)?$"),
    "apk": re.compile(r"^[a-z0-9][a-z0-9._+-]*(?:=[A-Za-z0-9._-]+)?$"),
}
MAX_PACKAGES = 500
MAX_ENV_VALUE_BYTES = 32 * 1024
MAX_ENV_VARIABLES = 1000
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TESTBED_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

Identifier = Annotated[
    str | None, Field(default=None, description="A name of yours for this request.")
]


def check_native_package(value: str) -> str:
    """A package name that apt-get, dnf/yum/microdnf or apk would take as one argument."""
    if len(value) > 200 or not any(
        grammar.fullmatch(value) for grammar in _NATIVE_PACKAGE.values()
    ):
        managers = ", ".join(_NATIVE_PACKAGE)
        raise ValueError(f"{value!r} is not a valid package name for {managers}")
    return value


NativePackage = Annotated[str, AfterValidator(check_native_package)]
PythonRequirement = Annotated[str, AfterValidator(check_python_requirement)]


def _unstorable(value: object, path: str) -> str | None:
    """The path of the first string a database cannot store (NUL, unpaired surrogates)."""
    if isinstance(value, str):
        if "\x00" in value:
            return path
        try:
            value.encode()
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = _unstorable(key, where) or _unstorable(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


class Strict(BaseModel):
    """Unknown fields refused; every string storable as it is (checked before anything)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: object) -> object:
        path = _unstorable(data, "")
        if path is not None:
            raise PydanticCustomError(
                "unstorable_text",
                "text with a NUL character or an unpaired surrogate cannot be stored",
                {"path": path},
            )
        return data


def check_identifier(value: str | None) -> str | None:
    if value is not None and not _IDENTIFIER.fullmatch(value):
        raise ValueError("use 1-128 letters, digits, '.', '_' or '-', starting alphanumeric")
    return value


def check_testbed_name(value: str | None) -> str | None:
    if value is not None and not _TESTBED_NAME.fullmatch(value):
        raise ValueError("a testbed name is 1-63 lowercase letters, digits or '-'")
    return value


def check_image(value: str) -> str:
    if len(value) > 255 or not _IMAGE_REF.fullmatch(value):
        raise ValueError(f"{value!r} is not an image reference like 'registry:5000/name:tag'")
    return value


SLURM_NAME = r"^[A-Za-z0-9_.+\-]{1,128}$"


class SlurmRequest(Strict):
    """Where on a SLURM cluster a run queues and what it is charged to (SLURM testbeds only;
    each overrides the testbed's default, and is checked against what its refresh found)."""

    partition: str | None = Field(None, pattern=SLURM_NAME, examples=["gpu"])
    qos: str | None = Field(None, pattern=SLURM_NAME, examples=["high"])
    account: str | None = Field(None, pattern=SLURM_NAME, examples=["proj-42"])
    reservation: str | None = Field(None, pattern=SLURM_NAME, examples=["maint-dec"])

    def options(self) -> dict[str, str]:
        return {key: value for key, value in self.model_dump().items() if value}


class Requests(Strict):
    """Resources for a build or a run (Amun's `requests`), plus the hardware spec."""

    cpu: float | str | None = Field(None, description="Cores: 2, 0.5 or '500m'.")
    memory: str | None = Field(None, description="Memory with a unit: '4GiB', '512MB'.")
    hardware: dict[str, Any] | str | None = Field(
        None,
        description="Hardware spec: cpu arch/flags/cores, memory, gpu ('H100:2'), "
        "accelerators, labels, features, node.",
        examples=["H100:1", {"cpu": {"flags": ["avx512f"]}}],
    )
    slurm: SlurmRequest | None = Field(
        None, description="SLURM partition, qos, account, reservation (SLURM testbeds only)."
    )

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: object) -> object:
        if value is None:
            return None
        try:
            return hardware.parse_cpu_quantity(value, "cpu")
        except hardware.SpecError as error:
            raise ValueError(error.reason) from None

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: object) -> object:
        if value is None:
            return None
        try:
            hardware.parse_memory(value, "memory")
        except hardware.SpecError as error:
            raise ValueError(error.reason) from None
        return value

    @field_validator("hardware", mode="before")
    @classmethod
    def _hardware(cls, value: object) -> object:
        if value is None:
            return None
        try:
            return hardware.to_dict(hardware.parse_spec(value))
        except hardware.SpecError as error:
            raise ValueError(f"{error.path}: {error.reason}") from None

    def memory_bytes(self) -> int | None:
        return None if self.memory is None else hardware.parse_memory(self.memory)

    def slurm_options(self) -> dict[str, str]:
        return self.slurm.options() if self.slurm else {}

    def spec(self) -> HardwareSpec:
        """The hardware spec with cpu and memory requests folded in as minimums."""
        spec = hardware.parse_spec(self.hardware)
        memory = hardware.parse_memory(self.memory) if self.memory is not None else None
        cpu = float(self.cpu) if self.cpu is not None else None
        return hardware.with_requests(spec, cpu, memory)


class BuildSection(Strict):
    requests: Requests | None = None


RETRY_ON = ("lost", "failed", "no_capacity", "interrupted")
RetryOn = Literal["lost", "failed", "no_capacity", "interrupted"]


class Retry(Strict):
    """When a run is placed again, and how often: each placement is an attempt."""

    attempts: int = Field(
        1, ge=1, le=20, description="Attempts in all (1: none is retried); withdrawn ones are free."
    )
    on: list[RetryOn] = Field(
        default_factory=list,
        description="lost: its node stopped answering or its process vanished; failed: it "
        "ended with an error, a non-zero exit or its timeout; no_capacity: it waited past "
        "queue_timeout_s; interrupted: the testbed took its node back.",
    )
    backoff_s: float = Field(0.0, ge=0, le=3600, description="Wait before the next attempt.")

    @field_validator("on")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("a reason is named twice")
        return values


QueueTimeout = Annotated[
    float | None,
    Field(
        None,
        gt=0,
        le=7 * 24 * 3600,
        description="Seconds a run may wait in a testbed's queue before it is withdrawn and "
        "placed elsewhere (with no_capacity in retry.on).",
    ),
]


def default_retry() -> Retry:
    """The policy of a request that names none: the `default_retry` setting, or none."""
    return Retry.model_validate(get_settings().default_retry or {})


class RunSection(Strict):
    requests: Requests | None = None
    timeout: int | None = Field(
        None, ge=1, le=7 * 24 * 3600, description="Wall time of each run in seconds."
    )
    retry: Retry | None = None
    queue_timeout_s: QueueTimeout = None


class FileSpec(Strict):
    """A file placed in the run's working folder (inspections) or the image (builds)."""

    path: str = Field(description="Relative path, e.g. 'data/input.json'.")
    content: str
    executable: bool = False

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value or "\x00" in value or "\\" in value:
            raise ValueError("a file path must be non-empty, without NUL or backslashes")
        normal = posixpath.normpath(value)
        if value.startswith("/") or normal.startswith("..") or normal in (".", ""):
            raise ValueError(f"{value!r} must stay inside the working folder")
        if len(normal) > 255:
            raise ValueError("a file path is at most 255 characters")
        return normal


def check_environment(values: dict[str, str]) -> dict[str, str]:
    if len(values) > MAX_ENV_VARIABLES:
        raise ValueError(f"at most {MAX_ENV_VARIABLES} variables")
    for name, value in values.items():
        if not _ENV_NAME.fullmatch(name) or len(name) > 255:
            raise ValueError(f"{name!r} is not a valid environment variable name")
        if "\x00" in value:
            raise ValueError(f"{name}: a value cannot contain NUL")
        if len(value.encode()) > MAX_ENV_VALUE_BYTES:
            raise ValueError(f"{name}: a value is at most {MAX_ENV_VALUE_BYTES} bytes")
    return values
