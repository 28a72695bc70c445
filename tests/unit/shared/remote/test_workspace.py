"""The node-side files go to a target once per version, and never half written."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from shared.remote import ssh
from shared.remote.workspace import Workspace


class LocalPool:
    """Runs the commands with this machine's shell and writes the files here: what a target
    would do, without sshd."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.written: list[str] = []

    def run(self, target: Any, command: str, timeout: float) -> ssh.Result:
        self.commands.append(command)
        done = subprocess.run(["bash", "-c", command], capture_output=True, timeout=timeout)
        return ssh.Result(done.returncode, done.stdout, done.stderr)

    def put(self, target: Any, files: dict[str, bytes], timeout: float = 60.0) -> None:
        for path, data in files.items():
            Path(path).write_bytes(data)
            self.written.append(path)


def test_files_are_uploaded_under_their_own_names_then_renamed(tmp_path: Path) -> None:
    pool = LocalPool()
    files = {"runner.py": b"print('runner')\n", "hwinfo.py": b"print('probe')\n"}
    workspace = Workspace(pool, files)  # type: ignore[arg-type]
    target = ssh.Target("h", 22, "u", "key", None)
    folder = workspace.lib(target, str(tmp_path), 10, dirs=[str(tmp_path / "runs")])
    assert folder == f"{tmp_path}/lib/{workspace.version}"
    for name, data in files.items():
        assert (Path(folder) / name).read_bytes() == data
    # Never written in place: a reader of runner.py sees the old file or the whole new one.
    assert all(path.endswith(".part") for path in pool.written)
    assert sorted(p.name for p in Path(folder).iterdir()) == ["hwinfo.py", "runner.py"]
    assert (tmp_path / "runs").is_dir()
    calls = len(pool.commands)
    assert workspace.lib(target, str(tmp_path), 10) == folder  # known: no remote call
    assert len(pool.commands) == calls
    again = Workspace(pool, files)  # type: ignore[arg-type]
    assert again.lib(target, str(tmp_path), 10) == folder  # another process
    assert len(pool.written) == 2  # already there: only checked
