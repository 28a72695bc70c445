"""The `kubernetes` testbed: runs as batch/v1 Jobs on a Kubernetes cluster.

A run is one Job named `tessera-<run id>` (the idempotency key: a second placement meets
409 AlreadyExists and adopts the Job) and one ConfigMap of the same name, owned by the Job,
holding the script, the run's files, job.json, the probe and the pod's entry script. The pod
pins the node Tessera chose (required node affinity on `metadata.name`), selects the GPU model
label, the arch and the NFD CPU flags the spec asks for, requests and limits the GPUs, and
tolerates the node's GPU taints. The init container `hwinfo` runs from Tessera's own image
(`tessera_image`) with the main container's GPUs: it prints the probe's JSON (read back from
pods/log?container=hwinfo), leaves it in a shared emptyDir for the command, prepares the run's
folder there and copies the static tessera-exec into it. The main container runs the run's
image with the command as given, started by tessera-exec, which frames stdout and stderr apart
in the container's log (split again by `parse.demux`), enforces the timeout and writes the
status as the termination message; the exit code is the container's.

Calls go through the official client, one ApiClient per testbed per process, every call with
`_request_timeout`; lists are read as raw JSON (no model objects). Monitoring is one
label-selected list of Jobs and one of pods per testbed per cycle, whatever the number of
runs. Refresh is one list of nodes and one of pods (GPUs in use).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError

from shared.db.models import Testbed
from shared.testbeds.base import (
    Collected,
    Discovery,
    Job,
    NodeReport,
    Observation,
    RenderError,
    Tracked,
)
from shared.testbeds.kubernetes import nodes as knodes
from shared.testbeds.kubernetes import outputs as koutputs
from shared.testbeds.kubernetes import parse as kparse
from shared.testbeds.kubernetes import render as kjobs
from shared.testbeds.kubernetes import schedule as kschedule
from shared.testbeds.kubernetes.client import (
    Client,
    KubeError,
    loads,
    make_client,
    status_message,
)
from shared.testbeds.kubernetes.config import KubernetesConfig

KIND = "kubernetes"
log = logging.getLogger(__name__)
MAX_LOG_BYTES = 64 * 1024 * 1024
# A workflow copy's outputs (at most workflow_data.OUTPUTS_CAP, 4 MiB) as base64 records.
OUTPUTS_LOG_BYTES = 4 * 1024 * 1024 * 4 // 3 + 64 * 1024
ACTIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"
T = TypeVar("T")


@dataclass(slots=True)
class _Seen:
    """What the connector keeps of a run between cycles: an ended run's Job and pods (slim)
    for `collect` in the same cycle; of a run still going only its running pod's name, for
    live logs, so thousands of running runs cost a few hundred bytes each."""

    job: dict[str, Any] | None
    pods: list[dict[str, Any]]
    log_fetched_at: float = 0.0
    running_pod: str | None = None


class KubernetesConnector:
    """Kubernetes clusters through the API server; one ApiClient per testbed in this process."""

    kind: ClassVar[str] = KIND
    queues: ClassVar[bool] = True  # a pod may be pending

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[uuid.UUID, Client] = {}
        self._seen: dict[uuid.UUID, _Seen] = {}
        self._log_budget: dict[uuid.UUID, int] = {}  # live-log fetches left this cycle
        self.calls = 0  # API calls made by this connector (the benchmark reads it)

    # ---- the client -------------------------------------------------------------------------

    def client(self, testbed: Testbed) -> Client:
        """The testbed's ApiClient, made once per process (again when its config changes)."""
        try:
            config = KubernetesConfig.model_validate(testbed.config)
        except ValidationError as error:
            raise KubeError(f"invalid config: {error.errors()[0]['msg']}") from None
        fingerprint = hashlib.sha256(
            json.dumps(testbed.config, sort_keys=True).encode()
            + (testbed.credentials or "").encode()
        ).hexdigest()
        with self._lock:
            found = self._clients.get(testbed.id)
            if found is not None and found.fingerprint == fingerprint:
                return found
            made = make_client(testbed, config, fingerprint)
            if found is not None:
                found.api.close()
            self._clients[testbed.id] = made
            return made

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """One API call; a connection failure or a server error is the testbed unreachable."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        with self._lock:
            self.calls += 1
        try:
            return call()
        except ApiException as error:
            if error.status is not None and 400 <= error.status < 500 and error.status != 401:
                raise  # the caller decides (404, 409, 403...)
            reason = f"{what}: Kubernetes API error {error.status}: {status_message(error)}"
            raise KubeError(reason) from None
        except (HTTPError, OSError) as error:
            raise KubeError(f"{what}: unreachable: {error}"[:500]) from None

    def _json(self, what: str, call: Callable[[], Any]) -> dict[str, Any]:
        response = self._call(what, call)
        data = loads(response.data)
        return data if isinstance(data, dict) else {}

    # ---- discovery --------------------------------------------------------------------------

    def refresh(self, testbed: Testbed, probed: Mapping[str, dict[str, Any]]) -> Discovery:
        """One list of nodes and one of active pods (the GPUs in use)."""
        from kubernetes.client.exceptions import ApiException

        try:
            kube = self.client(testbed)
            timeout = kube.config.request_timeout_s
            listed = self._json(
                "list nodes",
                lambda: kube.core.list_node(_request_timeout=timeout, _preload_content=False),
            )
            pods = self._active_pods(kube)
        except (KubeError, ApiException) as error:
            reason = str(error) if isinstance(error, KubeError) else status_message(error)
            log.warning("testbed %s offline: %s", testbed.name, reason)
            return Discovery(offline=reason)
        config = kube.config
        items = pods.get("items") or []
        in_use = knodes.gpus_in_use(items, config.gpu_resources)
        others = knodes.gpus_in_use(items, config.gpu_resources, but=knodes.tessera_pod)
        reports: dict[str, NodeReport] = {}
        for item in listed.get("items") or []:
            found = knodes.read_node(item, config, testbed.name)
            name = found.info.name
            if not name:
                continue
            reports[name] = NodeReport(
                name=name,
                state="online" if found.online else ("flagged" if found.flagged else "offline"),
                state_reason=found.reason,
                info=found.info,
                inventory=knodes.inventory_of(
                    found, in_use.get(name, 0), config.host_image is not None, others.get(name, 0)
                ),
            )
        return Discovery(tuple(reports.values()), missing="no longer in the cluster")

    def _active_pods(self, kube: Client) -> dict[str, Any]:
        """Pods that hold resources: cluster-wide, or the namespace's when that is forbidden."""
        from kubernetes.client.exceptions import ApiException

        timeout = kube.config.request_timeout_s
        try:
            return self._json(
                "list pods",
                lambda: kube.core.list_pod_for_all_namespaces(
                    field_selector=ACTIVE_PODS, _request_timeout=timeout, _preload_content=False
                ),
            )
        except ApiException as error:
            if error.status != 403:
                raise
        return self._json(
            "list pods",
            lambda: kube.core.list_namespaced_pod(
                kube.config.namespace,
                field_selector=ACTIVE_PODS,
                _request_timeout=timeout,
                _preload_content=False,
            ),
        )

    # ---- runs -------------------------------------------------------------------------------

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        """Create the run's Job and ConfigMap, or adopt the Job of an earlier attempt.

        The backend ref is `namespace/job name`; a run Kubernetes or the renderer refuses comes
        back as `error:<reason>` and the monitor ends the run with it.
        """
        target = kschedule.Target.of(node, inventory or {})
        kube = self.client(testbed)
        try:
            manifest, configmap = kjobs.render(job, run_id, testbed.id, target, kube.config)
        except (RenderError, koutputs.OutputsError) as error:
            return f"error:{error}"[:250]
        return self.submit(testbed, manifest, configmap)

    def submit(self, testbed: Testbed, manifest: dict[str, Any], configmap: dict[str, Any]) -> str:
        """Create (or adopt) a rendered Job and its ConfigMap: two calls on a first placement."""
        from kubernetes.client.exceptions import ApiException

        kube = self.client(testbed)
        namespace, name = kube.config.namespace, manifest["metadata"]["name"]
        timeout = kube.config.request_timeout_s
        try:
            created = self._json(
                "create job",
                lambda: kube.batch.create_namespaced_job(
                    namespace, manifest, _request_timeout=timeout, _preload_content=False
                ),
            )
        except ApiException as error:
            if error.status != 409:
                return f"error:Kubernetes refused the Job: {status_message(error)}"[:250]
            created = self._json(  # AlreadyExists: an earlier attempt placed it; adopt it
                "read job",
                lambda: kube.batch.read_namespaced_job(
                    name, namespace, _request_timeout=timeout, _preload_content=False
                ),
            )
        owned = kjobs.owned_by(configmap, created)
        try:
            self._call(
                "create configmap",
                lambda: kube.core.create_namespaced_config_map(
                    namespace, owned, _request_timeout=timeout, _preload_content=False
                ),
            )
        except ApiException as error:
            if error.status != 409:
                self._delete_job(kube, name)
                return f"error:Kubernetes refused the ConfigMap: {status_message(error)}"[:250]
        return f"{namespace}/{name}"

    def _lists(
        self, testbed: Testbed, label_selector: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """One list of Jobs and one of pods, by label."""
        kube = self.client(testbed)
        namespace, timeout = kube.config.namespace, kube.config.request_timeout_s
        jobs = self._json(
            "list jobs",
            lambda: kube.batch.list_namespaced_job(
                namespace,
                label_selector=label_selector,
                _request_timeout=timeout,
                _preload_content=False,
            ),
        )
        pods = self._json(
            "list pods",
            lambda: kube.core.list_namespaced_pod(
                namespace,
                label_selector=label_selector,
                _request_timeout=timeout,
                _preload_content=False,
            ),
        )
        return list(jobs.get("items") or []), list(pods.get("items") or [])

    @staticmethod
    def _by_run(
        jobs: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]]
    ) -> dict[uuid.UUID, _Seen]:
        """Each run's Job and pods, kept only in the fields Tessera reads (kparse.slim): the
        connector remembers them for every tracked run between cycles."""
        found: dict[uuid.UUID, _Seen] = {}
        for job in jobs:
            run_id = kparse.run_id_of(job)
            if run_id is not None:
                found.setdefault(run_id, _Seen(None, [])).job = kparse.slim_job(job)
        for pod in pods:
            run_id = kparse.run_id_of(pod)
            if run_id is not None:
                found.setdefault(run_id, _Seen(None, [])).pods.append(kparse.slim_pod(pod))
        return found

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> dict[uuid.UUID, Observation]:
        """Two calls for all of a testbed's runs: its Jobs and its pods, by label. The objects
        are matched to the tracked runs by the run-id label's text and read as they came; only
        an ended run's are kept (slim), for its collect."""
        found: dict[uuid.UUID, Observation] = {
            r.run_id: Observation("ended", reason=r.backend_ref)
            for r in runs
            if r.backend_ref and r.backend_ref.startswith("error:")
        }
        wanted = {str(r.run_id): r.run_id for r in runs if r.run_id not in found}
        if not wanted:
            return found
        budget = self.client(testbed).config.live_logs_per_cycle
        jobs, pods = self._lists(testbed, kjobs.selector(testbed.id))
        job_of: dict[uuid.UUID, dict[str, Any]] = {}
        pods_of: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for job in jobs:
            run_id = wanted.get(kparse.run_label(job))
            if run_id is not None:
                job_of[run_id] = job
        for pod in pods:
            run_id = wanted.get(kparse.run_label(pod))
            if run_id is not None:
                pods_of.setdefault(run_id, []).append(pod)
        with self._lock:
            self._log_budget[testbed.id] = budget
            for run_id in wanted.values():
                its_job, its_pods = job_of.get(run_id), pods_of.get(run_id, [])
                observation = kparse.observe(its_job, its_pods)
                before = self._seen.get(run_id)
                fetched = before.log_fetched_at if before is not None else 0.0
                if observation.state in ("running", "pending"):
                    seen = _Seen(None, [], fetched, kparse.running_pod_name(its_pods))
                else:
                    slim = kparse.slim_job(its_job) if its_job is not None else None
                    seen = _Seen(slim, [kparse.slim_pod(p) for p in its_pods], fetched)
                self._seen[run_id] = seen
                found[run_id] = observation
        return found

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        """The main container's log while it runs, fetched at most every
        `live_log_interval_s` per run and `live_logs_per_cycle` times per monitor cycle
        (Kubernetes has no cheap "has it grown" check: each fetch is a call)."""
        kube = self.client(testbed)
        interval = kube.config.live_log_interval_s
        with self._lock:
            seen = self._seen.get(run.run_id)
            if (
                seen is None
                or seen.running_pod is None
                or interval <= 0
                or time.monotonic() - seen.log_fetched_at < interval
                or self._log_budget.get(testbed.id, 0) <= 0
            ):
                return None
            seen.log_fetched_at = time.monotonic()
            self._log_budget[testbed.id] -= 1
            pod = {"metadata": {"name": seen.running_pod}}
        raw = self._log(kube, pod, kjobs.MAIN_CONTAINER, MAX_LOG_BYTES)
        data = kparse.demux(raw)[2] if raw else b""
        if not data or len(data) == known_size:
            return None
        return data

    def _log(self, kube: Client, pod: Mapping[str, Any], container: str, cap: int) -> bytes | None:
        from kubernetes.client.exceptions import ApiException

        name = (pod.get("metadata") or {}).get("name")
        if not name:
            return None
        try:
            response = self._call(
                f"read log of {container}",
                lambda: kube.core.read_namespaced_pod_log(
                    name,
                    kube.config.namespace,
                    container=container,
                    limit_bytes=cap,
                    _request_timeout=kube.config.request_timeout_s,
                    _preload_content=False,
                ),
            )
        except ApiException:  # not started, or gone: no log
            return None
        data: bytes = response.data
        return data

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        """The ended run's status, hwinfo (the init container's log) and log."""
        if run.backend_ref and run.backend_ref.startswith("error:"):
            return Collected({"error": run.backend_ref[6:]}, {}, b"", b"", None)
        kube = self.client(testbed)
        with self._lock:
            seen = self._seen.pop(run.run_id, None)
        if seen is None or (seen.job is None and not seen.pods):
            jobs, pods = self._lists(testbed, f"{kjobs.RUN_LABEL}={run.run_id}")
            seen = self._by_run(jobs, pods).get(run.run_id, _Seen(None, []))
        pod = kparse.latest_pod(seen.pods)
        status = kparse.ended_status(seen.job, pod)
        hwinfo: dict[str, Any] = {}
        stdout = stderr = both = b""
        if pod is not None:
            probe_log = self._log(kube, pod, kjobs.PROBE_CONTAINER, 4 * 1024 * 1024)
            hwinfo = kparse.hwinfo_from_log(probe_log or b"")
            # Both streams and their framing (a few bytes a line) in one log, then a workflow
            # task's outputs (base64: up to OUTPUTS_LOG_BYTES more).
            limit = min(MAX_LOG_BYTES, 2 * cap + cap // 4 + 4096 + OUTPUTS_LOG_BYTES)
            raw = self._log(kube, pod, kjobs.MAIN_CONTAINER, limit) or b""
            stdout, stderr, both = kparse.demux(raw)
            wanted = koutputs.asked(pod)
            status.update(koutputs.collect(raw, wanted, status.get("exit_code")))
        hwinfo = kparse.with_scheduler(hwinfo, pod, kube.config.namespace)
        tail = str(status.pop("stderr_tail", "") or "").encode()
        return Collected(
            status=status,
            hwinfo=hwinfo,
            stdout=stdout[:cap],
            stderr=(stderr or tail)[:cap],
            log=both if pod is not None else None,  # gone: keep the live log stored
        )

    def _delete_job(self, kube: Client, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self._call(
                "delete job",
                lambda: kube.batch.delete_namespaced_job(
                    name,
                    kube.config.namespace,
                    propagation_policy="Background",
                    _request_timeout=kube.config.request_timeout_s,
                    _preload_content=False,
                ),
            )
        except ApiException as error:
            if error.status != 404:
                raise KubeError(f"delete job: {status_message(error)}") from None

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        """Delete the Job with background propagation: its pod is stopped, its ConfigMap goes."""
        if run.backend_ref and run.backend_ref.startswith("error:"):
            return
        self._delete_job(self.client(testbed), kjobs.job_name(run.run_id))
