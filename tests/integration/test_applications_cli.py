"""`tessera app ...` and `tessera deploy --executable` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Stack
from tests.integration.test_applications import HELLO_C, MAKEFILE
from tests.integration.test_cli import Cli

pytestmark = pytest.mark.integration

CONFIGURATIONS = """configurations:
  - name: generic
    build_script: [make]
    artifacts: [bin/hello]
"""


def test_create_upload_build_list_deploy(stack: Stack, tmp_path: Path) -> None:
    cli = Cli(stack, tmp_path, stack.token)
    app = cli.json("app", "create", "hello-cli")["application_id"]
    source = tmp_path / "src"
    source.mkdir()
    (source / "hello.c").write_bytes(HELLO_C)
    (source / "Makefile").write_bytes(MAKEFILE)
    uploaded = cli.json("app", "upload", app, str(source))
    assert uploaded["file_count"] == 2
    (tmp_path / "configurations.yaml").write_text(CONFIGURATIONS)
    built = cli("app", "build", app, str(tmp_path / "configurations.yaml"))
    assert built.returncode == 0, (built.stdout, built.stderr)
    assert "cc -O2 -o bin/hello hello.c" in built.stdout  # the live build log
    assert "compiled" in built.stdout and "generic" in built.stdout
    listed = cli("app", "executables", app)
    assert listed.returncode == 0 and "CONFIGURATION" in listed.stdout
    (executable,) = cli.json("app", "executables", app)["items"]
    done = cli("deploy", "--executable", executable["executable_id"], "--", "./bin/hello", "cli")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "hello from cli: 500500" in done.stdout
