"""Build an application's configuration, or start one of its executables, on the node.

Standard library only, Python 3.6+: the deployer puts this file into the run's work folder
and the runner starts it (after the hardware probe) as the run's command:

  python3 node_build.py build build.json
      unpack build.json's "source" (zip or tar, already checked by the API) into src/,
      check the native "packages" are installed (dpkg or rpm; exit 4 naming the missing),
      run "argv" there (no shell) with a time limit, its output on stderr (the build log),
      collect the "artifacts" globs from src/ only, and print one JSON line on stdout:
      {"tessera_build": {"exit_code", "artifacts", "sha256", "size", "archive_b64"}}.
  python3 node_build.py exec ARTIFACT.tar.gz -- ARGV...
      unpack the executable's tar.gz into the run's folder, then exec ARGV there.
"""

import base64
import glob
import hashlib
import io
import json
import os
import posixpath
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from typing import Any

SOURCE_DIR = "src"


def _safe(name: "str") -> "str":
    """The entry's relative path, or ValueError when it would leave the folder."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\x00" in name:
        raise ValueError("absolute path: " + name)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError("'..' component: " + name)
    return "/".join(parts)


def _inside(root: "str", path: "str") -> "bool":
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root + os.sep)


def _extract_zip(path: "str", target: "str") -> "None":
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            relative = _safe(info.filename)
            if not relative:
                continue
            destination = os.path.join(target, relative)
            if not _inside(target, os.path.dirname(destination) or target):
                raise ValueError("goes through a link: " + info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if info.filename.endswith("/"):
                os.makedirs(destination, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            if mode == 0o120000:  # a symlink (checked to stay inside by the API)
                target_name = archive.read(info).decode("utf-8")
                os.symlink(target_name, destination)
                if not _inside(target, destination):
                    os.unlink(destination)
                    raise ValueError("symlink leaves the tree: " + info.filename)
                continue
            with archive.open(info) as source, open(destination, "wb") as out:
                while True:
                    chunk = source.read(1024 * 1024)
                    if not chunk:
                        break
                    out.write(chunk)
            permissions = (info.external_attr >> 16) & 0o777
            os.chmod(destination, (permissions or 0o644) | 0o600)


def _extract_tar(path: "str", target: "str") -> "None":
    with tarfile.open(path, "r:*") as archive:
        members = []
        for member in archive.getmembers():
            member.name = _safe(member.name)
            if not member.name:
                continue
            if member.issym() or member.islnk():
                base = posixpath.dirname(member.name) if member.issym() else ""
                link = posixpath.normpath(posixpath.join(base, member.linkname))
                if member.linkname.startswith("/") or link.split("/")[0] == "..":
                    raise ValueError("link leaves the tree: " + member.name)
            elif not (member.isreg() or member.isdir()):
                raise ValueError("not a file, folder or link: " + member.name)
            member.mode = (member.mode & 0o777) | 0o600
            members.append(member)
        for member in members:
            if not _inside(target, os.path.dirname(os.path.join(target, member.name)) or target):
                raise ValueError("goes through a link: " + member.name)
            archive.extract(member, target, set_attrs=not member.issym())


def extract(path: "str", target: "str") -> "None":
    os.makedirs(target, exist_ok=True)
    if zipfile.is_zipfile(path):
        _extract_zip(path, target)
    else:
        _extract_tar(path, target)


def collect(root: "str", patterns: "list[str]") -> "list[str]":
    """The files the globs name under `root`, relative to it; nothing outside it."""
    found: list[str] = []
    for pattern in patterns:
        relative = _safe(pattern)
        for path in sorted(glob.glob(os.path.join(root, relative), recursive=True)):
            if not _inside(root, path) or not os.path.isfile(path):
                continue
            name = os.path.relpath(path, root)
            if name not in found:
                found.append(name)
    return found


def package(root: "str", names: "list[str]") -> "bytes":
    """The files as one tar.gz, reproducible (fixed times and owners)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name in names:
            info = archive.gettarinfo(os.path.realpath(os.path.join(root, name)), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(os.path.join(root, name), "rb") as handle:
                archive.addfile(info, handle)
    return buffer.getvalue()


def _run(argv: "list[str]", cwd: "str", timeout: "float", env: "Any") -> "int":
    child = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=sys.stderr, start_new_session=True, env=env
    )
    deadline = time.monotonic() + timeout
    while child.poll() is None:
        if time.monotonic() > deadline:
            sys.stderr.write(f"tessera: the build ran past its time limit of {timeout:g}s\n")
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return 124
        time.sleep(0.05)
    return child.returncode


def _installed(name: "str", dpkg: "bool") -> "bool":
    ask = ["dpkg-query", "-W", "-f=${Status}", "--", name] if dpkg else ["rpm", "-q", name]
    try:
        done = subprocess.run(ask, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    said = done.stdout.decode("utf-8", "replace")
    return done.returncode == 0 and (not dpkg or said.endswith("install ok installed"))


def missing_packages(names: "list[str]") -> "list[str]":
    """The native packages of `names` this node (or image) lacks, asked of dpkg or rpm; none
    when neither is here (the build then says so and goes on)."""
    if not names:
        return []
    if not _which("dpkg-query") and not _which("rpm"):
        sys.stderr.write("tessera: no dpkg or rpm here; the packages are not checked\n")
        return []
    dpkg = _which("dpkg-query")
    return [name for name in names if not _installed(name, dpkg)]


def _which(tool: "str") -> "bool":
    return any(
        os.access(os.path.join(folder, tool), os.X_OK)
        for folder in os.environ.get("PATH", os.defpath).split(os.pathsep)
        if folder
    )


def build(spec_path: "str") -> "int":
    with open(spec_path) as handle:
        spec = json.load(handle)
    here = os.path.dirname(os.path.abspath(spec_path))
    root = os.path.join(here, SOURCE_DIR)
    try:
        extract(os.path.join(here, spec["source"]), root)
    except (ValueError, OSError, tarfile.TarError, zipfile.BadZipFile) as error:
        sys.stderr.write(f"tessera: the source could not be unpacked: {error}\n")
        return 2
    lacking = missing_packages(list(spec.get("packages") or []))
    if lacking:
        sys.stderr.write(
            "tessera: this node lacks the packages the configuration needs: "
            + ", ".join(lacking)
            + " (install them, or build on a base image that has them)\n"
        )
        sys.stdout.write(json.dumps({"tessera_build": {"exit_code": 4, "missing": lacking}}))
        sys.stdout.write("\n")
        return 4
    argv = list(spec["argv"])
    if spec.get("script"):
        argv = ["/bin/sh", os.path.join(here, spec["script"])]
    sys.stderr.write(f"tessera: building in {root}: {json.dumps(argv)}\n")
    sys.stderr.flush()
    try:
        code = _run(argv, root, float(spec.get("timeout") or 3600), dict(os.environ))
    except OSError as error:
        sys.stderr.write(f"tessera: the build could not start: {error}\n")
        code = 127
    result = {"exit_code": code, "artifacts": []}  # type: dict[str, Any]
    if code == 0:
        names = collect(root, list(spec.get("artifacts") or []))
        result["artifacts"] = names
        if not names:
            sys.stderr.write("tessera: no file matches the artifacts globs\n")
            code = 3
        else:
            data = package(root, names)
            result["sha256"] = hashlib.sha256(data).hexdigest()
            result["size"] = len(data)
            result["archive_b64"] = base64.b64encode(data).decode("ascii")
    sys.stderr.flush()
    sys.stdout.write(json.dumps({"tessera_build": result}) + "\n")
    sys.stdout.flush()
    return code


def run_executable(artifact: "str", argv: "list[str]") -> "int":
    here = os.getcwd()
    try:
        _extract_tar(artifact, here)
    except (ValueError, OSError, tarfile.TarError) as error:
        sys.stderr.write(f"tessera: the executable could not be unpacked: {error}\n")
        return 2
    os.unlink(artifact)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write(f"tessera: could not start {argv[0]}: {error}\n")
        return 127
    return 0  # not reached


def main(args: "list[str]") -> "int":
    if len(args) == 2 and args[0] == "build":
        return build(args[1])
    if len(args) >= 4 and args[0] == "exec" and args[2] == "--":
        return run_executable(args[1], args[3:])
    sys.stderr.write("usage: node_build.py build SPEC | exec ARTIFACT -- ARGV...\n")
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
