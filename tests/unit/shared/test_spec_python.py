"""Amun's forms of an inspection's Python environment and environment variables."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.config import Settings
from shared.python_env import pipfile_hash
from shared.spec_python import environment_list
from shared.specs import InspectionSpec
from tests.conftest import reset_settings

AMUN = Path(__file__).parents[2] / "fixtures" / "amun" / "inspection-rhtf-conv2d-specification.json"
AICOE = "https://tensorflow.pypi.thoth-station.ninja/index/manylinux2010/AVX2/simple/"


@pytest.fixture
def amun() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(AMUN.read_text())
    return data


@pytest.fixture
def aicoe_allowed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TESSERA_PIP_ALLOWED_INDEX_URLS", json.dumps([AICOE]))
    reset_settings()
    yield
    reset_settings()


def test_amun_example_is_accepted_as_amun_wrote_it(
    amun: dict[str, Any], aicoe_allowed: None
) -> None:
    spec = InspectionSpec.model_validate(amun)
    assert spec.package_manager == "micropipenv"
    assert spec.python is not None and spec.python.requirements is not None
    assert 'index = "aicoe"' in spec.python.requirements  # the object, written as a Pipfile
    assert spec.python_tools() == ["micropipenv[toml]"]  # named by the spec: not added twice
    assert spec.run_requests().cpu == 2.0 and spec.run_requests().memory == "4Gi"


def test_an_index_the_admin_does_not_allow_is_refused(
    amun: dict[str, Any], settings: Settings
) -> None:
    with pytest.raises(ValidationError, match=r"python\.requirements\n.*source 1"):
        InspectionSpec.model_validate(amun)


def test_a_lock_of_another_pipfile_is_refused(amun: dict[str, Any], aicoe_allowed: None) -> None:
    amun["python"]["requirements"]["packages"]["six"] = "*"
    with pytest.raises(ValidationError, match="out of date"):
        InspectionSpec.model_validate(amun)


def test_annotations_are_dropped(amun: dict[str, Any], aicoe_allowed: None) -> None:
    assert "@created" in amun
    assert "@created" not in InspectionSpec.model_validate(amun).model_dump()


def test_managers_need_a_hashed_lock(amun: dict[str, Any], aicoe_allowed: None) -> None:
    no_lock = copy.deepcopy(amun)
    del no_lock["python"]["requirements_locked"]
    with pytest.raises(ValidationError, match="installs a Pipfile.lock"):
        InspectionSpec.model_validate(no_lock)
    no_hash = copy.deepcopy(amun)
    del no_hash["python"]["requirements_locked"]["_meta"]["hash"]
    with pytest.raises(ValidationError, match="_meta.hash"):
        InspectionSpec.model_validate(no_hash)


def test_pip_cannot_install_from_a_packages_own_index(
    amun: dict[str, Any], aicoe_allowed: None
) -> None:
    amun["package_manager"] = "pip"
    with pytest.raises(ValidationError, match="'tensorflow' comes from index 'aicoe'"):
        InspectionSpec.model_validate(amun)


def test_manager_is_added_when_not_named(settings: Settings) -> None:
    pipfile = {"packages": {"six": "==1.16.0"}, "source": [], "requires": {}}
    lock = {"_meta": {"hash": {"sha256": pipfile_hash(pipfile)}}, "default": {}}
    spec = InspectionSpec.model_validate(
        {
            "base": "host",
            "package_manager": "pipenv",
            "python": {"requirements": pipfile, "requirements_locked": lock},
            "python_packages": ["numpy"],
        }
    )
    assert spec.python_tools() == ["numpy", "pipenv"]


def test_environment_as_amuns_list(settings: Settings) -> None:
    spec = InspectionSpec.model_validate(
        {"base": "host", "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": ""}]}
    )
    assert spec.environment == {"A": "1", "B": ""}
    for bad, words in (
        ([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}], "given twice"),
        ([{"name": "A"}], "name, value"),
        ([{"name": "1A", "value": "x"}], "not a valid environment variable name"),
    ):
        with pytest.raises(ValidationError, match=words):
            InspectionSpec.model_validate({"base": "host", "environment": bad})
    assert environment_list({"A": "1"}) == {"A": "1"}


def test_allowed_failures_and_parallelism(settings: Settings) -> None:
    spec = InspectionSpec.model_validate(
        {"base": "host", "script": "true", "batch_size": 4, "allowed_failures": 1, "parallelism": 2}
    )
    assert (spec.allowed_failures, spec.parallelism) == (1, 2)
    for bad in ({"parallelism": 0}, {"allowed_failures": -1}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            InspectionSpec.model_validate({"base": "host", "script": "true", **bad})
