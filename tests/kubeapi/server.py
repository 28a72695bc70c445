"""A Kubernetes API server test double: real HTTP, a small scheduler, a kubelet of processes.

No real API server can be installed here, so this serves the REST paths the official
`kubernetes` Python client calls, on 127.0.0.1 (a free port, a threaded HTTP server):

    GET  /version
    GET  /api/v1/nodes                                   (labelSelector, fieldSelector)
    GET  /api/v1/pods                                    (all namespaces; selectors; watch)
    GET  /api/v1/namespaces/{ns}/pods[/{name}]           (selectors; watch=true streams)
    GET  /api/v1/namespaces/{ns}/pods/{name}/log         (container=, limitBytes=, tailLines=)
    POST/GET/DELETE /api/v1/namespaces/{ns}/configmaps[/{name}]
    POST/GET/DELETE /apis/batch/v1/namespaces/{ns}/jobs[/{name}]   (propagationPolicy=)

Errors are Kubernetes `Status` objects (404 NotFound, 409 AlreadyExists, 422 Invalid, 401).
Every request is counted by method and path template (`calls`), which the benchmark reads.

The controllers, in one background thread:

- Job controller: a Job gets one pod (`<job>-<5 chars>`, labelled `job-name` and
  `controller-uid`, owned by the Job); the pod's outcome sets the Job's `succeeded`/`failed`,
  `Complete` or `Failed` (BackoffLimitExceeded) conditions; `activeDeadlineSeconds` fails it
  with DeadlineExceeded and stops its pod; `ttlSecondsAfterFinished` deletes it.
- Scheduler: binds a pending pod to a node that satisfies its nodeSelector, its required node
  affinity (matchExpressions In/NotIn/Exists/DoesNotExist/Gt/Lt, matchFields metadata.name),
  its resource requests (cpu, memory and extended resources such as nvidia.com/gpu, against
  the node's allocatable less what bound pods request; a pod requests the larger of its
  containers' sum and its largest init container) and whose NoSchedule/NoExecute taints it
  tolerates; otherwise PodScheduled=False, reason Unschedulable, with the scheduler's message
  (`0/3 nodes are available: 1 Insufficient nvidia.com/gpu, ...`). Cordoned and not-Ready
  nodes take nothing.
- Garbage collector: deleting a Job with propagationPolicy Background or Foreground deletes
  its pods (their processes get SIGTERM, then SIGKILL) and every object it owns (ConfigMaps
  with an ownerReference to its uid); Orphan, or no policy (the API's default for Jobs),
  leaves them.

The kubelet runs each bound pod's containers as local processes, so logs are real:

- Images are not pulled: the command runs on this host. What an image stands for is its PATH
  (`images`: image -> PATH; the command is looked up there, as a runtime does in the image's
  PATH): a stock image without python3 is a folder of a few tools (`stock_image_path`), and
  Tessera's image (`DEFAULT_TESSERA_IMAGE`, or `tessera_image`) is the host's PATH with
  `tessera-exec` (tessera_exec.c, compiled here once by `build_exec`) in front. Any other
  image gets this host's PATH. An absolute path (/bin/sh) is the host's file, whatever the
  image. An image listed in `missing_images` never starts: its container waits in
  ErrImagePull, then ImagePullBackOff, as on a cluster.
- Volumes are host folders: an emptyDir is a temporary folder shared by the pod's containers;
  a ConfigMap volume is a folder holding its keys as files (binaryData decoded, defaultMode
  applied); the pod waits until its ConfigMap exists, as the kubelet does. Because the
  processes see the host's file system, every mountPath (and the terminationMessagePath) is
  mapped to its host folder wherever a container's command, args, env values and workingDir
  name it (a string that is, or starts with, the mount path).
- Init containers run one after the other, then the containers, sharing the emptyDirs; each
  one's stdout and stderr go to its one log, mixed, as a kubelet keeps them; the termination
  message is the file at terminationMessagePath (4096 bytes at most), or with
  `FallbackToLogsOnError` and an empty file after a failure, the log's last 80 lines (2048
  bytes at most); exit 0 is Completed, others Error, a signal 128+n; a command that cannot be
  started is StartError, exit code 128, with containerd's message.
- securityContext, resource limits and the GPU devices are not enforced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from shared.testbeds.kubernetes.config import DEFAULT_TESSERA_IMAGE
from shared.testbeds.kubernetes.nodes import quantity

Obj = dict[str, Any]
TERMINATION_MAX = 4096
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048
KILL_GRACE_S = 3.0
EXEC_SOURCE = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "testbeds", "kubernetes", "tessera_exec.c"
)
_build_lock = threading.Lock()


def build_exec() -> str:
    """The folder holding tessera-exec built from tessera_exec.c as the Dockerfile builds it
    (static, warnings as errors), once per source version (cached in the temp folder)."""
    with open(EXEC_SOURCE, "rb") as handle:
        source = handle.read()
    folder = os.path.join(
        tempfile.gettempdir(), f"tessera-exec-{hashlib.sha256(source).hexdigest()[:16]}"
    )
    binary = os.path.join(folder, "tessera-exec")
    with _build_lock:
        if os.path.exists(binary):
            return folder
        os.makedirs(folder, exist_ok=True)
        partial = f"{binary}.{os.getpid()}.{threading.get_ident()}"
        flags = ["-Os", "-std=c99", "-Wall", "-Wextra", "-Werror"]
        built = subprocess.run(
            ["cc", "-static", *flags, "-o", partial, EXEC_SOURCE],
            capture_output=True, check=False,
        )  # fmt: skip
        if built.returncode != 0:
            raise RuntimeError(f"cannot build tessera-exec: {built.stderr.decode()}")
        os.replace(partial, binary)
    return folder


def stock_image_path(folder: str, tools: Iterable[str] = ("sh", "echo", "cat", "sleep")) -> str:
    """A PATH standing for a stock image without python3: a folder of a few host tools."""
    os.makedirs(folder, exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            raise RuntimeError(f"{tool} is not on this host")
        target = os.path.join(folder, tool)
        if not os.path.exists(target):
            os.symlink(found, target)
    return folder


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    cpu: str = "8",
    memory: str = "32Gi",
    extended: Mapping[str, str] | None = None,
    taints: Iterable[Mapping[str, str]] = (),
    ready: bool = True,
    arch: str = "amd64",
) -> Obj:
    """A Node object shaped as `kubectl get node -o json` prints it."""
    resources = {"cpu": cpu, "memory": memory, "pods": "110", **(extended or {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/arch": arch,
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                **(labels or {}),
            },
        },
        "spec": {"taints": [dict(t) for t in taints]} if taints else {},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "KubeletReady" if ready else "KubeletNotReady",
                    "message": "kubelet is posting ready status" if ready else "PLEG not healthy",
                }
            ],
            "nodeInfo": {"architecture": arch, "operatingSystem": "linux"},
        },
    }


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


# ---- selectors --------------------------------------------------------------------------------


def _split_terms(text: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current.strip())
    return terms


def label_matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector syntax: k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b)."""
    for term in _split_terms(selector or ""):
        if " notin " in term or " in " in term:
            negate = " notin " in term
            key, _, rest = term.partition(" notin " if negate else " in ")
            values = {v.strip() for v in rest.strip().strip("()").split(",")}
            inside = labels.get(key.strip()) in values
            if inside == negate:
                return False
        elif "!=" in term:
            key, _, value = term.partition("!=")
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, _, value = term.replace("==", "=").partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return "" if value is None else str(value)


def field_matches(selector: str | None, obj: Mapping[str, Any]) -> bool:
    for term in _split_terms(selector or ""):
        if "!=" in term:
            key, _, value = term.partition("!=")
            if _field(obj, key.strip()) == value.strip():
                return False
        else:
            key, _, value = term.replace("==", "=").partition("=")
            if _field(obj, key.strip()) != value.strip():
                return False
    return True


def _expression(expr: Mapping[str, Any], value: str | None) -> bool:
    op, values = expr.get("operator"), [str(v) for v in expr.get("values") or []]
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            return int(value) > int(values[0]) if op == "Gt" else int(value) < int(values[0])
        except ValueError:
            return False
    return False


# ---- the server --------------------------------------------------------------------------------


class KubeApi:
    """The double: start() serves it; `kubeconfig()` is a kubeconfig for the client."""

    def __init__(
        self,
        nodes: Iterable[Obj],
        *,
        token: str = "test-token",
        run_containers: bool = True,
        missing_images: Iterable[str] = (),
        images: Mapping[str, str] | None = None,
        tessera_image: str = DEFAULT_TESSERA_IMAGE,
    ) -> None:
        self.nodes: dict[str, Obj] = {n["metadata"]["name"]: n for n in nodes}
        self.pods: dict[tuple[str, str], Obj] = {}
        self.jobs: dict[tuple[str, str], Obj] = {}
        self.configmaps: dict[tuple[str, str], Obj] = {}
        self.token = token
        self.run_containers = run_containers
        self.missing_images = set(missing_images)
        self.images = dict(images or {})
        if run_containers and tessera_image not in self.images:
            host = os.environ.get("PATH", os.defpath)
            self.images[tessera_image] = os.pathsep.join([build_exec(), host])
        self.calls: Counter[str] = Counter()
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.events: list[tuple[int, str, str, Obj]] = []  # (rv, resource, type, object)
        self._rv = 1
        self._due = 0.0  # see _controllers
        self._processes: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self._dirs: dict[tuple[str, str], str] = {}
        self._logs: dict[tuple[str, str, str], str] = {}
        self._times: dict[str, list[float]] = {}  # job uid -> [started, ended] (monotonic)
        self._used: dict[str, dict[str, Decimal]] = {}  # node -> requests of its bound pods
        self._stopping = threading.Event()
        self._root = tempfile.mkdtemp(prefix="kubeapi-")
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # ---- lifecycle ----

    def start(self) -> KubeApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _handle(self, method: str) -> None:
                api._serve(self, method)

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._handle("DELETE")

            def do_PUT(self) -> None:  # noqa: N802
                self._handle("PUT")

            def do_PATCH(self) -> None:  # noqa: N802
                self._handle("PATCH")

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client closing its kept-alive connection is not an error worth a trace.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._controllers, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self.lock:
            processes = list(self._processes.values())
        for process in processes:
            _kill(process)
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> KubeApi:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self, namespace: str = "default") -> str:
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "double", "cluster": {"server": self.url}}],
                "users": [{"name": "tessera", "user": {"token": self.token}}],
                "contexts": [
                    {
                        "name": "double",
                        "context": {"cluster": "double", "user": "tessera", "namespace": namespace},
                    }
                ],
                "current-context": "double",
            }
        )

    # ---- objects ----

    def _stamp(self, obj: Obj, resource: str, kind: str) -> None:
        """A new resourceVersion for a changed object, and a watch event."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self.events.append((self._rv, resource, kind, json.loads(json.dumps(obj))))
        del self.events[:-5000]
        self.changed.notify_all()

    def _new_meta(self, obj: Obj, namespace: str | None) -> None:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("labels", {})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        if namespace is not None:
            meta["namespace"] = namespace

    def pod_of_job(self, namespace: str, job: str) -> Obj | None:
        with self.lock:
            found = [
                p
                for (ns, _), p in self.pods.items()
                if ns == namespace and p["metadata"]["labels"].get("job-name") == job
            ]
            return json.loads(json.dumps(found[-1])) if found else None

    # ---- HTTP ----

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        template = "/".join(
            "{ns}" if i > 0 and parts[i - 1] == "namespaces" else p
            for i, p in enumerate(parts)
            if not (i > 0 and parts[i - 1] in ("pods", "jobs", "configmaps", "nodes"))
        )
        self.calls[f"{method} /{template}"] += 1
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            if handler.headers.get("Authorization") != f"Bearer {self.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if (query.get("watch") or "").lower() in ("true", "1"):
                self._watch(handler, parts, query)
                return
            code, body = self._route(method, parts, query, raw)
        except ApiError as error:
            code, body = error.code, error.body()
        except (ValueError, KeyError, TypeError) as error:
            code, body = 400, ApiError(400, "BadRequest", str(error)).body()
        if isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body
            kind = "text/plain"
        else:
            data, kind = json.dumps(body).encode(), "application/json"
        handler.send_response(code)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], raw: bytes
    ) -> tuple[int, Obj | bytes]:
        if parts == ["version"]:
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-tessera-double"}
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
            group = "v1"
        elif parts[:3] == ["apis", "batch", "v1"]:
            rest = parts[3:]
            group = "batch/v1"
        else:
            raise ApiError(404, "NotFound", f"the server could not find {'/'.join(parts)}")
        namespace = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), rest[2:]
        store = self._store(group, resource)
        with self.lock:
            if method == "GET" and name is None:
                return 200, self._list(store, resource, namespace, query)
            if method == "GET" and sub == ["log"] and resource == "pods":
                return 200, self._log(namespace or "", name or "", query)
            if method == "GET":
                return 200, self._get(store, resource, namespace, name or "")
            if method == "POST" and name is None and namespace is not None:
                return 201, self._create(store, resource, namespace, json.loads(raw))
            if method == "DELETE" and name is not None and namespace is not None:
                body = json.loads(raw) if raw else {}
                policy = query.get("propagationPolicy") or body.get("propagationPolicy")
                return 200, self._delete(store, resource, namespace, name, policy)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {resource}")

    def _store(self, group: str, resource: str) -> dict[Any, Obj]:
        stores: dict[tuple[str, str], dict[Any, Obj]] = {
            ("v1", "nodes"): self.nodes,
            ("v1", "pods"): self.pods,
            ("v1", "configmaps"): self.configmaps,
            ("batch/v1", "jobs"): self.jobs,
        }
        if (group, resource) not in stores:
            raise ApiError(404, "NotFound", f"the server could not find {group} {resource}")
        return stores[(group, resource)]

    def _key(self, resource: str, namespace: str | None, name: str) -> Any:
        return name if resource == "nodes" else (namespace, name)

    def _matches(self, obj: Obj, namespace: str | None, query: Mapping[str, str]) -> bool:
        meta = obj["metadata"]
        return (
            (namespace is None or meta.get("namespace") == namespace)
            and label_matches(query.get("labelSelector"), meta.get("labels") or {})
            and field_matches(query.get("fieldSelector"), obj)
        )

    def _list(
        self, store: dict[Any, Obj], resource: str, namespace: str | None, query: Mapping[str, str]
    ) -> Obj:
        items = [o for o in store.values() if self._matches(o, namespace, query)]
        kind = {"nodes": "NodeList", "pods": "PodList", "configmaps": "ConfigMapList"}
        return {
            "kind": kind.get(resource, "JobList"),
            "apiVersion": "batch/v1" if resource == "jobs" else "v1",
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }

    def _get(self, store: dict[Any, Obj], resource: str, namespace: str | None, name: str) -> Obj:
        found = store.get(self._key(resource, namespace, name))
        if found is None:
            raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
        return found

    def _create(self, store: dict[Any, Obj], resource: str, namespace: str, obj: Obj) -> Obj:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{resource}: metadata.name: Required value")
        if (namespace, name) in store:
            group = "batch" if resource == "jobs" else ""
            qualified = f"{resource}.{group}" if group else resource
            raise ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists')
        if resource == "jobs":
            self._check_job(obj)
        self._new_meta(obj, namespace)
        if resource == "jobs":
            obj["status"] = {}
        store[(namespace, name)] = obj
        self._stamp(obj, resource, "ADDED")
        if resource == "jobs":
            self._start_job(namespace, obj)
        return obj

    @staticmethod
    def _check_job(obj: Obj) -> None:
        template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        if not template.get("containers"):
            raise ApiError(422, "Invalid", "spec.template.spec.containers: Required value")
        if template.get("restartPolicy") not in ("Never", "OnFailure"):
            raise ApiError(
                422, "Invalid", 'spec.template.spec.restartPolicy: Unsupported value: "Always"'
            )

    def _delete(
        self, store: dict[Any, Obj], resource: str, namespace: str, name: str, policy: str | None
    ) -> Obj:
        obj = store.pop((namespace, name), None)
        if obj is None:
            raise ApiError(404, "NotFound", f'{resource} "{name}" not found')
        self._stamp(obj, resource, "DELETED")
        if resource == "pods":
            self._stop_pod(namespace, name)
        if policy in ("Background", "Foreground"):
            self._collect_garbage(namespace, obj["metadata"]["uid"])
        return {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}

    def _collect_garbage(self, namespace: str, owner_uid: str) -> None:
        for store, resource in ((self.pods, "pods"), (self.configmaps, "configmaps")):
            for key, obj in list(store.items()):
                owners = obj["metadata"].get("ownerReferences") or []
                if key[0] == namespace and any(o.get("uid") == owner_uid for o in owners):
                    store.pop(key, None)
                    self._stamp(obj, resource, "DELETED")
                    if resource == "pods":
                        self._stop_pod(namespace, key[1])

    def _log(self, namespace: str, name: str, query: Mapping[str, str]) -> bytes:
        pod = self.pods.get((namespace, name))
        if pod is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found')
        names = [c["name"] for c in pod["spec"].get("initContainers") or []]
        names += [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container") or (names[-1] if len(names) == 1 else "")
        if container not in names:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {name}, choose one of: {names}",
            )
        path = self._logs.get((namespace, name, container))
        if path is None:
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: PodInitializing',
            )
        with open(path, "rb") as handle:
            data = handle.read()
        if "tailLines" in query:
            data = b"".join(data.splitlines(keepends=True)[-int(query["tailLines"]) :])
        if "limitBytes" in query:
            data = data[: int(query["limitBytes"])]
        return data

    def _watch(
        self, handler: BaseHTTPRequestHandler, parts: list[str], query: dict[str, str]
    ) -> None:
        """A watch: the matching objects as ADDED (from resourceVersion 0 or none), then each
        change, one JSON event a line, until timeoutSeconds."""
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = rest[1] if rest[:1] == ["namespaces"] else None
        resource = rest[2] if namespace is not None else rest[0]
        store = self._store("v1" if parts[0] == "api" else "batch/v1", resource)
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 30)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def send(event: Obj) -> None:
            line = json.dumps(event).encode() + b"\n"
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()

        with self.lock:
            since = int(query.get("resourceVersion") or 0)
            if since == 0:
                for obj in store.values():
                    if self._matches(obj, namespace, query):
                        send({"type": "ADDED", "object": obj})
                since = self._rv
        try:
            while time.monotonic() < deadline and not self._stopping.is_set():
                with self.lock:
                    fresh = [e for e in self.events if e[0] > since and e[1] == resource]
                    if not fresh:
                        self.changed.wait(timeout=0.5)
                        continue
                for rv, _, kind, obj in fresh:
                    since = rv
                    if self._matches(obj, namespace, query):
                        send({"type": kind, "object": obj})
            handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ---- controllers ----

    def _start_job(self, namespace: str, job: Obj) -> None:
        meta = job["metadata"]
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        template = json.loads(json.dumps(job["spec"]["template"]))
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels |= {
            "job-name": meta["name"],
            "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": meta["uid"],
            "batch.kubernetes.io/controller-uid": meta["uid"],
        }
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name']}-{suffix}",
                "labels": labels,
                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending", "conditions": []},
        }
        self._new_meta(pod, namespace)
        self.pods[(namespace, pod["metadata"]["name"])] = pod
        self._stamp(pod, "pods", "ADDED")
        job["status"] = {"active": 1, "startTime": now()}
        self._times[meta["uid"]] = [time.monotonic(), 0.0]
        self._stamp(job, "jobs", "MODIFIED")

    def _controllers(self) -> None:
        """The scheduler and the Job controller: a pass whenever anything changed (every change
        is stamped with a new resourceVersion), and when what only time moves falls due (the
        next active deadline, or TTL after finishing). A pass reads every pod and Job: run 20
        times a second over thousands of them, it kept a core busy."""
        seen_rv = -1
        while not self._stopping.is_set():
            try:
                with self.lock:
                    if self._rv != seen_rv or time.monotonic() >= self._due:
                        seen_rv = self._rv
                        self._schedule()
                        self._sync_jobs()
            except Exception as error:  # a controller must not die with the test running
                print(f"kubeapi controller: {error!r}")
            time.sleep(0.05)

    def _requests(self, pod: Obj) -> dict[str, Decimal]:
        def of(container: Mapping[str, Any]) -> dict[str, Decimal]:
            res = container.get("resources") or {}
            req = dict(res.get("limits") or {}) | dict(res.get("requests") or {})
            return {k: quantity(v) or Decimal(0) for k, v in req.items()}

        total: dict[str, Decimal] = {}
        for container in pod["spec"]["containers"]:
            for k, v in of(container).items():
                total[k] = total.get(k, Decimal(0)) + v
        for container in pod["spec"].get("initContainers") or []:
            for k, v in of(container).items():
                total[k] = max(total.get(k, Decimal(0)), v)
        return total

    def _fits(self, pod: Obj, node_obj: Obj) -> str | None:
        """Why the node cannot take the pod (the scheduler's words), or None."""
        spec, meta = pod["spec"], node_obj["metadata"]
        labels = meta.get("labels") or {}
        status = node_obj.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        if not ready:
            return "node(s) were not ready"
        if (node_obj.get("spec") or {}).get("unschedulable"):
            return "node(s) were unschedulable"
        selector = spec.get("nodeSelector") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return "node(s) didn't match Pod's node affinity/selector"
        required = (
            ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
            or {}
        ).get("nodeSelectorTerms")
        if required and not any(
            all(_expression(e, labels.get(e["key"])) for e in t.get("matchExpressions") or [])
            and all(
                _expression(e, meta["name"] if e["key"] == "metadata.name" else None)
                for e in t.get("matchFields") or []
            )
            for t in required
        ):
            return "node(s) didn't match Pod's node affinity/selector"
        tolerations = spec.get("tolerations") or []
        for taint in (node_obj.get("spec") or {}).get("taints") or []:
            if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                continue
            if not any(_tolerates(t, taint) for t in tolerations):
                shown = f"{taint['key']}" + (f": {taint['value']}" if taint.get("value") else "")
                return f"node(s) had untolerated taint {{{shown}}}"
        allocatable = {
            k: quantity(v) or Decimal(0) for k, v in (status.get("allocatable") or {}).items()
        }
        used = self._used.get(meta["name"], {})
        for resource, wanted in sorted(self._requests(pod).items()):
            if wanted and used.get(resource, Decimal(0)) + wanted > allocatable.get(
                resource, Decimal(0)
            ):
                return f"Insufficient {resource}"
        return None

    def _schedule(self) -> None:
        waiting = [
            (key, pod)
            for key, pod in self.pods.items()
            if not pod["spec"].get("nodeName") and pod["status"].get("phase") == "Pending"
        ]
        if not waiting:
            return
        # What the bound pods that have not ended request, by node: once per pass.
        self._used = {}
        for other in self.pods.values():
            bound = other["spec"].get("nodeName")
            if not bound or other["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            used = self._used.setdefault(bound, {})
            for k, v in self._requests(other).items():
                used[k] = used.get(k, Decimal(0)) + v
        for (namespace, name), pod in waiting:
            reasons: Counter[str] = Counter()
            chosen = None
            for node_obj in self.nodes.values():
                why = self._fits(pod, node_obj)
                if why is None:
                    chosen = node_obj["metadata"]["name"]
                    break
                reasons[why] += 1
            conditions = [c for c in pod["status"]["conditions"] if c["type"] != "PodScheduled"]
            if chosen is None:
                detail = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
                message = f"0/{len(self.nodes)} nodes are available: {detail}."
                old = next(
                    (c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"), {}
                )
                if old.get("message") != message:
                    conditions.append(
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": message,
                            "lastTransitionTime": now(),
                        }
                    )
                    pod["status"]["conditions"] = conditions
                    self._stamp(pod, "pods", "MODIFIED")
                continue
            pod["spec"]["nodeName"] = chosen
            used = self._used.setdefault(chosen, {})
            for k, v in self._requests(pod).items():
                used[k] = used.get(k, Decimal(0)) + v
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()}
            )
            pod["status"].update(conditions=conditions, startTime=now(), hostIP="127.0.0.1")
            self._stamp(pod, "pods", "MODIFIED")
            if self.run_containers:
                threading.Thread(target=self._kubelet, args=(namespace, name), daemon=True).start()
            else:
                pod["status"]["phase"] = "Running"
                self._stamp(pod, "pods", "MODIFIED")

    def _sync_jobs(self) -> None:
        self._due = float("inf")  # when a Job's deadline or TTL next falls due
        by_owner: dict[str, list[Obj]] = {}
        for pod in self.pods.values():
            owner = pod["metadata"]["labels"].get("controller-uid")
            if owner:
                by_owner.setdefault(owner, []).append(pod)
        for (namespace, name), job in list(self.jobs.items()):
            status = job["status"]
            spec = job["spec"]
            finished = status.get("completionTime") or any(
                c.get("type") == "Failed" for c in status.get("conditions") or []
            )
            if finished:
                ttl = spec.get("ttlSecondsAfterFinished")
                ended = self._times.get(job["metadata"]["uid"], [0.0, 0.0])[1]
                if ttl is not None and time.monotonic() - ended > ttl:
                    self._delete(self.jobs, "jobs", namespace, name, "Background")
                elif ttl is not None:
                    self._due = min(self._due, ended + ttl)
                continue
            pods = by_owner.get(job["metadata"]["uid"], [])
            deadline = spec.get("activeDeadlineSeconds")
            started = self._times.get(job["metadata"]["uid"], [time.monotonic(), 0.0])[0]
            if deadline is not None and time.monotonic() - started > deadline:
                for pod in pods:
                    self._stop_pod(namespace, pod["metadata"]["name"])
                    pod["status"]["phase"] = "Failed"
                    pod["status"]["reason"] = "DeadlineExceeded"
                    self._stamp(pod, "pods", "MODIFIED")
                self._end_job(
                    job, False, "DeadlineExceeded", "Job was active longer than specified deadline"
                )
                continue
            if deadline is not None:
                self._due = min(self._due, started + deadline)
            phases = [p["status"].get("phase") for p in pods]
            if "Succeeded" in phases:
                status.update(succeeded=1, active=0)
                self._end_job(job, True, "Completed", "Reached expected number of succeeded pods")
            elif "Failed" in phases:
                status.update(failed=1, active=0)
                self._end_job(
                    job,
                    False,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )

    def _end_job(self, job: Obj, ok: bool, reason: str, message: str) -> None:
        status = job["status"]
        self._times.setdefault(job["metadata"]["uid"], [time.monotonic(), 0.0])[1] = (
            time.monotonic()
        )
        status["active"] = 0
        kinds = ["SuccessCriteriaMet", "Complete"] if ok else ["FailureTarget", "Failed"]
        status["conditions"] = [
            {
                "type": kind,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastProbeTime": now(),
                "lastTransitionTime": now(),
            }
            for kind in kinds
        ]
        if ok:
            status["completionTime"] = now()
        self._stamp(job, "jobs", "MODIFIED")

    # ---- the kubelet ----

    def _update(self, namespace: str, name: str, change: Callable[[Obj], None]) -> bool:
        with self.lock:
            pod = self.pods.get((namespace, name))
            if pod is None:
                return False
            change(pod)
            self._stamp(pod, "pods", "MODIFIED")
            return True

    def _kubelet(self, namespace: str, name: str) -> None:
        with self.lock:
            pod = json.loads(json.dumps(self.pods[(namespace, name)]))
        spec = pod["spec"]
        inits, mains = spec.get("initContainers") or [], spec["containers"]
        waiting = {"waiting": {"reason": "PodInitializing"}}

        def statuses(group: list[Obj], state: Obj) -> list[Obj]:
            return [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "ready": False,
                    "restartCount": 0,
                    "imageID": "",
                    "state": state,
                }
                for c in group
            ]

        self._update(
            namespace,
            name,
            lambda p: p["status"].update(
                initContainerStatuses=statuses(inits, waiting),
                containerStatuses=statuses(mains, waiting),
            ),
        )
        # Images are pulled as each container's turn comes (the init containers' first), so a
        # main container's missing image waits after the init containers have run.
        missing = next((c["image"] for c in inits if c["image"] in self.missing_images), None)
        if missing is not None:
            self._image_backoff(namespace, name, missing, True)
            return
        folder = os.path.join(self._root, f"{namespace}-{name}")
        volumes = self._volumes(namespace, name, spec, folder)
        if volumes is None:
            return
        for index, container in enumerate(inits):
            code = self._run_container(namespace, name, container, volumes, folder, index, True)
            if code is None:
                return
            if code != 0:
                self._update(namespace, name, lambda p: p["status"].update(phase="Failed"))
                return
        missing = next((c["image"] for c in mains if c["image"] in self.missing_images), None)
        if missing is not None:
            self._image_backoff(namespace, name, missing, False)
            return
        self._update(namespace, name, lambda p: p["status"].update(phase="Running"))
        codes = []
        for index, container in enumerate(mains):
            code = self._run_container(namespace, name, container, volumes, folder, index, False)
            if code is None:
                return
            codes.append(code)
        phase = "Succeeded" if all(c == 0 for c in codes) else "Failed"
        self._update(namespace, name, lambda p: p["status"].update(phase=phase))

    def _image_backoff(self, namespace: str, name: str, image: str, init: bool) -> None:
        key = "initContainerStatuses" if init else "containerStatuses"
        for reason in ("ErrImagePull", "ImagePullBackOff"):
            message = (
                f'Back-off pulling image "{image}"'
                if reason == "ImagePullBackOff"
                else f'rpc error: failed to pull and unpack image "{image}": not found'
            )

            def change(p: Obj, reason: str = reason, message: str = message) -> None:
                for status in p["status"][key]:
                    if status["image"] == image:
                        status["state"] = {"waiting": {"reason": reason, "message": message}}

            if not self._update(namespace, name, change):
                return
            time.sleep(0.3)

    def _volumes(self, namespace: str, name: str, spec: Obj, folder: str) -> dict[str, str] | None:
        """Volume name -> host folder; None when the pod went away while waiting."""
        found: dict[str, str] = {}
        for volume in spec.get("volumes") or []:
            path = os.path.join(folder, "volumes", volume["name"])
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o777)
            source = volume.get("configMap")
            if source is not None:
                deadline = time.monotonic() + 60
                while True:
                    with self.lock:
                        configmap = self.configmaps.get((namespace, source["name"]))
                        if (namespace, name) not in self.pods:
                            return None
                    if configmap is not None:
                        break
                    if time.monotonic() > deadline:
                        self._update(namespace, name, lambda p: p["status"].update(phase="Failed"))
                        return None
                    time.sleep(0.05)
                mode = int(source.get("defaultMode", 0o644))
                files = {k: v.encode() for k, v in (configmap.get("data") or {}).items()}
                files |= {
                    k: base64.b64decode(v) for k, v in (configmap.get("binaryData") or {}).items()
                }
                for key, content in files.items():
                    target = os.path.join(path, key)
                    with open(target, "wb") as handle:
                        handle.write(content)
                    os.chmod(target, mode)
            found[volume["name"]] = path
        return found

    def _run_container(
        self,
        namespace: str,
        name: str,
        container: Obj,
        volumes: Mapping[str, str],
        folder: str,
        index: int,
        init: bool,
    ) -> int | None:
        """Run one container to its end; its exit code, or None when the pod was deleted."""
        key = "initContainerStatuses" if init else "containerStatuses"
        mapping = {
            m["mountPath"].rstrip("/"): volumes[m["name"]]
            for m in container.get("volumeMounts") or []
        }
        termination_path = container.get("terminationMessagePath", "/dev/termination-log")
        termination = os.path.join(folder, f"termination-{container['name']}")
        try:
            open(termination, "w").close()
        except FileNotFoundError:  # the pod was deleted, and its folder with it
            return None
        mapping[termination_path] = termination

        def mapped(value: str) -> str:
            for mount in sorted(mapping, key=len, reverse=True):
                if value == mount or value.startswith(mount + "/"):
                    return mapping[mount] + value[len(mount) :]
            return value

        argv = [mapped(a) for a in (container.get("command") or []) + (container.get("args") or [])]
        image_path = self.images.get(container["image"], os.environ.get("PATH", os.defpath))
        env = {"PATH": image_path, "HOSTNAME": name}
        env |= {e["name"]: mapped(str(e.get("value", ""))) for e in container.get("env") or []}
        cwd = mapped(container.get("workingDir") or folder)
        log_path = os.path.join(folder, f"log-{container['name']}")
        started = now()
        try:
            log = open(log_path, "wb")
        except FileNotFoundError:
            return None
        with log:
            with self.lock:
                if (namespace, name) not in self.pods:
                    return None
                self._logs[(namespace, name, container["name"])] = log_path
                try:
                    process: subprocess.Popen[bytes] | None = subprocess.Popen(
                        argv,
                        cwd=cwd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except OSError as error:
                    process = None
                    what = argv[0] if argv else ""
                    if isinstance(error, FileNotFoundError) and "/" not in what:
                        cause = f'exec: "{what}": executable file not found in $PATH'
                    else:
                        cause = f"exec: {what}: {error.strerror}"
                    failure = (
                        "failed to create containerd task: failed to create shim task: OCI "
                        "runtime create failed: runc create failed: unable to start container "
                        f"process: {cause}: unknown"
                    )
                if process is not None:
                    self._processes[(namespace, name)] = process

            def running(p: Obj) -> None:
                p["status"][key][index]["state"] = {"running": {"startedAt": started}}

            if process is None:
                code, reason = 128, "StartError"
                message = failure
            else:
                self._update(namespace, name, running)
                code = process.wait()
                with self.lock:
                    self._processes.pop((namespace, name), None)
                    if (namespace, name) not in self.pods:
                        return None
                signalled = code < 0
                code = 128 - code if signalled else code
                reason = "Completed" if code == 0 else "Error"
                try:
                    with open(termination, "rb") as handle:
                        message = handle.read(TERMINATION_MAX).decode(errors="replace")
                    policy = container.get("terminationMessagePolicy", "File")
                    if not message and code != 0 and policy == "FallbackToLogsOnError":
                        with open(log_path, "rb") as handle:
                            lines = handle.read().splitlines(keepends=True)[-FALLBACK_LINES:]
                        tail = b"".join(lines)[-FALLBACK_BYTES:]
                        message = tail.decode(errors="replace")
                except FileNotFoundError:
                    return None  # the pod was deleted (its folder with it) as it ended

        def ended(p: Obj) -> None:
            p["status"][key][index]["state"] = {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "message": message,
                    "startedAt": started,
                    "finishedAt": now(),
                }
            }

        self._update(namespace, name, ended)
        return code

    def _stop_pod(self, namespace: str, name: str) -> None:
        process = self._processes.get((namespace, name))
        if process is not None:
            threading.Thread(target=_kill, args=(process,), daemon=True).start()


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") is None:
        return toleration.get("operator") == "Exists"
    if toleration.get("key") != taint.get("key"):
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return str(toleration.get("value", "")) == str(taint.get("value", ""))


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
