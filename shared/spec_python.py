"""An inspection's Python environment, in every form Amun users write it: a Pipfile and its
Pipfile.lock as text (the files) or as JSON objects (Amun's API), a requirements.txt, and the
package manager that installs the lock (pip with hashes, micropipenv or pipenv)."""

from __future__ import annotations

import json
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config import get_settings
from shared.python_env import (
    check_lock,
    check_sources,
    lock_data,
    parse_pipfile,
    pipfile_text,
    requirements_from_lock,
    requirements_from_pipfile,
    requirements_from_txt,
)

PackageManager = Literal["pip", "micropipenv", "pipenv"]
# What installs each manager when the request's python_packages do not name it.
MANAGER_REQUIREMENT = {"micropipenv": "micropipenv[toml]", "pipenv": "pipenv"}


def _allowed() -> list[str]:
    return [url.rstrip("/") for url in get_settings().pip_allowed_index_urls]


class PythonSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requirements: str | None = Field(
        None,
        description="A Pipfile: its TOML text, or the same as a JSON object (Amun's form).",
        examples=['[packages]\nsix = "==1.16.0"\n', {"packages": {"six": "==1.16.0"}}],
    )
    requirements_locked: str | None = Field(
        None,
        description="Its Pipfile.lock: the JSON text, or the object. Its _meta.hash must be "
        "the Pipfile's (checked here, as `pipenv install --deploy` does).",
    )
    requirements_txt: str | None = Field(
        None, description="A requirements.txt (requirements and --hash only; no other options)."
    )

    @field_validator("requirements", mode="before")
    @classmethod
    def _pipfile_object(cls, value: object) -> object:
        return pipfile_text(value) if isinstance(value, dict) else value

    @field_validator("requirements_locked", mode="before")
    @classmethod
    def _lock_object(cls, value: object) -> object:
        return json.dumps(value, sort_keys=True, indent=4) if isinstance(value, dict) else value

    @field_validator("requirements_txt")
    @classmethod
    def _requirements_txt(cls, value: str | None) -> str | None:
        if value is not None:
            requirements_from_txt(value, get_settings().pip_allowed_index_urls)
        return value

    @field_validator("requirements")
    @classmethod
    def _pipfile(cls, value: str | None) -> str | None:
        if value is not None:
            requirements_from_pipfile(value, _allowed())
        return value

    @field_validator("requirements_locked")
    @classmethod
    def _lock(cls, value: str | None) -> str | None:
        if value is not None:
            requirements_from_lock(value)
            check_sources(lock_data(value), _allowed(), "Pipfile.lock")
        return value

    @model_validator(mode="after")
    def _lock_needs_pipfile(self) -> PythonSection:
        if self.requirements_locked is not None and self.requirements is None:
            raise ValueError("requirements_locked needs requirements (the Pipfile) too")
        if self.requirements_txt is not None and self.requirements is not None:
            raise ValueError("give a Pipfile (requirements) or requirements_txt, not both")
        if self.requirements is not None and self.requirements_locked is not None:
            check_lock(self.requirements, self.requirements_locked)
        return self

    def check_manager(self, manager: PackageManager) -> None:
        """What `manager` needs: pip installs the lock's wheels by their hashes from the first
        index, so a package pinned to another index needs micropipenv or pipenv; those two
        install a Pipfile.lock that records its Pipfile's hash (their --deploy check)."""
        if manager == "pip":
            if self.requirements is not None:
                for name, entry in parse_pipfile(self.requirements).get("packages", {}).items():
                    if isinstance(entry, dict) and entry.get("index") not in (None, "pypi"):
                        raise ValueError(
                            f"package {name!r} comes from index {entry['index']!r}: set "
                            "package_manager to micropipenv or pipenv, which install each "
                            "package from its own index"
                        )
            return
        if self.requirements is None or self.requirements_locked is None:
            raise ValueError(
                f"package_manager {manager} installs a Pipfile.lock: give python.requirements "
                "and python.requirements_locked"
            )
        if check_lock(self.requirements, self.requirements_locked) is None:
            raise ValueError(
                f"package_manager {manager} installs with --deploy, which needs the lock's "
                "_meta.hash.sha256: lock it with `pipenv lock`"
            )


def environment_list(value: object) -> object:
    """Amun's environment, a list of {name, value}, as Tessera's mapping; a name given twice
    is refused (which one was meant is not known)."""
    if not isinstance(value, list):
        return value
    mapping: dict[str, Any] = {}
    for number, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"name", "value"}:
            raise ValueError(f"item {number}: each variable is {{name, value}}")
        name = item["name"]
        if not isinstance(name, str):
            raise ValueError(f"item {number}: the name must be a string")
        if name in mapping:
            raise ValueError(f"item {number}: {name!r} is given twice")
        mapping[name] = item["value"]
    return mapping


def requirement_name(line: str) -> str:
    """The distribution a requirement line names, as pip compares them."""
    return str(canonicalize_name(Requirement(line).name))
