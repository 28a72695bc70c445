from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from shared.applications import node_build

HELPER = Path(node_build.__file__)


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _spec(folder: Path, **values: object) -> Path:
    spec: dict[str, object] = {
        "source": "src.zip",
        "argv": [],
        "script": None,
        "artifacts": [],
        "timeout": 30,
    }
    spec.update(values)
    path = folder / "build.json"
    path.write_text(json.dumps(spec))
    return path


def _build(folder: Path) -> tuple[int, dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, str(HELPER), "build", "build.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout)["tessera_build"], done.stderr


def test_build_collects_the_globs_into_a_tar_gz(tmp_path: Path) -> None:
    _zip(tmp_path / "src.zip", {"a.txt": b"A", "sub/b.txt": b"B", "c.log": b"C"})
    argv = [sys.executable, "-c", "import os; os.mkdir('out'); open('out/x','w').write('X')"]
    _spec(tmp_path, argv=argv, artifacts=["*.txt", "sub/*.txt", "out/x", "none/*"])
    code, result, log = _build(tmp_path)
    assert code == 0, log
    assert result["artifacts"] == ["a.txt", "sub/b.txt", "out/x"]
    data = base64.b64decode(str(result["archive_b64"]))
    assert hashlib.sha256(data).hexdigest() == result["sha256"]
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert sorted(archive.getnames()) == ["a.txt", "out/x", "sub/b.txt"]
        assert all(m.mtime == 0 for m in archive.getmembers())


def test_a_script_file_runs_and_its_output_is_the_log(tmp_path: Path) -> None:
    _zip(tmp_path / "src.zip", {"in": b"1"})
    (tmp_path / "build.sh").write_text("echo building; cp in out\n")
    _spec(tmp_path, script="build.sh", artifacts=["out"])
    code, result, log = _build(tmp_path)
    assert code == 0 and "building" in log and result["artifacts"] == ["out"]


def test_a_failing_build_reports_its_code(tmp_path: Path) -> None:
    _zip(tmp_path / "src.zip", {"in": b"1"})
    _spec(tmp_path, argv=["sh", "-c", "exit 7"], artifacts=["in"])
    code, result, _ = _build(tmp_path)
    assert code == 7 and result["exit_code"] == 7 and "archive_b64" not in result


def test_no_artifact_is_a_failure(tmp_path: Path) -> None:
    _zip(tmp_path / "src.zip", {"in": b"1"})
    _spec(tmp_path, argv=["true"], artifacts=["missing"])
    code, _, log = _build(tmp_path)
    assert code == 3 and "no file matches" in log


@pytest.mark.skipif(not Path("/usr/bin/dpkg-query").exists(), reason="a Debian host")
def test_packages_the_node_lacks_stop_the_build(tmp_path: Path) -> None:
    _zip(tmp_path / "src.zip", {"in": b"1"})
    wanted = ["coreutils", "tessera-no-such-package", "libc6"]
    _spec(tmp_path, argv=["touch", "ran"], artifacts=["in"], packages=wanted)
    code, result, log = _build(tmp_path)
    assert code == 4 and result["missing"] == ["tessera-no-such-package"]
    assert "lacks the packages the configuration needs: tessera-no-such-package" in log
    assert not (tmp_path / "src" / "ran").exists()  # the build never started
    _spec(tmp_path, argv=["touch", "ran"], artifacts=["ran"], packages=["coreutils"])
    assert _build(tmp_path)[0] == 0


def test_the_time_limit_kills_the_build(tmp_path: Path) -> None:
    _zip(tmp_path / "src.zip", {"in": b"1"})
    _spec(tmp_path, argv=["sleep", "30"], artifacts=["in"], timeout=0.5)
    code, _, log = _build(tmp_path)
    assert code == 124 and "time limit" in log


def test_globs_never_leave_the_source(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (tmp_path / "secret").write_text("s")
    os.symlink(tmp_path / "secret", root / "link")
    (root / "ok").write_text("k")
    assert node_build.collect(str(root), ["*"]) == ["ok"]
    with pytest.raises(ValueError):
        node_build.collect(str(root), ["../*"])


def test_extraction_refuses_what_leaves(tmp_path: Path) -> None:
    bad = _zip(tmp_path / "bad.zip", {"../x": b"x"})
    with pytest.raises(ValueError):
        node_build.extract(str(bad), str(tmp_path / "out"))
    assert not (tmp_path / "x").exists()


def test_exec_unpacks_and_runs(tmp_path: Path) -> None:
    script = b'#!/bin/sh\necho ran "$@"\n'
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("bin/app")
        info.size, info.mode = len(script), 0o755
        archive.addfile(info, io.BytesIO(script))
    (tmp_path / "exe.tar.gz").write_bytes(buffer.getvalue())
    done = subprocess.run(
        [sys.executable, str(HELPER), "exec", "exe.tar.gz", "--", "./bin/app", "x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout == "ran x\n"
    assert not (tmp_path / "exe.tar.gz").exists()


def test_usage() -> None:
    assert node_build.main([]) == 64


OLD_PYTHONS = [
    path
    for path in (Path.home() / ".pyenv" / "versions").glob("3.[67].*/bin/python3")
    if path.exists()
]


@pytest.mark.parametrize("python", OLD_PYTHONS, ids=lambda p: p.parent.parent.name)
def test_it_runs_on_the_oldest_node_pythons(python: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("in.txt")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"hi"))
    (tmp_path / "src.zip").write_bytes(buffer.getvalue())  # a tar.gz under any name
    _spec(tmp_path, argv=["cp", "in.txt", "out.txt"], artifacts=["*.txt"], packages=["coreutils"])
    done = subprocess.run(
        [str(python), "-I", str(HELPER), "build", "build.json"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["tessera_build"]
    assert result["artifacts"] == ["in.txt", "out.txt"]
