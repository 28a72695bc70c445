"""The `tessera` CLI as a user runs it: a subprocess against the live API."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.cli.user import exits
from tests.integration.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


class Cli:
    """Runs `python -m services.cli` with the stack's address and a token in the environment."""

    def __init__(self, stack: Stack, home: Path, token: str) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TESSERA_")}
        env.update(
            {
                "TESSERA_URL": stack.url,
                "TESSERA_TOKEN": token,
                "TESSERA_CONFIG": str(home / "config.toml"),
                "HOME": str(home),
                "NO_COLOR": "1",
            }
        )
        self.env = env

    def __call__(
        self, *args: str, timeout: float = 240, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def json(self, *args: str, code: int = 0) -> Any:
        """The command's JSON output (the option goes before `--`: after it, it is argv)."""
        split = args.index("--") if "--" in args else len(args)
        done = self(*args[:split], "--output", "json", *args[split:])
        assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
        return json.loads(done.stdout)


@pytest.fixture
def cli(stack: Stack, tmp_path: Path) -> Cli:
    return Cli(stack, tmp_path, stack.token)


def test_login_stores_server_and_token_privately(stack: Stack, tmp_path: Path) -> None:
    cli = Cli(stack, tmp_path, "unused")
    without = {"TESSERA_URL": "", "TESSERA_TOKEN": ""}
    refused = cli("login", stack.url, "--token", "tsr_not_a_token", env=without)
    assert refused.returncode == exits.REFUSED, refused.stderr
    assert "unknown or revoked" in refused.stderr
    assert not (tmp_path / "config.toml").exists()

    done = cli("login", stack.url, "--token", stack.token, env=without)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert tomllib.loads(config.read_text()) == {"url": stack.url, "token": stack.token}
    # Later commands use the stored server and token.
    listed = cli("list", "--output", "json", env=without)
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout)["items"], list)


def test_example_spec_runs_with_its_log_followed_to_the_end(cli: Cli) -> None:
    """The Amun-style example: a real Pipfile.lock, installed with its hashes, run live."""
    done = cli("inspect", str(EXAMPLES / "amun-pipfile" / "spec.yaml"))
    assert done.returncode == 0, (done.stdout, done.stderr)
    streamed = json.loads(done.stdout.splitlines()[0])  # the run's output, followed live
    assert streamed == {
        "six": "1.16.0",
        "installed": "1.16.0",
        "in_venv": True,
        "python": streamed["python"],
    }
    for phase in ("accepted", "environment built", "run 0 on local/", "succeeded"):
        assert phase in done.stderr, (phase, done.stderr)


def test_output_json_parses_and_a_failing_run_exits_non_zero(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho about to fail\necho oops >&2\nexit 3\n")
    failed = cli("inspect", "--script", str(script))
    assert failed.returncode == exits.FAILED, failed.stderr
    assert "about to fail" in failed.stdout and "exit code 3" in failed.stderr

    document = cli.json("inspect", "--script", str(script), "--identifier", "fails", code=1)
    assert document["state"] == "failed" and document["kind"] == "inspection"
    assert document["results"][0]["exit_code"] == 3
    assert document["results"][0]["stderr"] == "oops\n"
    inspection_id = document["id"]

    status = cli.json("status", inspection_id)
    assert status["state"] == "failed" and status["runs"] == {"failed": 1}
    result = cli.json("result", inspection_id)
    assert result["exit_code"] == 3 and result["hwinfo"]["cpu"]["threads"] >= 1
    run_id = status["runs_detail"][0]["id"]
    assert cli.json("status", run_id)["kind"] == "run"
    logs = cli("logs", run_id)
    assert logs.returncode == 0 and "about to fail" in logs.stdout
    followed = cli("logs", inspection_id, "-f")
    assert followed.returncode == exits.FAILED and "oops" in followed.stdout
    listed = cli.json("list")
    assert inspection_id in {item["id"] for item in listed["items"]}


def test_detach_then_follow_and_cancel(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/sh\necho started\nsleep 300\n")
    created = cli.json("inspect", "--script", str(script), "--detach")
    inspection_id = created["inspection_id"]
    assert created["state"] == "pending"
    cancelled = cli.json("cancel", inspection_id)
    assert cancelled["cancelled_runs"] == 1
    followed = cli("logs", inspection_id, "--follow", "--output", "json")
    lines = [json.loads(line) for line in followed.stdout.splitlines()]
    assert lines[-1]["end"]["state"] == "cancelled"
    assert followed.returncode == exits.CANCELLED, followed.stderr
    assert cli("status", str(uuid.uuid4())).returncode == exits.REFUSED


def test_build_only_and_avx512_examples(cli: Cli) -> None:
    built = cli.json("inspect", str(EXAMPLES / "build-only" / "spec.yaml"))
    assert built["state"] == "succeeded" and built["runs"] == []
    has_avx512 = "avx512f" in Path("/proc/cpuinfo").read_text().split()
    checked = cli("inspect", str(EXAMPLES / "avx512-check" / "spec.yaml"), "-o", "json")
    if has_avx512:
        assert checked.returncode == 0, checked.stdout
        assert json.loads(checked.stdout)["results"][0]["stdout"]["avx512f"] is True
    else:
        assert checked.returncode == exits.USAGE and "avx512f" in checked.stdout


def test_gpu_example_is_refused_here_naming_the_constraint(cli: Cli) -> None:
    gpu_here = any(Path("/dev").glob("nvidia[0-9]*"))
    if gpu_here:
        pytest.skip("this machine has an NVIDIA GPU: the refusal cannot be shown here")
    spec = str(EXAMPLES / "pytorch-matmul" / "spec.yaml")
    refused = cli("inspect", spec)
    assert refused.returncode == exits.USAGE, refused.stderr
    assert "H100" in refused.stderr and "run.requests.hardware" in refused.stderr
    document = cli.json("inspect", spec, code=exits.USAGE)
    assert document["status"] == 422
    assert document["fields"][0]["field"] == "run.requests.hardware"
    # The same constraint from flags alone.
    flags = cli("inspect", "--gpu", "H100:1", "--script", spec)
    assert flags.returncode == exits.USAGE and "H100" in flags.stderr


def test_deploy_a_command(cli: Cli) -> None:
    document = cli.json("deploy", "--batch-size", "2", "--", "python3", "-c", "print(6 * 7)")
    assert document["state"] == "succeeded" and document["kind"] == "deployment"
    assert [result["stdout"] for result in document["results"]] == [42, 42]


def test_nodes_like_show_gpus(cli: Cli) -> None:
    nodes = cli.json("nodes")
    local = [node for node in nodes["items"] if node["testbed"] == "local"]
    assert local and local[0]["cores"] >= 1
    table = cli("nodes")
    assert table.returncode == 0
    assert all(word in table.stdout for word in ("TESTBED", "local", local[0]["name"]))
    none = cli("nodes", "--gpu", "H100")
    assert none.returncode == 0 and "no node with H100" in none.stderr
    assert cli.json("nodes", "--gpu", "H100") == {"items": []}


def test_offers_rank_what_fits_and_say_why_the_rest_does_not(cli: Cli) -> None:
    found = cli.json("offers", "--cpu", "1")
    local = [offer for offer in found["offers"] if offer["testbed"] == "local"]
    assert local and local[0]["can_start_now"] and found["offers"][0]["rank"] == 1
    table = cli("offers", "--cpu", "1")
    assert table.returncode == 0 and "RANK" in table.stdout and "local" in table.stdout
    refused = cli("offers", "H100:1")  # no H100 here: every node is ruled out, naming it
    assert refused.returncode == 1, refused.stderr
    assert "Ruled out" in refused.stdout and "H100" in refused.stdout
    assert "no node fits" in refused.stderr
    bad = cli("offers", "H100:x")
    assert bad.returncode == 2 and "hardware" in bad.stderr, bad.stderr


def test_usage_errors_exit_2(cli: Cli, tmp_path: Path) -> None:
    assert cli("inspect", "--batch-size", "many").returncode == exits.USAGE
    assert cli("no-such-command").returncode == exits.USAGE
    typo = tmp_path / "typo.yaml"
    typo.write_text("base: host\nscript: 'true'\nrun:\n  requests:\n    memroy: 1GiB\n")
    done = cli("inspect", str(typo))
    assert done.returncode == exits.USAGE and "run.requests.memroy" in done.stderr
    assert cli("logs", "not-an-id").returncode == exits.USAGE


def test_testbeds_need_an_admin_and_can_be_added_and_removed(
    stack: Stack, cli: Cli, tmp_path: Path
) -> None:
    assert cli("testbeds", "list").returncode == exits.REFUSED
    admin = Cli(stack, tmp_path, stack.admin_token)
    listed = admin.json("testbeds", "list")
    assert "local" in {item["name"] for item in listed["items"]}
    refused = admin("testbeds", "add", "lab", "--kind", "teleporter")
    assert refused.returncode == exits.USAGE and "kind" in refused.stderr
    added = admin.json("testbeds", "add", "spare", "--kind", "local")
    assert added["name"] == "spare"
    assert admin.json("testbeds", "refresh", "spare")["refresh"] == "sent"
    assert admin.json("testbeds", "remove", "spare")["removed"] is True
    assert "spare" not in {item["name"] for item in admin.json("testbeds", "list")["items"]}
