"""The `ssh` testbed: plain hosts with no scheduler, each reached over one persistent SSH
connection per worker process (shared/remote/ssh.py).

Tessera is the hosts' scheduler: host.py (uploaded once per version, with runner.py and
hwinfo.py, by content hash) claims a run's GPUs by index, its cores and memory under a host
lock, and starts the runner detached, holding the run's `alive` lock as the local testbed's
runner does: it outlives the SSH connection and Tessera's worker, and a re-delivered
placement adopts it. Monitoring is one remote command per host per cycle.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError

from shared import hwinfo, runner
from shared.config import get_settings
from shared.db.models import Testbed
from shared.remote import ssh
from shared.remote.workspace import Workspace, read_files
from shared.secrets import SecretError, decrypt
from shared.testbeds.base import (
    Collected,
    Discovery,
    Job,
    NodeReport,
    Observation,
    Observations,
    RenderError,
    Tracked,
    Unreachable,
)
from shared.testbeds.slurm.parse import json_object
from shared.testbeds.ssh import host as host_script
from shared.testbeds.ssh import nodes, parse, render
from shared.testbeds.ssh.config import SshConfig, SshHost

KIND = "ssh"
log = logging.getLogger(__name__)
MAX_LOG_BYTES = 64 * 1024 * 1024
PROBE_TIMEOUT_S = 120
T = TypeVar("T")


class SshConnector:
    """SSH hosts; one persistent connection per host in this process."""

    kind: ClassVar[str] = KIND
    queues: ClassVar[bool] = False  # placing a run starts its runner

    def __init__(self, pool: ssh.Pool | None = None) -> None:
        self.ssh = pool or ssh.Pool()
        self._lock = threading.Lock()
        node_files = {"runner.py": runner.__file__, "hwinfo.py": hwinfo.__file__}
        node_files["host.py"] = host_script.__file__
        self.workspace = Workspace(self.ssh, read_files(node_files))
        self._log_sizes: dict[uuid.UUID, int | None] = {}  # what the last observe saw

    # ---- connections ------------------------------------------------------------------------

    def _config(self, testbed: Testbed) -> SshConfig:
        try:
            return SshConfig.model_validate(testbed.config)
        except ValidationError as error:
            raise Unreachable(f"invalid config: {error.errors()[0]['msg']}") from None

    def target(self, testbed: Testbed, host: SshHost) -> ssh.Target:
        if not testbed.credentials:
            raise Unreachable("the testbed has no private key (credentials)")
        try:
            key = decrypt(testbed.credentials)
        except SecretError as error:
            raise Unreachable(str(error)) from None
        max_sessions = self._config(testbed).max_sessions
        return ssh.Target(
            host=host.host,
            port=host.port,
            user=host.user,
            private_key=key,
            host_key=host.host_key,
            trust_on_first_use=get_settings().ssh_trust_on_first_use,
            keepalive_s=get_settings().ssh_keepalive_s,
            max_sessions=max_sessions,
            shells=max(1, min(4, max_sessions - 4)),
        )

    def _run(self, target: ssh.Target, command: str, timeout: float | None = None) -> ssh.Result:
        return self.ssh.run(target, command, timeout or get_settings().ssh_timeout_s)

    def _where(self, testbed: Testbed, node: str) -> tuple[ssh.Target, str, str]:
        """The node's connection target, its BASE folder and the lib folder (uploaded once)."""
        config = self._config(testbed)
        try:
            host = config.host(node)
        except KeyError:
            raise Unreachable(f"no host {node!r} in the testbed's config") from None
        target = self.target(testbed, host)
        timeout = get_settings().ssh_timeout_s
        work = self.workspace.folder(target, config.work_dir, timeout)
        base = f"{work}/{node}"
        lib = self.workspace.lib(target, work, timeout, dirs=[f"{base}/runs", f"{base}/claims"])
        return target, base, lib

    def _guard(self, node: str, work: Callable[[], T]) -> T:
        """Remote work on one host; an SSH failure is that host (so the testbed) unreachable."""
        try:
            return work()
        except ssh.SshError as error:
            raise Unreachable(f"{node}: unreachable: {error}") from error

    # ---- discovery --------------------------------------------------------------------------

    def refresh(self, testbed: Testbed, probed: Mapping[str, dict[str, Any]]) -> Discovery:
        """Every host probed at once: hwinfo and the runtimes that really run there. A host
        that does not answer is offline with the reason; the others keep working."""
        try:
            config = self._config(testbed)
        except Unreachable as error:
            return Discovery(offline=str(error))
        with ThreadPoolExecutor(max_workers=min(8, len(config.hosts))) as pool:
            reports = list(pool.map(lambda h: self._probe(testbed, h, probed), config.hosts))
        if all(report.state == "offline" for report in reports):
            reasons = "; ".join(f"{r.name}: {r.state_reason}" for r in reports)
            return Discovery(offline=f"no host answers ({reasons})"[:500])
        return Discovery(tuple(reports), missing="no longer in the testbed's hosts")

    def _probe(
        self, testbed: Testbed, host: SshHost, probed: Mapping[str, dict[str, Any]]
    ) -> NodeReport:
        try:
            target, _, lib = self._where(testbed, host.node)
            found = self._run(target, f"python3 -I {lib}/hwinfo.py", PROBE_TIMEOUT_S)
            data = json_object(found.check("the hwinfo probe").stdout) or {}
            listed = self._run(target, render.host_command(lib, "runtimes"), PROBE_TIMEOUT_S)
            runtimes = parse.runtimes(listed.check("host.py runtimes").stdout.decode())
        except (ssh.SshError, Unreachable) as error:
            log.warning("host %s of testbed %s offline: %s", host.node, testbed.name, error)
            reason = f"unreachable: {error}"
            return nodes.offline_report(host.node, testbed.name, probed.get(host.node), reason)
        return nodes.node_report(host.node, testbed.name, data, runtimes)

    # ---- runs -------------------------------------------------------------------------------

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        """Send the run's folder and start it (or adopt it); returns the runner's pid.
        NoCapacity when the host's GPUs, cores or memory are held: the run waits."""

        def work() -> str:
            target, base, lib = self._where(testbed, node)
            try:
                made = render.files(job, run_id, base, inventory or {}, get_settings())
            except RenderError as error:
                return f"error:{error}"[:250]
            self.ssh.put(target, made, make_dirs=True)
            executable = render.executable_modes(job, run_id, base)
            result = self._run(target, render.place_command(lib, base, run_id, executable))
            text = result.stdout.decode(errors="replace")
            try:
                return parse.placed(text)
            except ValueError:
                detail = (result.stderr or result.stdout).decode(errors="replace").strip()
                return f"error:the host refused the run: {detail}"[:250]

        return self._guard(node, work)

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> Observations:
        """One remote command per host for all its runs. A host that does not answer is
        reported so, and its runs are left out this cycle (the monitor's failover decides when
        they are lost); the other hosts' runs are followed as usual."""
        found: dict[uuid.UUID, Observation] = {
            r.run_id: Observation("ended", reason=r.backend_ref)
            for r in runs
            if r.backend_ref and r.backend_ref.startswith("error:")
        }
        by_node: dict[str, list[uuid.UUID]] = {}
        for run in runs:
            if run.run_id not in found and run.node:
                by_node.setdefault(run.node, []).append(run.run_id)
        unreachable: dict[str, str] = {}
        answered: list[str] = []
        for node, ids in by_node.items():
            try:
                seen = self._observe_host(testbed, node, ids)
            except (ssh.SshError, Unreachable) as error:
                unreachable[node] = str(error)[:400]
                continue
            answered.append(node)
            with self._lock:
                for run_id, item in seen.items():
                    self._log_sizes[run_id] = item.log_size
                    found[run_id] = item.observation
        return Observations(found, unreachable=unreachable, answered=answered)

    def _observe_host(
        self, testbed: Testbed, node: str, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, parse.Seen]:
        target, base, lib = self._where(testbed, node)
        command = render.host_command(lib, "observe", base, *map(str, ids))
        result = self._run(target, command).check("host.py observe")
        return parse.observations(result.stdout.decode(errors="replace"), ids)

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        with self._lock:
            size = self._log_sizes.get(run.run_id)
        if size is None or size == known_size or not run.node:
            return None  # no log yet, or not grown: no remote call
        node = run.node

        def work() -> bytes | None:
            target, base, _ = self._where(testbed, node)
            path = f"{render.run_folder(base, run.run_id)}/log"
            return self.ssh.get(target, [path], MAX_LOG_BYTES)[path]

        return self._guard(node, work)

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        if run.backend_ref and run.backend_ref.startswith("error:"):
            return Collected({"error": run.backend_ref[6:]}, {}, b"", b"", None)
        node = run.node or ""
        names = ["status.json", "hwinfo.json", "stdout", "stderr", "log"]

        def work() -> dict[str, bytes | None]:
            target, base, _ = self._where(testbed, node)
            folder = render.run_folder(base, run.run_id)
            got = self.ssh.get(target, [f"{folder}/{name}" for name in names], 2 * cap)
            return {name: got[f"{folder}/{name}"] for name in names}

        files = self._guard(node, work)
        with self._lock:
            self._log_sizes.pop(run.run_id, None)
        return Collected(
            status=json_object(files["status.json"]) or {},
            hwinfo=json_object(files["hwinfo.json"]) or {},
            stdout=(files["stdout"] or b"")[:cap],
            stderr=(files["stderr"] or b"")[:cap],
            log=files["log"],
        )

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        """SIGTERM to the run's runner: it stops the command's process group, records the end."""
        if not run.node or (run.backend_ref or "").startswith("error:"):
            return
        node = run.node

        def work() -> None:
            target, base, lib = self._where(testbed, node)
            self._run(target, render.host_command(lib, "cancel", base, str(run.run_id))).check(
                "host.py cancel"
            )

        self._guard(node, work)
