"""Python requirements: one PEP 508 line, a Pipfile, a Pipfile.lock; no pip options, no URLs."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from typing import Any

import tomli_w
from packaging.requirements import InvalidRequirement, Requirement

PYPI = "https://pypi.org/simple"


def check_python_requirement(value: str) -> str:
    """One PEP 508 requirement; pip options and direct URLs are refused."""
    if value.lstrip().startswith("-"):
        raise ValueError(f"{value!r}: pip options are not accepted, only requirements")
    try:
        requirement = Requirement(value)
    except InvalidRequirement as error:
        raise ValueError(f"{value!r} is not a valid requirement: {error}") from None
    if requirement.url:
        raise ValueError(f"{value!r}: direct URL requirements are not accepted")
    return str(requirement)


def _spec(name: str, value: Any) -> str:
    if value == "*" or value == {}:
        return name
    if isinstance(value, str):
        return f"{name}{value}"
    if isinstance(value, dict):
        if any(key in value for key in ("git", "path", "file", "editable", "ref")):
            raise ValueError(f"{name}: VCS, path and file dependencies are not accepted")
        extras = f"[{','.join(value['extras'])}]" if value.get("extras") else ""
        version = value.get("version", "")
        version = "" if version == "*" else version
        markers = f"; {value['markers']}" if value.get("markers") else ""
        return f"{name}{extras}{version}{markers}"
    raise ValueError(f"{name}: unsupported Pipfile entry {value!r}")


def parse_pipfile(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"not a valid Pipfile (TOML): {error}") from None


def pipfile_text(data: dict[str, Any]) -> str:
    """A Pipfile sent as an object (Amun's form), written as the TOML file pipenv reads."""
    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the Pipfile object cannot be written as TOML: {error}") from None


def pipfile_hash(data: dict[str, Any]) -> str:
    """The sha256 pipenv records in Pipfile.lock's _meta.hash for this Pipfile (pipenv's and
    micropipenv's rule: the Pipfile's sources, requires and both package sections as compact,
    key-sorted JSON)."""
    content = {
        "_meta": {"requires": data.get("requires", {}), "sources": data.get("source", [])},
        "default": data.get("packages", {}),
        "develop": data.get("dev-packages", {}),
    }
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def check_sources(data: dict[str, Any], allowed: Sequence[str], where: str) -> dict[str, str]:
    """The Pipfile's or lock's sources by name, each PyPI or an index the admin allows."""
    sources = data.get("source", data.get("_meta", {}).get("sources", []))
    if not isinstance(sources, list):
        raise ValueError(f"{where}: sources must be a list")
    named: dict[str, str] = {}
    for number, source in enumerate(sources):
        url = source.get("url") if isinstance(source, dict) else None
        if not isinstance(url, str) or url.rstrip("/") not in {PYPI, *allowed}:
            raise ValueError(
                f"{where}: source {number} ({url!r}) is neither PyPI nor an index the "
                "admin allows (TESSERA_PIP_ALLOWED_INDEX_URLS)"
            )
        named[str(source.get("name", number))] = url
    return named


def requirements_from_pipfile(text: str, allowed: Sequence[str] = ()) -> list[str]:
    """The [packages] of a Pipfile as PEP 508 requirements."""
    data = parse_pipfile(text)
    check_sources(data, [url.rstrip("/") for url in allowed], "Pipfile")
    packages = data.get("packages", {})
    if not isinstance(packages, dict):
        raise ValueError("Pipfile [packages] must be a table")
    return [check_python_requirement(_spec(name, value)) for name, value in packages.items()]


def check_lock(pipfile: str, lock: str) -> str | None:
    """The lock's recorded Pipfile hash (None when it records none); ValueError when it is
    not the hash of this Pipfile (the lock is out of date: `pipenv lock` again)."""
    data = json.loads(lock)
    recorded = data.get("_meta", {}).get("hash", {}).get("sha256")
    if recorded is None:
        return None
    actual = pipfile_hash(parse_pipfile(pipfile))
    if recorded != actual:
        raise ValueError(
            f"the lock's _meta.hash.sha256 {recorded!r} is not the hash of the Pipfile given "
            f"({actual!r}): the lock is out of date; run `pipenv lock` again"
        )
    return str(recorded)


def requirements_from_lock(text: str) -> list[str]:
    """The default section of a Pipfile.lock, pinned with hashes (installed --require-hashes)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError(f"not a valid Pipfile.lock (JSON): {error}") from None
    default = data.get("default") if isinstance(data, dict) else None
    if not isinstance(default, dict):
        raise ValueError("Pipfile.lock has no 'default' section")
    lines = []
    for name, entry in sorted(default.items()):
        if not isinstance(entry, dict) or not str(entry.get("version", "")).startswith("=="):
            raise ValueError(f"{name}: a locked entry needs a '==' version")
        requirement = check_python_requirement(_spec(name, entry))
        hashes = [h for h in entry.get("hashes", []) if isinstance(h, str)]
        if not hashes:
            raise ValueError(f"{name}: a locked entry needs its hashes")
        lines.append(" ".join([requirement, *(f"--hash={h}" for h in hashes)]))
    return lines


def lock_data(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {}


_INDEX_OPTIONS = ("--index-url", "-i", "--extra-index-url")


def requirements_from_txt(text: str, allowed_indexes: Sequence[str] = ()) -> list[str]:
    """A requirements.txt as pip-ready lines: requirements with optional --hash options, and
    --index-url/--extra-index-url only for an index the admin allows; nothing else."""
    joined = re.sub(r"\\\r?\n", " ", text)
    lines: list[str] = []
    for number, raw in enumerate(joined.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        words = line.split()
        option, equals, value = words[0].partition("=")
        if option in _INDEX_OPTIONS:
            url = " ".join([value] if equals else words[1:])
            if url not in allowed_indexes:
                raise ValueError(f"line {number}: {option} {url!r} is not an allowed index")
            lines.append(f"{option} {url}")
            continue
        hashes = [word for word in words if word.startswith("--hash=")]
        rest = " ".join(word for word in words if not word.startswith("--hash="))
        if any(not re.fullmatch(r"--hash=sha(256|384|512):[0-9a-f]+", h) for h in hashes):
            raise ValueError(f"line {number}: a --hash must be sha256/384/512:hex")
        try:
            requirement = check_python_requirement(rest)
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None
        lines.append(" ".join([requirement, *hashes]))
    return lines
