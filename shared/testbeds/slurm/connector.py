"""The `slurm` testbed: a SLURM cluster behind an SSH login node.

A run is one SLURM job named `tessera-<run id>`. Its sbatch script carries the run's files
(base64) and, on the node, writes them into `<work_dir>/runs/<run id>` (a filesystem shared
with the compute nodes, as on any SLURM cluster), copies the runner and the probe from a
folder uploaded once by SFTP, and ends with `exec python3 runner.py DIR`. Placement is one
remote command (sbatch is its only process); monitoring is one remote command per testbed per
cycle (one squeue, one sacct, one look at the run folders), whatever the number of runs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

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
from shared.testbeds.slurm import nodes, parse, render
from shared.testbeds.slurm.config import SlurmConfig

KIND = "slurm"
log = logging.getLogger(__name__)
MAX_LOG_BYTES = 64 * 1024 * 1024


class SlurmConnector:
    """SLURM clusters over SSH; one persistent connection per testbed in this process."""

    kind: ClassVar[str] = KIND
    queues: ClassVar[bool] = True  # a job may be pending in the queue

    def __init__(self, pool: ssh.Pool | None = None) -> None:
        self.ssh = pool or ssh.Pool()
        self._lock = threading.Lock()
        node_files = {"runner.py": runner.__file__, "hwinfo.py": hwinfo.__file__}
        self.workspace = Workspace(self.ssh, read_files(node_files))
        # What the last observe saw of each run: its job and log size (live_log and collect).
        self._seen: dict[uuid.UUID, tuple[str, parse.JobState | None, int | None]] = {}

    # ---- connection -------------------------------------------------------------------------

    def target(self, testbed: Testbed) -> ssh.Target:
        try:
            config = SlurmConfig.model_validate(testbed.config)
        except ValidationError as error:
            raise ssh.SshError(f"invalid config: {error.errors()[0]['msg']}") from None
        if not testbed.credentials:
            raise ssh.SshError("the testbed has no private key (credentials)")
        try:
            key = decrypt(testbed.credentials)
        except SecretError as error:
            raise ssh.SshError(str(error)) from None
        return ssh.Target(
            host=config.host,
            port=config.port,
            user=config.user,
            private_key=key,
            host_key=config.host_key,
            trust_on_first_use=get_settings().ssh_trust_on_first_use,
            keepalive_s=get_settings().ssh_keepalive_s,
            max_sessions=config.max_sessions,
            # As many shells as the deployer has threads, leaving channels for SFTP and srun.
            shells=max(1, min(4, config.max_sessions - 4)),
        )

    def _run(self, target: ssh.Target, command: str, timeout: float | None = None) -> ssh.Result:
        return self.ssh.run(target, command, timeout or get_settings().ssh_timeout_s)

    def base(self, testbed: Testbed, target: ssh.Target) -> str:
        """The absolute folder of Tessera's files on the cluster."""
        work_dir = SlurmConfig.model_validate(testbed.config).work_dir
        return self.workspace.folder(target, work_dir, get_settings().ssh_timeout_s)

    def _where(self, testbed: Testbed) -> tuple[ssh.Target, str]:
        target = self.target(testbed)
        return target, self.base(testbed, target)

    def lib(self, target: ssh.Target, base: str) -> str:
        """The folder holding this version of runner.py and hwinfo.py, uploaded once."""
        timeout = get_settings().ssh_timeout_s
        return self.workspace.lib(target, base, timeout, dirs=[f"{base}/runs"])

    def _cluster(self, testbed: Testbed, base: str, inventory: Mapping[str, Any]) -> render.Cluster:
        config = SlurmConfig.model_validate(testbed.config)
        slurm = inventory.get("slurm") or {}
        return render.Cluster(
            base=base,
            partition=config.partition,
            account=config.account,
            qos=config.qos,
            gres_types=config.gres_types,
            node_features=frozenset(inventory.get("features", ())),
            node_gres_types=tuple(g["type"] for g in slurm.get("gres", ()) if g.get("type")),
            node_runtimes=frozenset(inventory.get("runtimes", ())),
            accounting=config.accounting,
            gpu_vendor=config.gres_vendor,
        )

    # ---- discovery --------------------------------------------------------------------------

    def refresh(self, testbed: Testbed, probed: Mapping[str, dict[str, Any]]) -> Discovery:
        """One command lists the nodes; a node not probed yet is probed by srun."""
        try:
            target = self.target(testbed)
            reports = self._discover(testbed, target, probed)
        except ssh.SshError as error:
            log.warning("testbed %s offline: %s", testbed.name, error)
            # The reason a poll's call gives too (_guard): a recheck does not change its words.
            return Discovery(offline=f"unreachable: {error}")
        seen = self.ssh.seen_host_keys.get(target)
        pins = {"host_key": seen} if seen and not testbed.config.get("host_key") else {}
        return Discovery(tuple(reports), missing="no longer reported by SLURM", pins=pins)

    def _discover(
        self, testbed: Testbed, target: ssh.Target, probed: Mapping[str, dict[str, Any]]
    ) -> list[NodeReport]:
        output = self._run(target, render.discover_command()).check("scontrol show node")
        config = SlurmConfig.model_validate(testbed.config)
        base = self.base(testbed, target)
        text = output.stdout.decode(errors="replace")
        parts = parse.sections(text) + ["", "", "", "", "", ""]
        allowed = parse.allowed(*parts[3:5])
        runtimes = ["pyxis"] if parts[5].strip() == "pyxis" else []
        reports = []
        for found in nodes.listed(text, config):
            info = probed.get(found.node.name) or None
            new = None
            if not info and found.node.online:
                new = info = self._probe(target, base, found.node.name)
            report = nodes.node_report(found, info, testbed.name, config, allowed, runtimes)
            reports.append(dataclasses.replace(report, hwinfo=new) if new else report)
        return reports

    def _probe(self, target: ssh.Target, base: str, node: str) -> dict[str, Any]:
        """hwinfo of a node, by srun; {} when it cannot run now (busy): the next refresh retries."""
        lib = self.lib(target, base)
        command = (
            f"srun --immediate=10 --time=2 -N1 -n1 -w {shlex.quote(node)} "
            f"-J tessera-probe python3 {shlex.quote(lib)}/hwinfo.py"
        )
        try:
            result = self.ssh.exec(command, target, timeout=60)
        except ssh.SshError:
            return {}
        try:
            data = json.loads(result.stdout) if result.returncode == 0 else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    # ---- runs -------------------------------------------------------------------------------

    def _guard(self, work: Any) -> Any:
        """Run remote work; an SSH failure is the testbed being unreachable."""
        try:
            return work()
        except ssh.SshError as error:
            raise Unreachable(f"unreachable: {error}") from error

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        """Submit the run's job (or adopt the one already submitted); returns the SLURM job id.

        A job SLURM refuses comes back as `error:<reason>`: the monitor ends the run with it.
        """

        def work() -> str:
            target = self.target(testbed)
            base = self.base(testbed, target)
            cluster = self._cluster(testbed, base, inventory or {})
            try:
                large = render.uploads(job, run_id, cluster)
                text = render.script(job, run_id, node, cluster, self.lib(target, base))
            except RenderError as error:
                return f"error:{error}"[:250]
            if large:
                self.ssh.put(target, large, make_dirs=True)
            result = self._run(target, render.place_command(run_id, cluster, text))
            words = result.stdout.decode(errors="replace").split()
            if result.returncode == 0 and len(words) >= 2 and words[-1].isdigit():
                return words[-1]
            detail = (result.stderr or result.stdout).decode(errors="replace").strip()
            return f"error:sbatch refused the job: {detail}"[:250]

        ref: str = self._guard(work)
        return ref

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> dict[uuid.UUID, Observation]:
        """One remote command for all runs: squeue, sacct, a look at the run folders, and the
        nodes (what other work holds on them, for placement)."""
        jobs = {r.run_id: r.backend_ref for r in runs if r.backend_ref and r.backend_ref.isdigit()}
        found: dict[uuid.UUID, Observation] = {
            r.run_id: Observation("ended", reason=r.backend_ref)
            for r in runs
            if r.backend_ref and r.backend_ref.startswith("error:")
        }
        if not jobs:
            return found

        def work() -> str:
            target = self.target(testbed)
            base = self.base(testbed, target)
            accounting = SlurmConfig.model_validate(testbed.config).accounting
            text: str = self._run(
                target, render.observe_command(base, jobs, accounting)
            ).stdout.decode(errors="replace")
            return text

        text = self._guard(work)
        queue_text, acct_text, files_text, node_text = (parse.sections(text) + ["", "", ""])[:4]
        queue = parse.parse_squeue(queue_text)
        seen = parse.read_observation(jobs, queue, parse.parse_sacct(acct_text), files_text)
        with self._lock:
            for run_id, (observation, job, log_size) in seen.items():
                self._seen[run_id] = (jobs[run_id], job, log_size)
                found[run_id] = observation
        return Observations(found, nodes.usage(node_text, queue))

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        with self._lock:
            seen = self._seen.get(run.run_id)
        if seen is None or seen[2] is None or seen[2] == known_size:
            return None  # no log yet, or not grown: no remote call
        target, base = self._guard(lambda: self._where(testbed))
        path = f"{base}/runs/{run.run_id}/log"
        data = self._guard(lambda: self.ssh.get(target, [path], MAX_LOG_BYTES)[path])
        return data if isinstance(data, bytes) else None

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        if run.backend_ref and run.backend_ref.startswith("error:"):
            return Collected({"error": run.backend_ref[6:]}, {}, b"", b"", None)
        target, base = self._guard(lambda: self._where(testbed))
        folder = f"{base}/runs/{run.run_id}"
        names = ["status.json", "hwinfo.json", "stdout", "stderr", "log", "slurm_job.txt"]
        paths = [f"{folder}/{name}" for name in names] + [f"{folder}.out"]
        names.append("slurm.out")
        got = self._guard(lambda: self.ssh.get(target, paths, 2 * cap))
        files = {name: got[path] for name, path in zip(names, paths, strict=True)}
        with self._lock:
            seen = self._seen.pop(run.run_id, None)
        status = parse.json_object(files["status.json"])
        if status is None:
            status = parse.ended_without_runner(seen[1] if seen else None, files["slurm.out"])
        info = parse.json_object(files["hwinfo.json"]) or {}
        if files["slurm_job.txt"]:
            job_fields = parse.fields(files["slurm_job.txt"].decode(errors="replace"))
            scheduler = dict(info.get("scheduler") or {})
            scheduler["job"] = parse.job_summary(job_fields)
            info["scheduler"] = scheduler
        return Collected(
            status=status,
            hwinfo=info,
            stdout=(files["stdout"] or b"")[:cap],
            stderr=(files["stderr"] or b"")[:cap],
            log=files["log"],
        )

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        """scancel the job (by id, or by the run's job name when no id was recorded)."""
        if run.backend_ref and run.backend_ref.startswith("error:"):
            return
        target = self._guard(lambda: self.target(testbed))
        if run.backend_ref and run.backend_ref.isdigit():
            command = f"scancel {run.backend_ref}"
        else:
            command = f"scancel --name={shlex.quote(render.job_name(run.run_id))}"
        result = self._guard(lambda: self._run(target, command))
        if result.returncode != 0 and b"Invalid job id" in result.stderr:
            return  # long gone: slurmctld has forgotten the job
        self._guard(lambda: result.check("scancel"))
