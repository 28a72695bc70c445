from __future__ import annotations

import json

import pytest

from shared.python_env import (
    check_python_requirement,
    requirements_from_lock,
    requirements_from_pipfile,
)

PIPFILE = """
[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
requests = "*"
numpy = ">=1.26"
pandas = {version = "==2.2.2", extras = ["performance"]}
tomli = {version = "*", markers = "python_version < '3.11'"}

[dev-packages]
pytest = "*"
"""

LOCK = {
    "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6},
    "default": {
        "six": {"hashes": ["sha256:" + "a" * 64], "index": "pypi", "version": "==1.16.0"},
        "idna": {
            "hashes": ["sha256:" + "b" * 64, "sha256:" + "c" * 64],
            "version": "==3.7",
            "markers": "python_version >= '3.5'",
        },
    },
    "develop": {},
}


def test_pipfile_packages_become_requirements() -> None:
    assert requirements_from_pipfile(PIPFILE) == [
        "requests",
        "numpy>=1.26",
        "pandas[performance]==2.2.2",
        'tomli; python_version < "3.11"',
    ]


def test_lock_is_pinned_with_hashes() -> None:
    lines = requirements_from_lock(json.dumps(LOCK))
    assert lines == [
        f'idna==3.7; python_version >= "3.5" --hash=sha256:{"b" * 64} --hash=sha256:{"c" * 64}',
        f"six==1.16.0 --hash=sha256:{'a' * 64}",
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[packages\n", "TOML"),
        ('[packages]\nmine = {git = "https://example.org/x.git"}\n', "VCS"),
        ('[[source]]\nurl = "http://mirror.evil/simple"\n', "source"),
    ],
)
def test_bad_pipfile(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        requirements_from_pipfile(text)


@pytest.mark.parametrize(
    ("lock", "words"),
    [
        ("{", "JSON"),
        ("{}", "default"),
        ('{"default": {"six": {"version": "==1"}}}', "hashes"),
        ('{"default": {"six": {"version": "*", "hashes": ["sha256:x"]}}}', "=="),
    ],
)
def test_bad_lock(lock: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        requirements_from_lock(lock)


@pytest.mark.parametrize(
    "value",
    ["-r other.txt", "--index-url=http://x", "pkg @ https://x/y.whl", "not a requirement!!"],
)
def test_requirement_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_python_requirement(value)
