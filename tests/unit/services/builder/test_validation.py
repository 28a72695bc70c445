"""Input the image recipe depends on is refused at the door, naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.config import get_settings
from shared.environment import python_requirements
from shared.python_env import requirements_from_txt
from shared.schemas import check_native_package
from shared.specs import InspectionSpec

BASE = "127.0.0.1:5000/debian:bookworm"


def errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        InspectionSpec.model_validate({"base": BASE} | body)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    "name", ["jq", "libssl3:amd64", "curl=7.88.1-10+deb12u5", "python3.11", "NetworkManager",
             "perl-Data-Dumper", "py3-pip=23.1.2-r0", "gcc-c++", "lib_x"],
)  # fmt: skip
def test_package_names_any_manager_takes(name: str) -> None:
    assert check_native_package(name) == name


@pytest.mark.parametrize(
    "name", ["vim; rm -rf /", "-oAPT::Update=x", "a b", "$(id)", "jq\n", "", "x" * 201,
             "pkg>1.0", "../x", "`id`"],
)  # fmt: skip
def test_package_names_no_manager_takes(name: str) -> None:
    with pytest.raises(ValueError, match="package name"):
        check_native_package(name)


def test_env_line_breaks_refused_only_for_images() -> None:
    assert errors({"environment": {"A": "x\ny"}})[0][0] == "environment"
    assert "line break" in errors({"environment": {"A": "x\ry"}})[0][1]
    spec = InspectionSpec.model_validate({"base": "host", "environment": {"A": "x\ny"}})
    assert spec.environment["A"] == "x\ny"  # a run's environment carries it fine
    assert errors({"environment": {"A=B": "x"}})[0][0] == "environment"
    assert "32768" in errors({"environment": {"A": "x" * 40000}})[0][1]
    assert errors({"packages": ["jq"] * 501})[0][0] == "packages"


def test_requirements_txt() -> None:
    hashed = "six==1.16.0 \\\n    --hash=sha256:" + "a" * 64 + "  # pinned\n"
    assert requirements_from_txt("# top\n\nsix>=1\n" + hashed) == [
        "six>=1",
        "six==1.16.0 --hash=sha256:" + "a" * 64,
    ]
    for bad, words in [
        ("--index-url http://x\nsix\n", "not an allowed index"),
        ("-i=http://x\n", "not an allowed index"),
        ("-r other.txt\n", "pip options"),
        ("-e git+https://x\n", "pip options"),
        ("pkg @ https://x/pkg.whl\n", "direct URL"),
        ("six --hash=md5:abc\n", "--hash"),
        ("six; rm -rf /\n", "not a valid requirement"),
    ]:
        with pytest.raises(ValueError, match=words):
            requirements_from_txt(bad)
    allowed = requirements_from_txt("--index-url https://pypi.corp/simple\nsix\n",
                                    ["https://pypi.corp/simple"])  # fmt: skip
    assert allowed == ["--index-url https://pypi.corp/simple", "six"]


def test_requirements_txt_in_a_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    assert errors({"python": {"requirements_txt": "--index-url http://x\n"}})[0][0] == (
        "python.requirements_txt"
    )
    locked = "six==1.16.0 --hash=sha256:" + "a" * 64 + "\n"
    spec = InspectionSpec.model_validate({"base": BASE, "python": {"requirements_txt": locked}})
    assert python_requirements(spec) == ([locked.strip()], True)
    loose = InspectionSpec.model_validate({"base": BASE, "python": {"requirements_txt": "six"}})
    assert python_requirements(loose) == (["six"], False)
    monkeypatch.setenv("TESSERA_PIP_ALLOWED_INDEX_URLS", '["https://pypi.corp/simple"]')
    get_settings.cache_clear()
    try:
        text = "--index-url https://pypi.corp/simple\nsix\n"
        spec = InspectionSpec.model_validate({"base": BASE, "python": {"requirements_txt": text}})
        assert python_requirements(spec)[0] == ["--index-url https://pypi.corp/simple", "six"]
    finally:
        monkeypatch.delenv("TESSERA_PIP_ALLOWED_INDEX_URLS")
        get_settings.cache_clear()
