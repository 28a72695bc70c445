"""The `slurm` testbed: a SLURM cluster behind an SSH login node.

A run is one SLURM job named `tessera-<run id>`. Its sbatch script carries the run's files
(base64) and, on the node, writes them into `<work_dir>/runs/<run id>` (a filesystem shared
with the compute nodes, as on any SLURM cluster), copies the runner and the probe from a
folder uploaded once by SFTP, and ends with `exec python3 runner.py DIR`. Placement is one
remote command (sbatch is its only process); monitoring is one remote command per testbed per
cycle (one squeue, one sacct, one look at the run folders), whatever the number of runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shlex
import threading
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import hwinfo, runner
from shared.config import get_settings
from shared.db.models import Node, Testbed, utcnow
from shared.secrets import SecretError, decrypt
from shared.testbeds import sbatch, slurm_jobs, slurm_nodes, slurm_parse, ssh
from shared.testbeds.base import Collected, Job, Observation, Tracked, mark_offline, mark_online
from shared.testbeds.slurm_config import SlurmConfig

KIND = "slurm"
log = logging.getLogger(__name__)
MAX_LOG_BYTES = 64 * 1024 * 1024


def _lib_files() -> dict[str, bytes]:
    return {
        "runner.py": open(runner.__file__, "rb").read(),
        "hwinfo.py": open(hwinfo.__file__, "rb").read(),
    }


class SlurmConnector:
    """SLURM clusters over SSH; one persistent connection per testbed in this process."""

    kind: ClassVar[str] = KIND

    def __init__(self, pool: ssh.Pool | None = None) -> None:
        self.ssh = pool or ssh.Pool()
        self._lock = threading.Lock()
        self._homes: dict[ssh.Target, str] = {}
        self._libs: set[tuple[ssh.Target, str]] = set()
        self._lib = _lib_files()
        self._lib_hash = hashlib.sha256(b"".join(self._lib.values())).hexdigest()[:16]
        # What the last observe saw of each run: its job and log size (live_log and collect).
        self._seen: dict[uuid.UUID, tuple[str, slurm_parse.JobState | None, int | None]] = {}

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
            max_sessions=config.max_sessions,
            # As many shells as the deployer has threads, leaving channels for SFTP and srun.
            shells=max(1, min(4, config.max_sessions - 4)),
        )

    def _run(self, target: ssh.Target, command: str, timeout: float | None = None) -> ssh.Result:
        return self.ssh.run(target, command, timeout or get_settings().ssh_timeout_s)

    def base(self, testbed: Testbed, target: ssh.Target) -> str:
        """The absolute folder of Tessera's files on the cluster."""
        work_dir = SlurmConfig.model_validate(testbed.config).work_dir
        with self._lock:
            home = self._homes.get(target)
        if home is None:
            home = self._run(target, 'printf %s "$HOME"').check("reading $HOME").stdout.decode()
            with self._lock:
                self._homes[target] = home
        return work_dir if work_dir.startswith("/") else f"{home}/{work_dir}"

    def lib(self, target: ssh.Target, base: str) -> str:
        """The folder holding this version of runner.py and hwinfo.py, uploaded once."""
        folder = f"{base}/lib/{self._lib_hash}"
        if (target, folder) in self._libs:
            return folder
        runs = shlex.quote(f"{base}/runs")
        found = self._run(target, f"test -s {shlex.quote(folder)}/hwinfo.py && test -d {runs}")
        if found.returncode != 0:
            self._run(target, f"mkdir -p {shlex.quote(folder)} {runs}").check("mkdir")
            self.ssh.put(target, {f"{folder}/{name}": data for name, data in self._lib.items()})
        with self._lock:
            self._libs.add((target, folder))
        return folder

    def _cluster(self, testbed: Testbed, base: str, node: Node | None) -> sbatch.Cluster:
        config = SlurmConfig.model_validate(testbed.config)
        slurm = (node.inventory.get("slurm") or {}) if node is not None else {}
        features = node.inventory.get("features", ()) if node is not None else ()
        runtimes = node.inventory.get("runtimes", ()) if node is not None else ()
        return sbatch.Cluster(
            base=base,
            partition=config.partition,
            account=config.account,
            qos=config.qos,
            gres_types=config.gres_types,
            node_features=frozenset(features),
            node_gres_types=tuple(g["type"] for g in slurm.get("gres", ()) if g.get("type")),
            node_runtimes=frozenset(runtimes),
            accounting=config.accounting,
        )

    # ---- discovery --------------------------------------------------------------------------

    def refresh(self, session: Session, testbed: Testbed) -> None:
        try:
            target = self.target(testbed)
            self._discover(session, testbed, target)
        except ssh.SshError as error:
            testbed.state, testbed.state_reason = "offline", str(error)
            log.warning("testbed %s offline: %s", testbed.name, error)
            return
        seen = self.ssh.seen_host_keys.get(target)
        if not testbed.config.get("host_key") and seen:
            testbed.config = {**testbed.config, "host_key": seen}  # trust on first use: pin it
        testbed.state, testbed.state_reason, testbed.refreshed_at = "online", None, utcnow()

    def _discover(self, session: Session, testbed: Testbed, target: ssh.Target) -> None:
        command = (
            f"scontrol show node -o; echo {slurm_jobs.SECTION}; "
            f"sinfo -h -N -o {shlex.quote(slurm_parse.SINFO_FORMAT)}"
        )
        output = self._run(target, command).check("scontrol show node")
        node_text, sinfo_text = (
            slurm_jobs.sections(output.stdout.decode(errors="replace")) + [""]
        )[:2]
        config = SlurmConfig.model_validate(testbed.config)
        partitions: dict[str, list[str]] = {}
        reasons: dict[str, str] = {}
        for row in slurm_parse.parse_sinfo(sinfo_text):
            partitions.setdefault(row.node, []).append(row.partition)
            if row.reason:
                reasons[row.node] = row.reason
        existing = {
            n.name: n
            for n in session.execute(select(Node).where(Node.testbed_id == testbed.id)).scalars()
        }
        base = self.base(testbed, target)
        seen_names = set()
        for found in slurm_parse.parse_nodes(node_text):
            if config.partition and config.partition not in (
                partitions.get(found.name) or found.partitions
            ):
                continue
            seen_names.add(found.name)
            node = existing.get(found.name)
            if node is None:
                node = Node(id=uuid.uuid4(), testbed_id=testbed.id, name=found.name, hwinfo={})
                session.add(node)
            if not node.hwinfo and found.online:
                node.hwinfo = self._probe(target, base, found.name)
            slurm_nodes.store_node(
                node, found, testbed, config, partitions.get(found.name), reasons
            )
        for name, node in existing.items():
            if name not in seen_names:
                node.state, node.state_reason = "offline", "no longer reported by SLURM"

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

    def _node_row(self, testbed: Testbed, name: str) -> Node | None:
        from shared.db.session import process_sessions

        with process_sessions(get_settings().db_url)() as session:
            return session.execute(
                select(Node).where(Node.testbed_id == testbed.id, Node.name == name)
            ).scalar_one_or_none()

    def _guard(self, testbed: Testbed, work: Any) -> Any:
        """Run remote work; an SSH failure marks the testbed offline and propagates."""
        try:
            result = work()
        except ssh.SshError as error:
            mark_offline(testbed, f"unreachable: {error}")
            raise
        if testbed.state != "online":
            mark_online(testbed)
        return result

    def place(self, testbed: Testbed, node: str, run_id: uuid.UUID, job: Job) -> str:
        """Submit the run's job (or adopt the one already submitted); returns the SLURM job id.

        A job SLURM refuses comes back as `error:<reason>`: the monitor ends the run with it.
        """
        node_row = self._node_row(testbed, node)

        def work() -> str:
            target = self.target(testbed)
            base = self.base(testbed, target)
            cluster = self._cluster(testbed, base, node_row)
            try:
                large = sbatch.uploads(job, run_id, cluster)
                text = sbatch.script(job, run_id, node, cluster, self.lib(target, base))
            except sbatch.RenderError as error:
                return f"error:{error}"[:250]
            if large:
                self.ssh.put(target, large, make_dirs=True)
            result = self._run(target, sbatch.place_command(run_id, cluster, text))
            words = result.stdout.decode(errors="replace").split()
            if result.returncode == 0 and len(words) >= 2 and words[-1].isdigit():
                return words[-1]
            detail = (result.stderr or result.stdout).decode(errors="replace").strip()
            return f"error:sbatch refused the job: {detail}"[:250]

        ref: str = self._guard(testbed, work)
        return ref

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> dict[uuid.UUID, Observation]:
        """One remote command for all runs: squeue, sacct and a look at the run folders."""
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
                target, slurm_jobs.observe_command(base, jobs, accounting)
            ).stdout.decode(errors="replace")
            return text

        text = self._guard(testbed, work)
        queue_text, acct_text, files_text = (slurm_jobs.sections(text) + ["", ""])[:3]
        seen = slurm_jobs.read_observation(
            jobs,
            slurm_parse.parse_squeue(queue_text),
            slurm_parse.parse_sacct(acct_text),
            files_text,
        )
        with self._lock:
            for run_id, (observation, job, log_size) in seen.items():
                self._seen[run_id] = (jobs[run_id], job, log_size)
                found[run_id] = observation
        return found

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        with self._lock:
            seen = self._seen.get(run.run_id)
        if seen is None or seen[2] is None or seen[2] == known_size:
            return None  # no log yet, or not grown: no remote call
        target = self.target(testbed)
        base = self.base(testbed, target)
        path = f"{base}/runs/{run.run_id}/log"
        data = self._guard(testbed, lambda: self.ssh.get(target, [path], MAX_LOG_BYTES)[path])
        return data if isinstance(data, bytes) else None

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        if run.backend_ref and run.backend_ref.startswith("error:"):
            return Collected({"error": run.backend_ref[6:]}, {}, b"", b"", None)
        target = self.target(testbed)
        base = self.base(testbed, target)
        folder = f"{base}/runs/{run.run_id}"
        names = ["status.json", "hwinfo.json", "stdout", "stderr", "log", "slurm_job.txt"]
        paths = [f"{folder}/{name}" for name in names] + [f"{folder}.out"]
        names.append("slurm.out")
        got = self._guard(testbed, lambda: self.ssh.get(target, paths, 2 * cap))
        files = {name: got[path] for name, path in zip(names, paths, strict=True)}
        with self._lock:
            seen = self._seen.pop(run.run_id, None)
        status = slurm_jobs.json_object(files["status.json"])
        if status is None:
            status = slurm_jobs.ended_without_runner(seen[1] if seen else None, files["slurm.out"])
        info = slurm_jobs.json_object(files["hwinfo.json"]) or {}
        if files["slurm_job.txt"]:
            job_fields = slurm_parse.fields(files["slurm_job.txt"].decode(errors="replace"))
            scheduler = dict(info.get("scheduler") or {})
            scheduler["job"] = slurm_jobs.job_summary(job_fields)
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
        target = self.target(testbed)
        if run.backend_ref and run.backend_ref.isdigit():
            command = f"scancel {run.backend_ref}"
        else:
            command = f"scancel --name={shlex.quote(sbatch.job_name(run.run_id))}"
        self._guard(testbed, lambda: self._run(target, command).check("scancel"))
