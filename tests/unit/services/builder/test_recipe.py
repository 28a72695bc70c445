"""The Containerfile renderer: what it writes, and that hostile input cannot escape it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.builder import recipe
from shared.environment import RECIPE_VERSION, environment_digest
from shared.python_env import parse_pipfile, pipfile_hash
from shared.specs import InspectionSpec

BASE = "127.0.0.1:5000/debian:bookworm"
HASH = "a" * 64


def spec(**fields: Any) -> InspectionSpec:
    return InspectionSpec.model_validate({"base": BASE, **fields})


def render(**fields: Any) -> recipe.Recipe:
    return recipe.render(spec(**fields), HASH, probe=b"# probe\n")


def instructions(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_minimal_recipe() -> None:
    rendered = render()
    assert instructions(rendered.containerfile) == [
        f"FROM {BASE}",
        f'LABEL io.tessera.spec-hash="{HASH}" io.tessera.recipe-version="{RECIPE_VERSION}"',
        "USER root",
        "COPY tessera/ /opt/tessera/",
        'RUN ["/bin/sh", "/opt/tessera/setup.sh", "packages"]',
        'RUN ["/bin/sh", "/opt/tessera/setup.sh", "python"]',
        'RUN ["/bin/sh", "/opt/tessera/setup.sh", "user", "10001"]',
        'ENV HOME="/home/tessera"',
        "WORKDIR /home/tessera",
        "USER 10001:10001",
    ]
    assert rendered.context["tessera/hwinfo.py"] == (b"# probe\n", 0o644)
    assert rendered.context["tessera/packages.txt"][0] == b""


def test_full_recipe_puts_user_input_in_files_not_commands() -> None:
    rendered = render(
        packages=["jq", "curl=7.88.1-10", "jq"],
        python_packages=["six>=1.16"],
        files=[{"path": "data/run.sh", "content": "echo hi", "executable": True}],
        environment={"B": "2", "A": "1"},
        update=True,
        upgrade_pip=True,
    )
    text = rendered.containerfile
    assert 'RUN ["/bin/sh", "/opt/tessera/setup.sh", "update"]' in text
    assert "COPY --chown=10001:10001 files/ /home/tessera/" in text
    assert text.index('ENV A="1"') < text.index('ENV B="2"')
    assert "ENV PATH=/opt/tessera/venv/bin:${PATH}" in text
    assert text.rstrip().endswith("USER 10001:10001")  # non-root at the end
    assert "jq" not in text and "six" not in text  # names live in the context, not commands
    assert rendered.context["tessera/packages.txt"][0] == b"curl=7.88.1-10\njq\n"
    assert rendered.context["tessera/requirements.txt"][0] == b"six>=1.16\n"
    assert rendered.context["files/data/run.sh"] == (b"echo hi", 0o755)
    assert "tessera/upgrade-pip" in rendered.context
    assert "tessera/requirements-locked" not in rendered.context


def test_locked_requirements_are_marked() -> None:
    pipfile = '[packages]\nsix = "==1.16.0"\n'
    lock = json.dumps(
        {"default": {"six": {"version": "==1.16.0", "hashes": ["sha256:" + "b" * 64]}}}
    )
    rendered = render(python={"requirements": pipfile, "requirements_locked": lock})
    assert "tessera/requirements-locked" in rendered.context
    lines = rendered.context["tessera/requirements.txt"][0].decode()
    assert lines == f"six==1.16.0 --hash=sha256:{'b' * 64}\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("$HOME ${PATH} $(id)", r'"\$HOME \${PATH} \$(id)"'),
        ("back\\slash", r'"back\\slash"'),
        ("`id`; rm -rf / #", r'"`id`; rm -rf / #"'),
        ("trailing \\", r'"trailing \\"'),
    ],
)
def test_env_values_are_quoted(value: str, written: str) -> None:
    assert f"ENV X={written}" in render(environment={"X": value}).containerfile


def test_env_value_can_never_add_an_instruction() -> None:
    hostile = '"\nRUN rm -rf /\n'
    with pytest.raises(recipe.RecipeError):
        recipe.env_line("X", hostile)
    with pytest.raises(recipe.RecipeError):
        recipe.env_line("A=B", "x")
    with pytest.raises(recipe.RecipeError):
        recipe.env_line("A\n", "x")
    with pytest.raises(ValidationError):
        spec(environment={"A\n": "x"})
    with pytest.raises(ValidationError):
        InspectionSpec.model_validate({"base": BASE + "\n"})
    # Validation refuses it before the renderer sees it.
    with pytest.raises(ValidationError, match="line break"):
        spec(environment={"X": hostile})


def test_every_instruction_is_one_line_whatever_the_input() -> None:
    rendered = render(
        environment={"X": 'a" \\" RUN x', "Y": "${X:-$(reboot)}"},
        files=[{"path": "a b/c'd\"e.txt", "content": "\n".join(["RUN evil"] * 3)}],
    )
    for line in instructions(rendered.containerfile):
        assert re.match(r"^(FROM|LABEL|USER|COPY|RUN|ENV|WORKDIR) ", line), line
    assert "evil" not in rendered.containerfile


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "a/../../x", "..", "a\\b"])
def test_file_paths_cannot_leave_the_context(path: str) -> None:
    with pytest.raises(ValidationError):
        spec(files=[{"path": path, "content": "x"}])
    with pytest.raises(recipe.RecipeError):
        recipe._file_path(path)


def test_write_lays_out_the_context(tmp_path: Path) -> None:
    render(files=[{"path": "d/f.txt", "content": "x"}]).write(tmp_path)
    assert (tmp_path / "Containerfile").read_text().startswith("# Rendered by Tessera")
    assert (tmp_path / "files/d/f.txt").read_text() == "x"
    assert (tmp_path / "tessera/setup.sh").stat().st_mode & 0o111
    escape = recipe.Recipe("FROM x\n", {"../out": (b"x", 0o644)})
    with pytest.raises(recipe.RecipeError):
        escape.write(tmp_path / "ctx")


def test_host_base_and_bad_hash_are_refused() -> None:
    host = InspectionSpec.model_validate({"base": "host"})
    with pytest.raises(recipe.RecipeError):
        recipe.render(host, HASH, probe=b"")
    with pytest.raises(recipe.RecipeError):
        recipe.render(spec(), "not-a-hash", probe=b"")


def test_image_hash_covers_files_and_variables_host_hash_does_not() -> None:
    one = environment_digest(spec(environment={"A": "1"}))
    assert one != environment_digest(spec(environment={"A": "2"}))
    assert one == environment_digest(spec(environment={"A": "1"}, script="#!/bin/sh\n"))
    files = [{"path": "b", "content": "1"}, {"path": "a", "content": "2"}]
    assert environment_digest(spec(files=files)) == environment_digest(spec(files=files[::-1]))
    host = {"base": "host"}
    assert environment_digest(InspectionSpec.model_validate(host)) == environment_digest(
        InspectionSpec.model_validate(host | {"environment": {"A": "1"}})
    )
    assert environment_digest(spec(packages=["b", "a"])) == environment_digest(
        spec(packages=["a", "b", "a"])
    )


def test_a_package_manager_installs_the_lock_from_files() -> None:
    pipfile = '[packages]\nsix = "==1.16.0"\n'
    lock = json.dumps(
        {
            "_meta": {"hash": {"sha256": _pipenv_hash(pipfile)}},
            "default": {"six": {"version": "==1.16.0", "hashes": ["sha256:" + "a" * 64]}},
        }
    )
    rendered = render(
        package_manager="micropipenv",
        python={"requirements": pipfile, "requirements_locked": lock},
    )
    assert rendered.context["tessera/package-manager"][0] == b"micropipenv"
    assert rendered.context["tessera/pipenv/Pipfile"][0] == pipfile.encode()
    assert rendered.context["tessera/pipenv/Pipfile.lock"][0] == lock.encode()
    # pip installs the manager; the manager installs the lock
    assert rendered.context["tessera/requirements.txt"][0] == b"micropipenv[toml]\n"
    assert "tessera/requirements-locked" not in rendered.context


def _pipenv_hash(pipfile: str) -> str:
    return pipfile_hash(parse_pipfile(pipfile))
