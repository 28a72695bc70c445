from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.applications.schemas import BuildConfiguration, BuildRequest, compiled_on, narrowed

BASE = {"name": "avx2", "build_script": ["make"], "artifacts": ["bin/*"]}


def test_hardware_is_parsed_like_a_runs() -> None:
    config = BuildConfiguration.model_validate({**BASE, "hardware": "H100:1"})
    assert config.hardware == {"accelerators": [{"kind": "gpu", "model": ["H100"], "count": 1}]}


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "../x"},
        {"artifacts": ["../out"]},
        {"artifacts": ["/etc/passwd"]},
        {"build_script": []},
        {"build_script": ["a\x00b"]},
        {"base": "not an image"},
        {"packages": ["gcc; rm -rf /"]},
        {"package": "zip"},
        {"hardware": {"cpu": {"flags": 3}}},
    ],
)
def test_bad_configurations(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BuildConfiguration.model_validate({**BASE, **bad})


def test_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="unique"):
        BuildRequest.model_validate({"configurations": [BASE, BASE]})


def test_the_digest_follows_source_and_configuration() -> None:
    config = BuildConfiguration.model_validate(BASE)
    other = BuildConfiguration.model_validate({**BASE, "build_script": ["make", "-j2"]})
    assert config.digest("a") == BuildConfiguration.model_validate(BASE).digest("a")
    assert len({config.digest("a"), config.digest("b"), other.digest("a")}) == 3


def test_compiled_on_keeps_arch_flags_and_models() -> None:
    spec = {"hardware": {"cpu": {"flags": ["avx2"], "cores": 4}, "accelerators": [{"m": 1}]}}
    assert compiled_on(spec, "x86_64") == {
        "cpu": {"flags": ["avx2"], "arch": "x86_64"},
        "accelerators": [{"m": 1}],
    }
    assert compiled_on({}, None) == {}


def test_the_request_narrows_the_default() -> None:
    default = {"cpu": {"arch": "x86_64", "flags": ["avx2"]}, "accelerators": [{"m": 1}]}
    assert narrowed(default, None) == default
    given = {"cpu": {"flags": ["avx512f"]}, "memory": "1GiB"}
    assert narrowed(default, given) == {
        "cpu": {"flags": ["avx512f", "avx2"], "arch": "x86_64"},
        "memory": "1GiB",
        "accelerators": [{"m": 1}],
    }
