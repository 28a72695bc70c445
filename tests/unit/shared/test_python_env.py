from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.python_env import (
    PYPI,
    check_lock,
    check_python_requirement,
    check_sources,
    pipfile_hash,
    pipfile_text,
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


AMUN = Path(__file__).parents[2] / "fixtures" / "amun" / "inspection-rhtf-conv2d-specification.json"


def test_pipfile_hash_is_pipenvs() -> None:
    """Amun's example inspection: the hash its Pipfile.lock records is the Pipfile object's."""
    python = json.loads(AMUN.read_text())["python"]
    recorded = python["requirements_locked"]["_meta"]["hash"]["sha256"]
    assert pipfile_hash(python["requirements"]) == recorded
    # Written as TOML and read back, the Pipfile is the same one.
    text = pipfile_text(python["requirements"])
    assert check_lock(text, json.dumps(python["requirements_locked"])) == recorded


def test_out_of_date_lock_is_refused() -> None:
    python = json.loads(AMUN.read_text())["python"]
    python["requirements"]["packages"]["six"] = "==1.16.0"
    with pytest.raises(ValueError, match=r"out of date.*pipenv lock"):
        check_lock(pipfile_text(python["requirements"]), json.dumps(python["requirements_locked"]))


def test_a_lock_without_hash_is_not_checked() -> None:
    assert check_lock('[packages]\nsix = "*"\n', json.dumps({"default": {}})) is None


def test_sources_are_pypi_or_allowed() -> None:
    aicoe = "https://tensorflow.pypi.thoth-station.ninja/index/manylinux2010/AVX2/simple/"
    data = {"source": [{"name": "pypi", "url": PYPI}, {"name": "aicoe", "url": aicoe}]}
    with pytest.raises(ValueError, match=r"source 1 .*TESSERA_PIP_ALLOWED_INDEX_URLS"):
        check_sources(data, [], "Pipfile")
    assert check_sources(data, [aicoe.rstrip("/")], "Pipfile") == {"pypi": PYPI, "aicoe": aicoe}
