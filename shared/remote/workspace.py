"""Tessera's files on remote machines reached over one `ssh.Pool`: each target's home, read
once, and a folder of node-side files (runner, probe, ...) uploaded once per version, named
by the hash of their content, so a new release never runs an old runner."""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import threading
from collections.abc import Iterable, Mapping

from shared.remote import ssh


def read_files(paths: Mapping[str, str]) -> dict[str, bytes]:
    """name -> content of local files (the modules that travel to nodes)."""
    found = {}
    for name, path in paths.items():
        with open(path, "rb") as handle:
            found[name] = handle.read()
    return found


class Workspace:
    """Where Tessera's files are on each target, and the lib folder uploaded once there."""

    def __init__(self, pool: ssh.Pool, files: Mapping[str, bytes]) -> None:
        self.pool = pool
        self.files = dict(files)
        self.version = hashlib.sha256(b"".join(self.files.values())).hexdigest()[:16]
        self._lock = threading.Lock()
        self._homes: dict[ssh.Target, str] = {}
        self._uploaded: set[tuple[ssh.Target, str]] = set()

    def folder(self, target: ssh.Target, work_dir: str, timeout: float) -> str:
        """`work_dir` as an absolute path on the target (relative ones are under its home)."""
        if work_dir.startswith("/"):
            return work_dir
        with self._lock:
            home = self._homes.get(target)
        if home is None:
            found = self.pool.run(target, 'printf %s "$HOME"', timeout)
            home = found.check("reading $HOME").stdout.decode()
            with self._lock:
                self._homes[target] = home
        return f"{home}/{work_dir}"

    def lib(self, target: ssh.Target, root: str, timeout: float, dirs: Iterable[str] = ()) -> str:
        """ROOT/lib/VERSION holding this version's files, uploaded on first use (with `dirs`
        made beside it); later calls in this process make no remote call."""
        folder = f"{root}/lib/{self.version}"
        if (target, folder) in self._uploaded:
            return folder
        made = [folder, *dirs]
        checks = [f"test -s {shlex.quote(f'{folder}/{name}')}" for name in sorted(self.files)]
        checks += [f"test -d {shlex.quote(path)}" for path in made[1:]]
        if self.pool.run(target, " && ".join(checks), timeout).returncode != 0:
            quoted = " ".join(shlex.quote(path) for path in made)
            self.pool.run(target, f"mkdir -p {quoted}", timeout).check("mkdir")
            # Written under names of this call's own, then renamed: another process checking
            # or running the files (a placement beside a refresh) never sees one half written.
            tag = f".{os.getpid()}-{secrets.token_hex(4)}.part"
            self.pool.put(
                target, {f"{folder}/{name}{tag}": data for name, data in self.files.items()}
            )
            moves = [
                f"mv -f {shlex.quote(f'{folder}/{name}{tag}')} {shlex.quote(f'{folder}/{name}')}"
                for name in sorted(self.files)
            ]
            self.pool.run(target, " && ".join(moves), timeout).check("installing the files")
        with self._lock:
            self._uploaded.add((target, folder))
        return folder
