"""The SSH pool against the real sshd of scripts/slurm.sh (host key pinned, key-only login)."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncssh
import pytest

from shared.remote import ssh

ROOT = Path(__file__).resolve().parents[4]
STATE = Path(os.environ.get("TESSERA_SLURM_STATE", "/var/lib/tessera-slurm"))
PORT = int(os.environ.get("TESSERA_TEST_SSH_PORT", "2222"))
USER = os.environ.get("TESSERA_TEST_SSH_USER", "tessera-ci")


@pytest.fixture(scope="module")
def target() -> ssh.Target:
    subprocess.run([str(ROOT / "scripts" / "slurm.sh")], check=True, capture_output=True)
    return ssh.Target(
        host="127.0.0.1",
        port=PORT,
        user=USER,
        private_key=(STATE / "ssh" / "id_ed25519").read_text(),
        host_key=(STATE / "ssh" / "host_ed25519_key.pub").read_text(),
    )


@pytest.fixture(scope="module")
def pool() -> ssh.Pool:
    return ssh.Pool()


def test_commands_on_a_persistent_shell(pool: ssh.Pool, target: ssh.Target) -> None:
    result = pool.run(target, "printf out; echo err >&2; exit_code() { return 3; }; exit_code")
    assert (result.returncode, result.stdout, result.stderr) == (3, b"out", b"err\n")
    first = pool.run(target, "echo $$").stdout
    assert pool.run(target, "echo $$").stdout == first, "the same shell serves the next command"
    assert pool.run(target, "cat").stdout == b"", "stdin is /dev/null, not the protocol"
    started = time.monotonic()
    for _ in range(50):
        pool.run(target, "true")
    assert (time.monotonic() - started) / 50 < 0.05, "a command on an open shell is cheap"


def test_sftp_on_the_same_connection(pool: ssh.Pool, target: ssh.Target) -> None:
    path = f".tessera-test-{os.getpid()}"
    pool.put(target, {path: bytes(range(256))})
    got = pool.get(target, [path, path + "-missing"], cap=1000)
    assert got == {path: bytes(range(256)), path + "-missing": None}
    pool.run(target, f"rm -f {path}")


def test_channels_stay_under_max_sessions(pool: ssh.Pool, target: ssh.Target) -> None:
    # 30 at once on one connection: without the cap the 11th channel fails ("open failed").
    with ThreadPoolExecutor(30) as workers:
        results = list(workers.map(lambda _: pool.exec("sleep 0.2; echo ok", target), range(30)))
    assert all(r.stdout == b"ok\n" for r in results)


def test_timeout_replaces_the_shell(pool: ssh.Pool, target: ssh.Target) -> None:
    with pytest.raises(ssh.SshError, match="timed out|TimeoutError"):
        pool.run(target, "sleep 5", timeout=0.3)
    assert pool.run(target, "echo back").stdout == b"back\n"


def test_wrong_host_key_is_refused(pool: ssh.Pool, target: ssh.Target) -> None:
    wrong = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    with pytest.raises(ssh.HostKeyMismatch, match="does not match"):
        pool.run(ssh.Target(**{**target.__dict__, "host_key": wrong}), "true")


def test_unknown_host_key_needs_trust_on_first_use(pool: ssh.Pool, target: ssh.Target) -> None:
    unpinned = ssh.Target(**{**target.__dict__, "host_key": None})
    with pytest.raises(ssh.SshError, match="trust on first use is off"):
        pool.run(unpinned, "true")
    trusting = ssh.Target(**{**target.__dict__, "host_key": None, "trust_on_first_use": True})
    assert pool.run(trusting, "echo ok").stdout == b"ok\n"
    pinned = ssh.public_key_of(target.host_key or "").export_public_key("openssh").decode()
    assert pool.seen_host_keys[trusting].split()[:2] == pinned.split()[:2]


def test_unreachable_backs_off(pool: ssh.Pool, target: ssh.Target) -> None:
    closed = ssh.Target(**{**target.__dict__, "port": 1})
    with pytest.raises(ssh.SshError, match="failed"):
        pool.run(closed, "true")
    with pytest.raises(ssh.SshError, match="next attempt in"):
        pool.run(closed, "true")
