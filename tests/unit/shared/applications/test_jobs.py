from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.applications import jobs
from shared.db.models import Application, Executable
from shared.store import ArtifactStore

CONFIG = {"build_script": ["make"], "artifacts": ["bin/*"], "timeout": 60}


class Rows:
    """What job_parts reads of a session: rows by (model, id)."""

    def __init__(self, *rows: Any) -> None:
        self.rows = {(type(row), row.id): row for row in rows}

    def get(self, model: type, key: uuid.UUID) -> Any:
        return self.rows.get((model, key))


def _rows(tmp_path: Path) -> tuple[Rows, ArtifactStore, Executable]:
    store = ArtifactStore(tmp_path)
    store.put("applications/a/source/d", b"ZIP")
    store.put("executables/e.tar.gz", b"TGZ")
    app = Application(id=uuid.uuid4(), source_key="applications/a/source/d")
    exe = Executable(
        id=uuid.uuid4(), application_id=app.id, spec=CONFIG, artifact_key="executables/e.tar.gz"
    )
    return Rows(app, exe), store, exe


def test_a_build_ships_the_source_its_spec_and_the_helper(tmp_path: Path) -> None:
    rows, store, exe = _rows(tmp_path)
    parts = jobs.job_parts(rows, store, {"build_of": str(exe.id)}, [])  # type: ignore[arg-type]
    argv, files = parts.argv, parts.files
    assert parts.image is None and argv == [
        "python3",
        "node_build.py",
        "build",
        "tessera-build.json",
    ]
    by_name = {name: data for name, data, _ in files}
    assert by_name["tessera-source.archive"] == b"ZIP"
    spec = json.loads(by_name["tessera-build.json"])
    assert spec["argv"] == ["make"] and spec["artifacts"] == ["bin/*"] and spec["timeout"] == 60
    assert by_name["node_build.py"] == jobs.helper()


def test_a_script_is_a_file_never_a_shell_string() -> None:
    spec, files = jobs.build_spec({**CONFIG, "build_script": "make; echo $HOME\n"}, 10)
    assert spec["argv"] == [] and spec["script"] == "tessera-build.sh"
    assert files == [("tessera-build.sh", b"make; echo $HOME\n", True)]


def test_an_executable_is_unpacked_before_the_command(tmp_path: Path) -> None:
    rows, store, exe = _rows(tmp_path)
    parts = jobs.job_parts(rows, store, {"executable": str(exe.id)}, ["./bin/a", "x"])  # type: ignore[arg-type]
    argv, files = parts.argv, parts.files
    assert argv[-3:] == ["--", "./bin/a", "x"] and files[0] == (
        "tessera-executable.tar.gz",
        b"TGZ",
        False,
    )


def test_a_plain_deployment_is_left_alone(tmp_path: Path) -> None:
    rows, store, _ = _rows(tmp_path)
    assert jobs.job_parts(rows, store, {}, ["true"]) == jobs.Parts(["true"], [])  # type: ignore[arg-type]


def test_an_image_executable_runs_in_its_image_the_command_as_arguments(tmp_path: Path) -> None:
    rows, store, exe = _rows(tmp_path)
    exe.package, exe.image = "image", "127.0.0.1:5000/tessera/env:exe-" + "a" * 64
    command = ["./bin/a", "$(reboot)", "; rm -rf /"]
    parts = jobs.job_parts(rows, store, {"executable": str(exe.id)}, command)  # type: ignore[arg-type]
    assert parts.image == exe.image and parts.files == []
    # The script is fixed; the user's words follow it as "$@", never inside it.
    assert parts.argv[:3] == ["/bin/sh", "-c", 'cp -R /opt/tessera/app/. . && exec "$@"']
    assert parts.argv[4:] == command
    exe.image = None
    with pytest.raises(jobs.MissingArtifact, match="image was not made"):
        jobs.job_parts(rows, store, {"executable": str(exe.id)}, command)  # type: ignore[arg-type]


def test_missing_pieces(tmp_path: Path) -> None:
    rows, store, exe = _rows(tmp_path)
    store.delete("executables/e.tar.gz")
    with pytest.raises(jobs.MissingArtifact, match="artifact is gone"):
        jobs.job_parts(rows, store, {"executable": str(exe.id)}, ["x"])  # type: ignore[arg-type]
    with pytest.raises(jobs.MissingArtifact, match="deleted"):
        jobs.job_parts(rows, store, {"build_of": str(uuid.uuid4())}, [])  # type: ignore[arg-type]


def test_without_build() -> None:
    assert jobs.without_build({"build_of": "x", "command": ["a"]}) == {"command": ["a"]}
    # An image executable's image is its row's, not part of the user's specification.
    given = {"executable": "e", "image": "i", "command": ["a"]}
    assert jobs.without_build(given) == {"executable": "e", "command": ["a"]}
    assert jobs.without_build({"image": "i", "command": ["a"]}) == {"image": "i", "command": ["a"]}


class _Run:
    def __init__(self, deployment_id: uuid.UUID | None) -> None:
        self.deployment_id = deployment_id


def test_missing_asks_for_sizes(tmp_path: Path) -> None:
    from shared.db.models import Deployment

    rows, store, exe = _rows(tmp_path)
    build = Deployment(id=uuid.uuid4(), specification={"build_of": str(exe.id)})
    run_it = Deployment(id=uuid.uuid4(), specification={"executable": str(exe.id)})
    rows.rows[(Deployment, build.id)] = build
    rows.rows[(Deployment, run_it.id)] = run_it
    assert jobs.missing(rows, store, _Run(None)) is None  # type: ignore[arg-type]
    assert jobs.missing(rows, store, _Run(build.id)) is None  # type: ignore[arg-type]
    assert jobs.missing(rows, store, _Run(run_it.id)) is None  # type: ignore[arg-type]
    store.delete("executables/e.tar.gz")
    store.delete("applications/a/source/d")
    assert "artifact is gone" in str(jobs.missing(rows, store, _Run(run_it.id)))  # type: ignore[arg-type]
    assert "source is gone" in str(jobs.missing(rows, store, _Run(build.id)))  # type: ignore[arg-type]
