"""Native builds for base 'host': the interpreter a Pipfile asks for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from services.builder.native import BuildFailed, interpreter, required_python
from shared.specs import InspectionSpec


def _spec(version: str) -> InspectionSpec:
    return InspectionSpec.model_validate(
        {"base": "host", "python": {"requirements": f'[requires]\npython_version = "{version}"\n'}}
    )


def test_the_pipfiles_python_version_is_read() -> None:
    assert required_python(_spec("3.6")) == "3.6"
    assert required_python(InspectionSpec.model_validate({"base": "host"})) is None


def test_own_python_when_it_is_the_one_asked_for() -> None:
    assert interpreter("{}.{}".format(*sys.version_info[:2])) == sys.executable
    assert interpreter(None) == sys.executable


def test_another_version_is_found_on_path_or_in_pyenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "versions" / "3.99.1" / "bin" / "python3.99"
    fake.parent.mkdir(parents=True)
    fake.symlink_to(sys.executable)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")
    assert interpreter("3.99") == str(fake)
    with pytest.raises(BuildFailed, match="requires Python 3.98; this node has no python3.98"):
        interpreter("3.98")
