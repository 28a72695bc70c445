"""Persistent SSH connections for remote testbeds (asyncssh on a background event loop).

One connection per target per process, kept across tasks. Commands go through a few
persistent remote `bash --noprofile --norc` shells (a command on an open shell costs ~5 ms,
a new exec channel ~60-90 ms); files move by SFTP on the same connection. Channels stay under
the server's MaxSessions; every call has a timeout; a failed connect backs off before the next.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncssh

T = TypeVar("T")
BACKOFF_MAX_S = 10.0


class SshError(Exception):
    """The target could not be reached or a command could not be run; str() is the reason."""


class HostKeyMismatch(SshError):
    """The server's host key is not the one pinned in the testbed's config."""


@dataclass(frozen=True)
class Target:
    """Where to connect and how to trust it."""

    host: str
    port: int
    user: str
    private_key: str = field(repr=False)
    host_key: str | None  # an OpenSSH public key line; None only with trust_on_first_use
    trust_on_first_use: bool = False
    max_sessions: int = 10
    shells: int = 2
    connect_timeout_s: float = 10.0
    keepalive_s: float = 15.0  # a keepalive every this long; 3 unanswered: the connection is lost

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes

    def check(self, what: str) -> Result:
        if self.returncode != 0:
            detail = self.stderr.decode(errors="replace").strip()[-500:]
            raise SshError(f"{what} exited {self.returncode}: {detail}")
        return self


KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-", "sk-ssh-ed25519", "sk-ecdsa-sha2-")


def host_key_line(value: str) -> str:
    """`type base64` of a public host key written as in known_hosts or a .pub file (the
    host pattern and the comment dropped); ValueError when it is not one."""
    words = value.strip().split()
    if words and not words[0].startswith(KEY_TYPES):
        words = words[1:]  # a known_hosts line: the host pattern comes first
    if len(words) < 2 or not words[0].startswith(KEY_TYPES):
        raise ValueError("not an OpenSSH public key line (`ssh-ed25519 AAAA...`)")
    if not re.fullmatch(r"[A-Za-z0-9+/=]{20,}", words[1]):
        raise ValueError("the key's base64 body is malformed")
    return f"{words[0]} {words[1]}"


def public_key_of(line: str) -> asyncssh.SSHKey:
    """The key in `ssh-ed25519 AAAA... [comment]`, or in a known_hosts line (host first)."""
    words = line.strip().split()
    if words and not words[0].startswith(("ssh-", "ecdsa-", "sk-")):
        words = words[1:]
    return asyncssh.import_public_key(" ".join(words[:2]))


class _Shell:
    """A remote bash reading commands on stdin; one command at a time, framed by a marker."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes]) -> None:
        self.process = process
        self.mark = secrets.token_hex(8).encode()
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, connection: asyncssh.SSHClientConnection) -> _Shell:
        process = await connection.create_process("bash --noprofile --norc", encoding=None)
        # stderr of each command goes to a file that is read back after its exit status
        process.stdin.write(b"__T=$(mktemp -d) && trap 'rm -rf \"$__T\"' EXIT\n")
        return cls(process)

    async def run(self, command: str, timeout: float) -> Result:
        mark = self.mark.decode()
        framed = (
            f'{{ {command}\n}} </dev/null 2>"$__T/e"; '
            f'printf \'\\n{mark} %d\\n\' $?; [ -s "$__T/e" ] && cat "$__T/e"; '
            f"printf '\\n{mark}\\n'\n"
        )
        async with self.lock:
            self.process.stdin.write(framed.encode())
            stdout = self.process.stdout

            async def read() -> Result:
                out = await stdout.readuntil(b"\n" + self.mark + b" ")
                code = await stdout.readline()
                err = await stdout.readuntil(b"\n" + self.mark + b"\n")
                return Result(
                    int(code.strip() or b"255"),
                    out[: -len(self.mark) - 2],
                    err[: -len(self.mark) - 2],
                )

            return await asyncio.wait_for(read(), timeout)

    def close(self) -> None:
        self.process.close()


async def _opening(make: Callable[[], Awaitable[T]]) -> T:
    """Open a channel, retrying briefly: the server counts a channel we closed until its close
    handshake is done, so a new one opened right after may be refused ("open failed")."""
    for attempt in range(6):
        try:
            return await make()
        except asyncssh.ChannelOpenError:
            if attempt == 5:
                raise
            await asyncio.sleep(0.02 * 2**attempt)
    raise AssertionError("unreachable")


class _Connection:
    """One SSH connection: a pool of shells, one SFTP client, a cap on open channels."""

    def __init__(self, target: Target, connection: asyncssh.SSHClientConnection) -> None:
        self.target = target
        self.connection = connection
        # Keep one channel spare below MaxSessions for SFTP or a one-off exec.
        self.channels = asyncio.Semaphore(max(1, target.max_sessions - 2))
        self.idle: list[_Shell] = []
        self.shells = 0
        self.shell_ready = asyncio.Condition()
        self.sftp: asyncssh.SFTPClient | None = None
        self.sftp_lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self.connection.is_closed()

    async def _take_shell(self) -> _Shell:
        async with self.shell_ready:
            while not self.idle and self.shells >= self.target.shells:
                await self.shell_ready.wait()
            if self.idle:
                return self.idle.pop()
            self.shells += 1
        try:
            await self.channels.acquire()
            return await _opening(lambda: _Shell.open(self.connection))
        except BaseException:
            self.channels.release()
            async with self.shell_ready:
                self.shells -= 1
                self.shell_ready.notify()
            raise

    async def _give_back(self, shell: _Shell, healthy: bool) -> None:
        async with self.shell_ready:
            if healthy:
                self.idle.append(shell)
            else:
                shell.close()
                self.channels.release()
                self.shells -= 1
            self.shell_ready.notify()

    async def run(self, command: str, timeout: float) -> Result:
        shell = await self._take_shell()
        healthy = False
        try:
            result = await shell.run(command, timeout)
            healthy = True
            return result
        finally:
            # A timed-out shell is in an unknown state: close it, a new one takes its place.
            await self._give_back(shell, healthy)

    async def exec(self, command: str, timeout: float) -> Result:
        async with self.channels:
            done = await asyncio.wait_for(
                _opening(lambda: self.connection.run(command, encoding=None, check=False)),
                timeout,
            )
        return Result(
            done.exit_status if done.exit_status is not None else 255,
            _bytes(done.stdout),
            _bytes(done.stderr),
        )

    async def sftp_client(self) -> asyncssh.SFTPClient:
        async with self.sftp_lock:
            if self.sftp is None:
                await self.channels.acquire()
                self.sftp = await _opening(self.connection.start_sftp_client)
            return self.sftp

    def close(self) -> None:
        self.connection.close()


class Pool:
    """Connections by target, on one event loop running in a daemon thread of this process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="ssh")
        self._thread.start()
        self._connections: dict[Target, _Connection] = {}
        self._connecting: dict[Target, asyncio.Lock] = {}
        self._failures: dict[Target, tuple[int, float, str]] = {}  # count, retry at, reason
        self.seen_host_keys: dict[Target, str] = {}
        self.remote_calls = 0  # commands and transfers sent, for benchmarks and tests

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run a coroutine on the pool's loop from any thread, giving up after `timeout`."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise SshError(f"timed out after {timeout:g} s") from None

    async def connection(self, target: Target) -> _Connection:
        existing = self._connections.get(target)
        if existing is not None and not existing.closed:
            return existing
        lock = self._connecting.setdefault(target, asyncio.Lock())
        async with lock:
            existing = self._connections.get(target)
            if existing is not None and not existing.closed:
                return existing
            count, retry_at, reason = self._failures.get(target, (0, 0.0, ""))
            if time.monotonic() < retry_at:
                wait = retry_at - time.monotonic()
                raise SshError(f"{reason} (next attempt in {wait:.0f} s)")
            try:
                made = _Connection(target, await self._connect(target))
            except SshError as error:
                delay = min(BACKOFF_MAX_S, 2.0**count)
                self._failures[target] = (count + 1, time.monotonic() + delay, str(error))
                raise
            self._failures.pop(target, None)
            self._connections[target] = made
            return made

    async def _connect(self, target: Target) -> asyncssh.SSHClientConnection:
        where = f"{target.host}:{target.port}"
        known_hosts: Any
        if target.host_key:
            known_hosts = ([public_key_of(target.host_key)], [], [])
        elif target.trust_on_first_use:
            known_hosts = None
        else:
            raise SshError(f"no host key pinned for {where} and trust on first use is off")
        try:
            connection = await asyncio.wait_for(
                asyncssh.connect(
                    target.host,
                    target.port,
                    username=target.user,
                    client_keys=[asyncssh.import_private_key(target.private_key)],
                    known_hosts=known_hosts,
                    agent_path=None,
                    keepalive_interval=target.keepalive_s,
                    keepalive_count_max=3,
                    login_timeout=target.connect_timeout_s,
                ),
                target.connect_timeout_s,
            )
        except asyncssh.HostKeyNotVerifiable:
            raise HostKeyMismatch(
                f"host key of {where} does not match the key pinned in config.host_key; "
                "refusing to connect"
            ) from None
        except asyncssh.PermissionDenied:
            raise SshError(
                f"ssh login as {target.user} to {where} refused (check the key)"
            ) from None
        except (TimeoutError, OSError, asyncssh.Error) as error:
            raise SshError(f"ssh to {where} failed: {str(error) or type(error).__name__}") from None
        server_key = connection.get_server_host_key()
        if server_key is not None:
            self.seen_host_keys[target] = server_key.export_public_key("openssh").decode().strip()
        return connection

    async def _using(self, target: Target, work: Any) -> Any:
        connection = await self.connection(target)
        self.remote_calls += 1
        try:
            return await work(connection)
        except (asyncssh.Error, OSError, asyncio.IncompleteReadError, EOFError) as error:
            # A command that timed out most often means a host that stopped answering: the
            # connection is dropped, so the next call reconnects, and fails fast (with backoff)
            # while the host is gone, instead of waiting out a timeout per call.
            lost = asyncssh.ConnectionLost | EOFError | TimeoutError
            if connection.closed or isinstance(error, lost):
                connection.close()
                self._connections.pop(target, None)
            raise SshError(f"ssh to {target.host}:{target.port}: {error!r}") from None

    def run(self, target: Target, command: str, timeout: float = 30.0) -> Result:
        """Run a command on a persistent remote shell (stdin is /dev/null)."""

        async def work(connection: _Connection) -> Result:
            return await connection.run(command, timeout)

        result: Result = self.call(self._using(target, work), timeout + 15)
        return result

    def exec(self, command: str, target: Target, timeout: float = 30.0) -> Result:
        """Run a command on its own exec channel (for long commands that must not block a shell)."""

        async def work(connection: _Connection) -> Result:
            return await connection.exec(command, timeout)

        result: Result = self.call(self._using(target, work), timeout + 15)
        return result

    def put(
        self,
        target: Target,
        files: dict[str, bytes],
        timeout: float = 60.0,
        make_dirs: bool = False,
    ) -> None:
        """Write files (remote path -> content) by SFTP, all at once."""

        async def work(connection: _Connection) -> None:
            sftp = await connection.sftp_client()
            if make_dirs:
                for folder in sorted({path.rsplit("/", 1)[0] for path in files if "/" in path}):
                    await sftp.makedirs(folder, exist_ok=True)

            async def one(path: str, data: bytes) -> None:
                async with sftp.open(path, "wb") as handle:
                    await handle.write(data)

            await asyncio.wait_for(asyncio.gather(*(one(p, d) for p, d in files.items())), timeout)

        self.call(self._using(target, work), timeout + 15)

    def get(
        self, target: Target, paths: list[str], cap: int, timeout: float = 60.0
    ) -> dict[str, bytes | None]:
        """Read up to `cap` bytes of each remote file by SFTP; None for a missing one."""

        async def work(connection: _Connection) -> dict[str, bytes | None]:
            sftp = await connection.sftp_client()

            async def one(path: str) -> bytes | None:
                try:
                    async with sftp.open(path, "rb") as handle:
                        data: bytes = await handle.read(cap)
                        return data
                except asyncssh.SFTPNoSuchFile:
                    return None

            found = await asyncio.wait_for(asyncio.gather(*(one(p) for p in paths)), timeout)
            return dict(zip(paths, found, strict=True))

        result: dict[str, bytes | None] = self.call(self._using(target, work), timeout + 15)
        return result

    def close(self, target: Target) -> None:
        """Drop the target's connection (the next call reconnects)."""

        async def drop() -> None:
            connection = self._connections.pop(target, None)
            if connection is not None:
                connection.close()
            self._failures.pop(target, None)

        self.call(drop(), 10)


def _bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    return data.encode() if isinstance(data, str) else bytes(data)
