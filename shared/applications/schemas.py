"""What an application request says: the application, its build configurations."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shared import hardware
from shared.schemas import (
    HOST_BASE,
    Strict,
    check_environment,
    check_image,
    check_testbed_name,
)

_CONFIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:-]{0,127}$")
MAX_CONFIGURATIONS = 64
MAX_GLOBS = 100


class ApplicationCreate(Strict):
    name: str = Field(min_length=1, max_length=255, examples=["stencil"])
    description: str | None = Field(None, max_length=10_000)


class BuildConfiguration(Strict):
    """One target configuration: where to compile, how, and what to keep."""

    name: str = Field(description="The configuration's name, unique in the request.")
    hardware: dict[str, Any] | str | None = Field(
        None,
        description="Hardware spec of the build node, as a run's: "
        "{'cpu': {'flags': ['avx2']}}, 'H100:1', {'cpu': {'arch': 'aarch64'}}.",
    )
    base: str = Field(HOST_BASE, description="'host' (the node's toolchain) or an image.")
    packages: list[str] = Field(
        default_factory=list, description="Native packages the node must have.", max_length=200
    )
    build_script: list[str] | str = Field(
        description="argv run in the unpacked source (no shell), or a script's text (run by "
        "/bin/sh as a file).",
    )
    artifacts: list[str] = Field(
        min_length=1, max_length=MAX_GLOBS, description="Globs under the source folder."
    )
    package: Literal["tar.gz", "image"] = Field(
        "tar.gz",
        description="How the artifacts are packaged: one tar.gz, or an OCI image (the base, or "
        "TESSERA_APP_IMAGE_BASE for 'host', with the artifacts in /opt/tessera/app).",
    )
    environment: dict[str, str] = Field(default_factory=dict)
    timeout: int | None = Field(None, ge=1, le=7 * 24 * 3600, description="Seconds.")
    testbed: str | None = None

    _testbed = field_validator("testbed")(check_testbed_name)
    _environment = field_validator("environment")(check_environment)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _CONFIG_NAME.fullmatch(value):
            raise ValueError("use 1-100 letters, digits, '.', '_' or '-', starting alphanumeric")
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

    @field_validator("base")
    @classmethod
    def _base(cls, value: str) -> str:
        return value if value == HOST_BASE else check_image(value)

    @field_validator("packages")
    @classmethod
    def _packages(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _PACKAGE.fullmatch(value):
                raise ValueError(f"{value!r} is not a package name")
        return values

    @field_validator("build_script")
    @classmethod
    def _script(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            if not value or len(value) > 1000:
                raise ValueError("give 1-1000 arguments")
            if any("\x00" in word for word in value):
                raise ValueError("an argument cannot contain NUL")
        elif not value.strip() or len(value.encode()) > 1024 * 1024:
            raise ValueError("a script is 1 byte to 1 MiB")
        return value

    @field_validator("artifacts")
    @classmethod
    def _artifacts(cls, values: list[str]) -> list[str]:
        for value in values:
            parts = value.replace("\\", "/").split("/")
            if not value or value.startswith("/") or ".." in parts or "\x00" in value:
                raise ValueError(f"{value!r}: a glob must stay inside the build folder")
        return values

    def digest(self, source_digest: str) -> str:
        """The cache key: sha256 of (source digest, this configuration)."""
        body = json.dumps(
            {"source": source_digest, "configuration": self.model_dump(mode="json")},
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()


class BuildRequest(Strict):
    configurations: list[BuildConfiguration] = Field(min_length=1, max_length=MAX_CONFIGURATIONS)

    @model_validator(mode="after")
    def _unique(self) -> BuildRequest:
        names = [c.name for c in self.configurations]
        if len(set(names)) != len(names):
            raise ValueError("configuration names must be unique")
        return self


class NodeDrain(Strict):
    reason: str = Field(min_length=1, max_length=1000, examples=["firmware update"])


def compiled_on(configuration: dict[str, Any], arch: str | None) -> dict[str, Any]:
    """The hardware a run of the executable needs: the build node's arch, the configuration's
    CPU flags and accelerator models."""
    wanted: dict[str, Any] = {}
    built = configuration.get("hardware") or {}
    cpu = dict(built.get("cpu") or {})
    keep = {k: v for k, v in cpu.items() if k in ("arch", "flags")}
    if arch and "arch" not in keep:
        keep["arch"] = arch
    if keep:
        wanted["cpu"] = keep
    if built.get("accelerators"):
        wanted["accelerators"] = built["accelerators"]
    return wanted


def narrowed(default: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The request's own hardware spec narrowing the executable's default."""
    if not given:
        return default
    merged = dict(given)
    cpu = dict(given.get("cpu") or {})
    base_cpu = default.get("cpu") or {}
    if "arch" in base_cpu and "arch" not in cpu:
        cpu["arch"] = base_cpu["arch"]
    flags = list(cpu.get("flags") or [])
    flags += [flag for flag in base_cpu.get("flags") or [] if flag not in flags]
    if flags:
        cpu["flags"] = flags
    if cpu:
        merged["cpu"] = cpu
    if default.get("accelerators") and not given.get("accelerators"):
        merged["accelerators"] = default["accelerators"]
    return merged
