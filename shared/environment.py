"""The environment part of an inspection and its content hash (what names a build)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shared.config import get_settings
from shared.python_env import (
    requirements_from_lock,
    requirements_from_pipfile,
    requirements_from_txt,
)
from shared.schemas import HOST_BASE
from shared.specs import InspectionSpec

# Bump when the way an environment is built changes: old artifacts stop matching.
# 2: image recipes (services/builder/recipe.py); files and variables are baked into images.
RECIPE_VERSION = 2

ENVIRONMENT_FIELDS = ("base", "packages", "python_packages", "python", "update", "upgrade_pip")
# An image carries the files and variables too; a venv does not (runs get them per run).
IMAGE_FIELDS = ("files", "environment")


def environment_of(spec: InspectionSpec) -> dict[str, Any]:
    """The normalised environment: what names its build (order of sets does not matter)."""
    fields = set(ENVIRONMENT_FIELDS)
    if spec.base != HOST_BASE:
        fields |= set(IMAGE_FIELDS)
    if spec.package_manager is not None:  # named only when set: older digests stay as they were
        fields.add("package_manager")
    data = spec.model_dump(mode="json", include=fields)
    data["packages"] = sorted(set(data["packages"]))
    data["python_packages"] = sorted(set(data["python_packages"]))
    if "files" in data:
        data["files"] = sorted(data["files"], key=lambda item: item["path"])
    return data


def environment_digest(spec: InspectionSpec) -> str:
    payload = {"recipe": RECIPE_VERSION, "environment": environment_of(spec)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class LockInstall:
    """A Pipfile and its lock that micropipenv or pipenv installs (`install --deploy`)."""

    manager: str
    pipfile: str
    lock: str


def lock_install(spec: InspectionSpec) -> LockInstall | None:
    manager = spec.package_manager
    if manager in (None, "pip") or spec.python is None:
        return None
    assert spec.python.requirements is not None and spec.python.requirements_locked is not None
    return LockInstall(manager, spec.python.requirements, spec.python.requirements_locked)


def python_requirements(spec: InspectionSpec) -> tuple[list[str], bool]:
    """The requirement lines to install, and whether they are hash-locked."""
    lines = list(spec.python_packages)
    locked = False
    if spec.python is not None and spec.python.requirements_locked is not None:
        lines = requirements_from_lock(spec.python.requirements_locked) + lines
        locked = True
    elif spec.python is not None and spec.python.requirements is not None:
        allowed = get_settings().pip_allowed_index_urls
        lines = requirements_from_pipfile(spec.python.requirements, allowed) + lines
    elif spec.python is not None and spec.python.requirements_txt is not None:
        allowed = get_settings().pip_allowed_index_urls
        txt = requirements_from_txt(spec.python.requirements_txt, allowed)
        # pip checks hashes for all or none: locked when every requirement carries one.
        locked = bool(txt) and all("--hash=" in line for line in txt if not line.startswith("-"))
        lines = txt + lines
    return lines, locked
