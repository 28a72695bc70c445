"""Inspection and deployment specs from a YAML (or JSON) file and command-line flags.

A spec file holds the API's InspectionSpec or DeploymentSpec as YAML. One addition: the tag
`!file PATH` stands for the text of a file next to the spec (a script, a Pipfile, its lock),
so examples keep their code in real files. The API validates; the CLI only assembles.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class SpecError(Exception):
    """The spec file or a flag cannot be used (exit code 2)."""


def _loader(base: Path) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise SpecError(f"line {node.start_mark.line + 1}: !file takes a path")
        path = base / str(loader.construct_scalar(node))
        try:
            return path.read_text()
        except OSError as error:
            raise SpecError(f"!file {path}: {error.strerror or error}") from None

    Loader.add_constructor("!file", include)
    return Loader


def load_file(path: Path) -> dict[str, Any]:
    """The spec in `path` as a dict, `!file` references read relative to it."""
    try:
        text = path.read_text()
    except OSError as error:
        raise SpecError(f"{path}: {error.strerror or error}") from None
    try:
        data = yaml.load(text, Loader=_loader(path.resolve().parent))
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a spec is a mapping of fields (base, script, ...)")
    return data


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise SpecError(f"{flag} takes NAME=VALUE, got {value!r}")
        out[name] = rest
    return out


def _read(path: Path, flag: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise SpecError(f"{flag} {path}: {error.strerror or error}") from None


@dataclass
class Flags:
    """What the command line adds to (or puts in place of) the spec file's fields."""

    base: str | None = None
    script: Path | None = None
    packages: list[str] = field(default_factory=list)
    python_packages: list[str] = field(default_factory=list)
    pipfile: Path | None = None
    pipfile_lock: Path | None = None
    gpu: str | None = None
    cpu_flags: list[str] = field(default_factory=list)
    cpu: str | None = None
    memory: str | None = None
    batch_size: int | None = None
    testbed: str | None = None
    identifier: str | None = None
    env: list[str] = field(default_factory=list)
    timeout: int | None = None


def _hardware(requests: dict[str, Any], flags: Flags) -> None:
    """Fold --gpu, --cpu-flag, --cpu and --memory into a `requests` section."""
    if flags.gpu is None and not flags.cpu_flags and flags.cpu is None and flags.memory is None:
        return
    if flags.cpu is not None:
        requests["cpu"] = flags.cpu
    if flags.memory is not None:
        requests["memory"] = flags.memory
    hardware = requests.get("hardware")
    if isinstance(hardware, str):  # the GPU shorthand, "H100:1"
        hardware = {"gpu": hardware}
    hardware = dict(hardware or {})
    if flags.gpu is not None:
        hardware["gpu"] = flags.gpu
    if flags.cpu_flags:
        cpu = dict(hardware.get("cpu") or {})
        cpu["flags"] = [*cpu.get("flags", []), *flags.cpu_flags]
        hardware["cpu"] = cpu
    if hardware:
        requests["hardware"] = hardware


def inspection(path: Path | None, flags: Flags) -> dict[str, Any]:
    """The InspectionSpec body: the file's fields, then the flags'."""
    spec = copy.deepcopy(load_file(path)) if path is not None else {}
    if flags.base is not None:
        spec["base"] = flags.base
    spec.setdefault("base", "host")
    if flags.script is not None:
        spec["script"] = _read(flags.script, "--script")
    if flags.packages:
        spec["packages"] = [*spec.get("packages", []), *flags.packages]
    if flags.python_packages:
        spec["python_packages"] = [*spec.get("python_packages", []), *flags.python_packages]
    if flags.pipfile is not None or flags.pipfile_lock is not None:
        python = dict(spec.get("python") or {})
        if flags.pipfile is not None:
            python["requirements"] = _read(flags.pipfile, "--pipfile")
        if flags.pipfile_lock is not None:
            python["requirements_locked"] = _read(flags.pipfile_lock, "--pipfile-lock")
        spec["python"] = python
    if flags.env:
        given = spec.get("environment", {})
        if isinstance(given, list):  # Amun's list of {name, value}
            given = {
                item.get("name"): item.get("value") for item in given if isinstance(item, dict)
            }
        spec["environment"] = {**given, **_pairs(flags.env, "--env")}
    for key, value in (
        ("batch_size", flags.batch_size),
        ("testbed", flags.testbed),
        ("identifier", flags.identifier),
    ):
        if value is not None:
            spec[key] = value
    run = dict(spec.get("run") or {})
    requests = dict(run.get("requests") or {})
    _hardware(requests, flags)
    if requests:
        run["requests"] = requests
    if flags.timeout is not None:
        run["timeout"] = flags.timeout
    if run:
        spec["run"] = run
    return spec


def deployment(
    path: Path | None, flags: Flags, image: str | None, command: Sequence[str]
) -> dict[str, Any]:
    """The DeploymentSpec body: the file's fields, then the flags' and the command's."""
    spec = copy.deepcopy(load_file(path)) if path is not None else {}
    if image is not None:
        spec["image"] = image
    if command:
        spec["command"] = list(command)
    if flags.env:
        given = spec.get("environment", {})
        if isinstance(given, list):  # Amun's list of {name, value}
            given = {
                item.get("name"): item.get("value") for item in given if isinstance(item, dict)
            }
        spec["environment"] = {**given, **_pairs(flags.env, "--env")}
    for key, value in (
        ("batch_size", flags.batch_size),
        ("testbed", flags.testbed),
        ("identifier", flags.identifier),
        ("timeout", flags.timeout),
    ):
        if value is not None:
            spec[key] = value
    requests = dict(spec.get("requests") or {})
    _hardware(requests, flags)
    if requests:
        spec["requests"] = requests
    return spec
